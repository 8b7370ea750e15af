"""Checks that read the revision files only (see catalog.py for what each catches)."""

from __future__ import annotations

from migbot.checks.verdict import verdict
from migbot.config import MigbotConfig
from migbot.plan.changes import ProjectPlan
from migbot.report.model import CheckResult, Finding


def revision_syntax(plan: ProjectPlan, config: MigbotConfig) -> CheckResult:
    findings = [
        Finding(message=f"syntax error: {f.syntax_error}", file=f.path, line=f.syntax_error_line)
        for f in plan.head.files if f.syntax_error
    ]
    return verdict("revision-syntax", config, findings, passed=f"{len(plan.head.files)} revision files parse")


def unique_revision_ids(plan: ProjectPlan, config: MigbotConfig) -> CheckResult:
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


def down_revisions_exist(plan: ProjectPlan, config: MigbotConfig) -> CheckResult:
    findings = [
        Finding(message=f"{rev.revision}: {field} {parent!r} is not the id of any revision",
                revision=rev.revision, file=rev.path, line=rev.down_revision_line if field == "down_revision" else None)
        for rev, parent, field in plan.head.graph.missing_parents()
    ]
    return verdict("down-revisions-exist", config, findings, passed="every down_revision exists")


def _describe_heads(plan: ProjectPlan, heads: list[str]) -> list[Finding]:
    graph = plan.after_merge
    return [Finding(message=f"head {h}", revision=h, file=graph.by_id[h].path,
                    line=graph.by_id[h].down_revision_line) for h in heads if h in graph.by_id]


def single_head(plan: ProjectPlan, config: MigbotConfig) -> CheckResult:
    heads = plan.head.graph.heads()
    allowed = max(1, len(plan.merge_base.graph.heads()))
    if len(heads) <= allowed:
        return verdict("single-head", config, [], passed=f"head: {', '.join(heads) or 'no revisions'}")
    findings = _describe_heads(plan, heads)
    return verdict("single-head", config, findings,
                   failed=f"the branch has {len(heads)} heads ({', '.join(heads)}); the base had {allowed}")


def single_head_after_merge(plan: ProjectPlan, config: MigbotConfig) -> CheckResult:
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


def base_migrations_unchanged(plan: ProjectPlan, config: MigbotConfig) -> CheckResult:
    findings = []
    reformatted = 0
    for change in plan.revision_changes:
        if change.change == "modified":
            findings.append(Finding(
                message=f"{change.revision.revision} exists on the base branch and was edited",
                revision=change.revision.revision, file=change.path, line=change.first_changed_line))
        elif change.change == "deleted":
            findings.append(Finding(
                message=f"{change.revision.revision} exists on the base branch and was deleted",
                revision=change.revision.revision, file=change.path))
        elif change.change == "reformatted":
            reformatted += 1
    note = f"; {reformatted} reformatted without code changes" if reformatted else ""
    return verdict("base-migrations-unchanged", config, findings,
                   passed=f"no base revision was edited{note}")


def reversible_downgrades(plan: ProjectPlan, config: MigbotConfig) -> CheckResult:
    findings, allowed = [], []
    how = {"empty": "is empty", "not-implemented": "raises NotImplementedError", "raises": "only raises an exception",
           "missing": "is missing"}
    for change in plan.revision_changes:
        rev = change.new
        if change.change != "added" or rev is None or not rev.irreversible:
            continue
        exemption = config.allowed_irreversible(rev.revision or "")
        if exemption:
            allowed.append(f"{rev.revision} ({exemption.reason})")
            continue
        findings.append(Finding(message=f"{rev.revision}: downgrade() {how[rev.downgrade]}", revision=rev.revision,
                                file=rev.path, line=rev.downgrade_line or rev.revision_line))
    passed = "every new revision has a downgrade"
    if allowed:
        passed += "; allowed to be irreversible: " + ", ".join(allowed)
    return verdict("reversible-downgrades", config, findings, passed=passed)


STATIC_CHECKS = (revision_syntax, unique_revision_ids, down_revisions_exist, single_head, single_head_after_merge,
                 base_migrations_unchanged, reversible_downgrades)
# These read the revision graph or every new file: one unreadable file makes them guesswork.
NEEDS_EVERY_FILE = {"unique-revision-ids", "down-revisions-exist", "single-head", "single-head-after-merge",
                    "reversible-downgrades"}


def run_static_checks(plan: ProjectPlan, config: MigbotConfig) -> list[CheckResult]:
    unreadable = [f.path for f in plan.head.files if f.syntax_error]
    results = []
    for check in STATIC_CHECKS:
        result = check(plan, config)
        if unreadable and result.id in NEEDS_EVERY_FILE and result.status != "off":
            shown = ", ".join(unreadable[:3]) + (f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else "")
            result = verdict(result.id, config, [], skipped=f"{shown} cannot be parsed (see revision-syntax)")
        results.append(result)
    return results
