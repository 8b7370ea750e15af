"""Checks that read the revision files (see migbot/catalog.py for what each catches). They run
without executing anything; where the live run read Alembic's own map, its heads win."""

from __future__ import annotations

from migbot.checks.verdict import verdict
from migbot.config import MigbotConfig
from migbot.evidence import Evidence
from migbot.plan.changes import ProjectPlan
from migbot.report.model import CheckResult, Finding


def revision_syntax(plan: ProjectPlan, config: MigbotConfig, ev: Evidence | None = None) -> CheckResult:
    findings = [
        Finding(message=f"syntax error: {f.syntax_error}", file=f.path, line=f.syntax_error_line)
        for f in plan.head.files if f.syntax_error
    ]
    if not plan.head.files:
        return verdict("revision-syntax", config, [], skipped="the project has no revision files at head")
    n = len(plan.head.files)
    return verdict("revision-syntax", config, findings, passed=f"{n} revision file{'s parse' if n != 1 else ' parses'}")


def unique_revision_ids(plan: ProjectPlan, config: MigbotConfig, ev: Evidence | None = None) -> CheckResult:
    findings = []
    for rev_id, files in plan.head.graph.duplicates.items():
        paths = ", ".join(f.path for f in files)
        findings.append(Finding(message=f"revision id {rev_id} is declared by {len(files)} files: {paths}",
                                revision=rev_id, file=files[-1].path, line=files[-1].revision_line))
    head_paths = {f.revision: f for f in plan.head.files if f.revision}
    for rev_id, tip_file in plan.base_tip.graph.by_id.items():
        ours = head_paths.get(rev_id)
        if ours and ours.path != tip_file.path and rev_id not in plan.merge_base.graph.by_id:
            findings.append(Finding(
                message=f"revision id {rev_id} of {ours.path} is also used by {tip_file.path} on the base branch",
                revision=rev_id, file=ours.path, line=ours.revision_line))
    return verdict("unique-revision-ids", config, findings, passed="every revision id is unique")


def down_revisions_exist(plan: ProjectPlan, config: MigbotConfig, ev: Evidence | None = None) -> CheckResult:
    findings = [
        Finding(message=f"{rev.revision}: {field} {parent!r} is not the id of any revision",
                revision=rev.revision, file=rev.path, line=rev.down_revision_line if field == "down_revision" else None)
        for rev, parent, field in plan.head.graph.missing_parents()
    ]
    if ev is not None and ev.alembic is not None:
        # Alembic built its map, so every link resolved: a parent computed at import time, say.
        disagreed = f" (migbot's reading of the files could not follow {len(findings)} of them; Alembic wins)" \
            if findings else ""
        return verdict("down-revisions-exist", config, [],
                       passed=f"Alembic resolves every down_revision and depends_on{disagreed}")
    return verdict("down-revisions-exist", config, findings, passed="every down_revision exists")


def _describe_heads(plan: ProjectPlan, heads: list[str], ev: Evidence | None = None) -> list[Finding]:
    """One finding per head, at its file: the static reading's, else Alembic's."""
    graph, live = plan.after_merge, (ev.alembic.revisions if ev is not None and ev.alembic is not None else {})
    findings = []
    for head in heads:
        static = graph.by_id.get(head)
        path = static.path if static else (live[head].path if head in live else None)
        findings.append(Finding(message=f"head {head}", revision=head, file=path,
                                line=static.down_revision_line if static else None))
    return findings


def single_head(plan: ProjectPlan, config: MigbotConfig, ev: Evidence | None = None) -> CheckResult:
    live = ev is not None and ev.alembic is not None
    heads = sorted(ev.alembic.heads) if live else plan.head.graph.heads()
    base_heads = sorted(ev.base_map.heads) if live and ev.base_map is not None else plan.merge_base.graph.heads()
    allowed = max(1, len(base_heads))
    source = " in Alembic's map" if live else ""
    if len(heads) <= allowed:
        return verdict("single-head", config, [], passed=f"head{source}: {', '.join(heads) or 'no revisions'}")
    findings = _describe_heads(plan, heads, ev)
    return verdict("single-head", config, findings,
                   failed=f"the branch has {len(heads)} heads ({', '.join(heads)}){source}; the base had {allowed}")


def single_head_after_merge(plan: ProjectPlan, config: MigbotConfig, ev: Evidence | None = None) -> CheckResult:
    if plan.base_tip.commit == plan.merge_base.commit:
        return verdict("single-head-after-merge", config, [],
                       passed="the base branch has not moved since this branch was cut")
    merged = plan.after_merge.heads()
    allowed = max(1, len(plan.base_tip.graph.heads()), len(plan.head.graph.heads()))
    if len(merged) <= allowed:
        return verdict("single-head-after-merge", config, [], passed=f"after merge: {', '.join(merged)}")
    tip_heads = ", ".join(plan.base_tip.graph.heads())
    return verdict(
        "single-head-after-merge", config, _describe_heads(plan, merged),
        failed=f"merging into {plan.base_tip.commit[:12]} would leave {len(merged)} heads ({', '.join(merged)}): "
        f"the base branch has moved on to {tip_heads} since this branch was cut",
    )


def base_migrations_unchanged(plan: ProjectPlan, config: MigbotConfig, ev: Evidence | None = None) -> CheckResult:
    findings = []
    cosmetic = 0
    for change in plan.revision_changes:
        rev = change.revision
        where = dict(revision=rev.revision, file=change.path)
        if change.change == "modified":
            what = ", ".join(_part_name(p) for p in change.changed_parts) or "its code"
            findings.append(Finding(
                message=f"{rev.revision} exists on the base branch, and the branch changes {what}",
                line=change.first_changed_line,
                hint="Databases that already ran it never run the new version: revert the edit, and make the change "
                "in a new revision (`alembic revision`).", **where))
        elif change.change == "downgrade-edited":
            findings.append(Finding(
                message=f"{rev.revision} exists on the base branch, and the branch edits only its downgrade()",
                line=change.first_changed_line, severity="warning",
                hint="Fixing a downgrade is legitimate: databases that applied it run the new one when they roll back. "
                "migbot ran it (see edited-downgrades).", **where))
        elif change.change == "deleted":
            findings.append(Finding(
                message=f"{rev.revision} exists on the base branch and was deleted",
                hint="Databases at this revision can no longer be upgraded or downgraded past it: restore the file.",
                **where))
        elif change.change == "reformatted":
            cosmetic += 1
    note = f"; {cosmetic} changed in comments, docstrings, annotations, imports or formatting only" if cosmetic else ""
    return verdict("base-migrations-unchanged", config, findings,
                   passed=f"no base revision was edited{note}")


def _part_name(part: str) -> str:
    """A meaning part as a reader names it: upgrade(), down_revision, module-level code."""
    if part.startswith("def "):
        return part[4:] + "()"
    return part.rstrip(" =") if part.endswith(" =") else "module-level code"


STATIC_CHECKS = (revision_syntax, unique_revision_ids, down_revisions_exist, single_head, single_head_after_merge,
                 base_migrations_unchanged)
# These read the revision graph or every new file: one unreadable file makes them guesswork.
NEEDS_EVERY_FILE = {"unique-revision-ids", "down-revisions-exist", "single-head", "single-head-after-merge"}


def run_static_checks(plan: ProjectPlan, config: MigbotConfig, ev: Evidence | None = None) -> list[CheckResult]:
    if not plan.head.files and (ev is None or ev.alembic is None):
        # Nothing where migbot read the config, and Alembic was never asked: no check looked.
        why = f" ({ev.live_skipped})" if ev is not None and ev.live_skipped else ""
        reason = f"migbot finds no revision files where it read the config, and Alembic's own map was not read{why}"
        return [verdict(check(plan, config, ev).id, config, [], skipped=reason) for check in STATIC_CHECKS]
    unreadable = [f.path for f in plan.head.files if f.syntax_error]
    results = []
    for check in STATIC_CHECKS:
        result = check(plan, config, ev)
        if unreadable and result.id in NEEDS_EVERY_FILE and result.status != "off":
            shown = ", ".join(unreadable[:3]) + (f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else "")
            result = verdict(result.id, config, [], skipped=f"{shown} cannot be parsed (see revision-syntax)")
        results.append(result)
    return results
