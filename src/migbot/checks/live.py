"""Checks judged from a live run's Evidence (see migbot/catalog.py for what each catches)."""

from __future__ import annotations

from migbot.checks.findings import (
    NO_NEW_REVISIONS, error_finding, live_skip_reason, load_hint, revision_file, same_failure, schema_findings,
)
from migbot.checks.reversibility import downgrade_behaviour
from migbot.checks.verdict import verdict
from migbot.config import MigbotConfig
from migbot.evidence import Evidence, Trip
from migbot.plan.changes import ProjectPlan
from migbot.report.model import CheckResult, Drift, DriftItem, Finding
from migbot.report.wording import drift_sentence
from migbot.snapshot.compare import AFTER_DOWNGRADE, AFTER_SECOND_UPGRADE


def env_loads(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    load = ev.head_load
    if load is None:
        return verdict("env-loads", config, [], skipped=ev.live_skipped or "not run")
    if not load.ok:
        finding = error_finding("loading env.py at head", load)
        finding.hint = load_hint(load, ev.interpreter.python, ev.server)
        return verdict("env-loads", config, [finding])
    info = load.result
    models = "" if info.get("has_metadata") else "; env.py sets no target_metadata, so model drift cannot be checked"
    count = len(ev.alembic.revisions) if ev.alembic else 0
    who = ev.interpreter
    ran_by = (f"; with {who.python} (Python {who.version}, SQLAlchemy {who.sqlalchemy}, Alembic {who.alembic})"
              if who.python and who.version else "")
    return verdict("env-loads", config, [],
                   passed=f"Alembic loaded {count} revision{'' if count == 1 else 's'}; {len(ev.imported_files)} "
                   f"project modules imported{models}{ran_by}")


def base_builds(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    if not ev.base_has_alembic:
        return verdict("base-builds", config, [],
                       passed="no Alembic project at the base: starting from an empty database")
    base, head = ev.base_load, ev.head_load
    if base is not None and not base.ok and head is not None and not head.ok and same_failure(base, head):
        return verdict("base-builds", config, [],
                       skipped="env.py fails to load at base just as at head (see env-loads)")
    for what, outcome in (("loading env.py at base", ev.base_load), ("the bootstrap command", ev.base_bootstrap),
                          ("alembic upgrade heads at base", ev.base_upgrade)):
        if outcome is not None and not outcome.ok:
            finding = error_finding(what, outcome)
            if outcome is ev.base_load:
                finding.hint = load_hint(outcome, ev.interpreter.python, ev.server)
            return verdict("base-builds", config, [finding])
    if ev.base_snapshot is None:
        return verdict("base-builds", config, [], skipped=ev.live_skipped or "not run")
    heads = ", ".join(ev.base_heads) or "no revision"
    return verdict("base-builds", config, [], passed=f"base built at {heads}")


def upgrade(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    if (reason := live_skip_reason(ev)) is not None:
        return verdict("upgrade", config, [], skipped=reason)
    if ev.stairway_skipped:
        # The cause (a deleted base revision, a plan Alembic refused) is reported where it belongs.
        return verdict("upgrade", config, [], skipped=ev.stairway_skipped)
    if not ev.new_revisions:
        return verdict("upgrade", config, [], passed=NO_NEW_REVISIONS)
    findings = [error_finding(f"{t.revision}: upgrade failed", t.upgrade, t.revision,
                              revision_file(plan, ev, t.revision))
                for t in ev.trips if t.upgrade is not None and not t.upgrade.ok]
    rt = ev.roundtrip
    if ev.head_upgrade is not None and not ev.head_upgrade.ok and rt.up is None and rt.up_again is None:
        # Otherwise the round trip already tried upgrading in one command and reports it.
        findings.append(error_finding("upgrade heads from the base state in one command failed", ev.head_upgrade))
    not_run = [t for t in ev.trips if t.upgrade is None]
    if not_run and not findings:
        return verdict("upgrade", config, [], skipped=f"{len(not_run)} revision{'s' if len(not_run) > 1 else ''} not "
                       f"tried: {not_run[0].skipped.get('upgrade', 'the stairway stopped')}")
    failed = findings[0].message if findings else ""
    if not_run:
        failed += f" ({len(not_run)} later revision{'s' if len(not_run) > 1 else ''} not tried)"
    n = len(ev.trips)
    return verdict("upgrade", config, findings, failed=failed,
                   passed=f"{n} new revision{'s upgrade' if n != 1 else ' upgrades'}, in Alembic's order")


def down_side_skip(plan: ProjectPlan, trip: Trip, config: MigbotConfig) -> str | None:
    """Why the checks of what a downgrade does leave this revision out: reversible-downgrades
    owns a downgrade that refuses or does nothing, and allow-irreversible may excuse it."""
    behaviour = downgrade_behaviour(trip)
    if behaviour is None:
        return None
    allowed = config.allowed_irreversible(trip.revision)
    if allowed:
        return f"{trip.revision}: allowed to be irreversible ({allowed.reason})"
    return f"{trip.revision}: its downgrade {behaviour} (see reversible-downgrades)"


def _stairway_check(check_id: str, plan: ProjectPlan, ev: Evidence, config: MigbotConfig, step: str,
                    judge) -> CheckResult:
    if (reason := live_skip_reason(ev)) is not None:
        return verdict(check_id, config, [], skipped=reason)
    if ev.stairway_skipped:
        return verdict(check_id, config, [], skipped=ev.stairway_skipped)
    if not ev.new_revisions:
        return verdict(check_id, config, [], passed=NO_NEW_REVISIONS)
    findings, ran, skipped = [], 0, []
    for trip in ev.trips:
        left_out = down_side_skip(plan, trip, config) if trip.upgrade is not None and trip.upgrade.ok else None
        if left_out is None and step in trip.skipped:
            left_out = f"{trip.revision}: {trip.skipped[step]}"
        if left_out is not None:
            skipped.append(left_out)
            continue
        ran += 1
        found = judge(trip, revision_file(plan, ev, trip.revision))
        findings += found if isinstance(found, list) else [found] if found else []
    if ran == 0:
        return verdict(check_id, config, [], skipped="; ".join(skipped))
    passed = f"{ran} revision{'s' if ran != 1 else ''} checked"
    if skipped:
        passed += f"; left out {'; '.join(skipped)}"
    return verdict(check_id, config, findings, passed=passed)


def downgrade(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    def judge(trip, file):
        if trip.downgrade is not None and not trip.downgrade.ok:
            return error_finding(f"{trip.revision}: downgrade failed", trip.downgrade, trip.revision, file)
        return None
    return _stairway_check("downgrade", plan, ev, config, "downgrade", judge)


def _catalogs_only(result: CheckResult, diffs) -> CheckResult:
    """Say so when the pg_dump backstop could not compare: the verdict rests on the catalogs alone."""
    why = next((d.unchecked for d in diffs if d is not None and d.unchecked), None)
    if why and result.status in ("pass", "warn", "fail"):
        result.summary += f" (compared from the catalogs only: {why})"
    return result


def downgrade_restores_schema(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    def judge(trip, file):
        static = plan.revision_file(trip.revision)
        return schema_findings("after downgrade the schema differs from before the upgrade", trip.restored,
                               trip.revision, file, AFTER_DOWNGRADE,
                               line=static.downgrade_line if static is not None and static.path == file else None)
    return _catalogs_only(_stairway_check("downgrade-restores-schema", plan, ev, config, "restored", judge),
                          [t.restored for t in ev.trips])


def reupgrade(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    def judge(trip, file):
        if trip.reupgrade is not None and not trip.reupgrade.ok:
            return error_finding(f"{trip.revision}: upgrading again after the downgrade failed", trip.reupgrade,
                                 trip.revision, file)
        return schema_findings("the second upgrade gives a different schema than the first", trip.reupgraded,
                               trip.revision, file, AFTER_SECOND_UPGRADE)
    return _catalogs_only(_stairway_check("reupgrade", plan, ev, config, "reupgrade", judge),
                          [t.reupgraded for t in ev.trips])


def roundtrip(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    if (reason := live_skip_reason(ev)) is not None:
        return verdict("roundtrip", config, [], skipped=reason)
    rt = ev.roundtrip
    if not ev.new_revisions and not ev.stairway_skipped:
        return verdict("roundtrip", config, [], passed=NO_NEW_REVISIONS)
    if rt.skipped:
        return verdict("roundtrip", config, [], skipped=rt.skipped)
    base = f"base heads ({', '.join(ev.base_heads)})" if ev.base_heads else "base (an empty database)"
    findings = []
    if rt.up is not None and not rt.up.ok:
        findings.append(error_finding("upgrade heads from the base state failed", rt.up))
    if rt.down is not None and not rt.down.ok:
        findings.append(error_finding(f"going down to the {base} failed", rt.down))
    if rt.down_heads is not None and rt.down_heads != sorted(ev.base_heads):
        held = ", ".join(rt.down_heads) or "nothing"
        findings.append(Finding(message=f"after going down, alembic_version holds {held}, not the {base}"))
    findings += schema_findings(f"after going down to the {base} the schema differs from the base", rt.down_diff,
                                None, None, AFTER_DOWNGRADE)
    if rt.up_again is not None and not rt.up_again.ok:
        findings.append(error_finding("upgrading to heads again failed", rt.up_again))
    findings += schema_findings("the second upgrade to heads gives a different schema",
                                rt.up_diff, None, None, AFTER_SECOND_UPGRADE)
    return _catalogs_only(verdict("roundtrip", config, findings,
                                  passed=f"head → {base} → head in one run each way, schema identical"),
                          [rt.down_diff, rt.up_diff])


def edited_downgrades(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    edited = [c for c in plan.revision_changes if c.change == "downgrade-edited"]
    if not edited:
        return verdict("edited-downgrades", config, [], passed="the branch edits no base revision's downgrade")
    if (reason := live_skip_reason(ev) or ev.stairway_skipped) is not None:
        return verdict("edited-downgrades", config, [], skipped=reason)
    findings, ran = [], []
    for run in ev.edited_downgrades:
        file = revision_file(plan, ev, run.revision)
        if run.skipped:
            findings.append(Finding(message=f"{run.revision}: not run: {run.skipped}", revision=run.revision,
                                    file=file, severity="warning"))
            continue
        path = " → ".join(run.unapplied)
        if run.down is not None and not run.down.ok:
            findings.append(error_finding(f"{run.revision}: the edited downgrade failed going down ({path})", run.down,
                                          run.revision, file))
        elif run.up is not None and not run.up.ok:
            findings.append(error_finding(f"{run.revision}: upgrading again after the edited downgrade failed", run.up,
                                          run.revision, file))
        else:
            findings += schema_findings("after the edited downgrade and the upgrade again, the schema differs from "
                                        "the base", run.restored, run.revision, file, AFTER_SECOND_UPGRADE)
            if run.restored is None or not run.restored.structural:
                ran.append(f"{run.revision} (down {path}, and up again)")
    return _catalogs_only(verdict("edited-downgrades", config, findings,
                                  passed="ran with the branch's code, schema restored: " + ", ".join(ran)),
                          [run.restored for run in ev.edited_downgrades])


def revisions_loaded(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    if ev.alembic is None:
        return verdict("revisions-loaded", config, [], skipped=live_skip_reason(ev) or "Alembic's map was not read")
    findings = [Finding(message=f"{path} reads like a revision file, and the branch adds or changes it, but no "
                        "Alembic history in the repository loads it", file=path)
                for path in ev.unloaded_revision_files]
    for folder, paths in sorted(ev.unverified_histories.items()):
        n = len(paths)
        findings.append(Finding(
            message=f"`{folder}` holds revisions that no history migbot ran loads (env.py chose other version "
            f"locations: a history for another database or dialect?), so the branch's {n} changed file"
            f"{'s' if n != 1 else ''} there {'are' if n != 1 else 'is'} not verified: " + ", ".join(paths),
            file=paths[0], severity="warning",
            hint="If that history runs on PostgreSQL too, give it an ini of its own (or name it in alembic-ini)."))
    new = [c for c in plan.revision_changes if c.change == "added"]
    planned = ev.base_snapshot is not None and ev.plan_error is None and not ev.stairway_skipped
    if not findings and planned and not ev.new_revisions and new:
        findings.append(Finding(message=f"the branch adds {len(new)} revision file{'s' if len(new) != 1 else ''}, but "
                                "Alembic applies no new revision from the base heads", file=new[0].path))
    n = len(ev.alembic.revisions)
    return verdict("revisions-loaded", config, findings,
                   passed=f"Alembic loads {n} revision{'' if n == 1 else 's'} from "
                   + (", ".join(f"`{d or '.'}`" for d in ev.alembic.version_dirs) or "its script location")
                   + (f"; the branch's {len(plan.revision_like_changes)} changed revision file"
                      f"{'s are' if len(plan.revision_like_changes) != 1 else ' is'} among them"
                      if plan.revision_like_changes else ""))


def classify_drift(ev: Evidence) -> Drift:
    head = ev.head_drift
    if head is None:
        return Drift(checked=False, note=ev.live_skipped or "the database could not be brought to head")
    if not head.ok:
        return Drift(checked=False, note=f"compare_metadata failed at head: {head.error.message}")
    if not head.result.get("has_metadata"):
        return Drift(checked=False, note="env.py sets no target_metadata")
    if head.result.get("tables") == 0 and ev.head_snapshot is not None and ev.head_snapshot.get("table"):
        return Drift(checked=False, note="env.py's target_metadata holds no tables while the database has some: "
                     "env.py does not import the models, so there is nothing to compare them with")
    head_items = {d["key"]: _drift_item(d) for d in head.result["facts"]}
    base_items: dict[str, DriftItem] = {}
    note = ""
    if ev.base_drift is not None and ev.base_drift.ok and ev.base_drift.result.get("has_metadata"):
        base_items = {d["key"]: _drift_item(d) for d in ev.base_drift.result["facts"]}
    elif ev.base_has_alembic:
        note = "drift at base unknown (" + (
            ev.base_drift.error.message if ev.base_drift is not None and ev.base_drift.error
            else "base sets no target_metadata") + "): all drift at head counts as introduced"
    return Drift(
        checked=True,
        note=note,
        introduced=_in_order(item for key, item in head_items.items() if key not in base_items),
        existing=_in_order(item for key, item in head_items.items() if key in base_items),
        fixed=_in_order(item for key, item in base_items.items() if key not in head_items),
    )


def _in_order(items) -> list[DriftItem]:
    """By table, then kind and object: Alembic's comparison yields them in set order, which
    changes from one run to the next."""
    return sorted(items, key=lambda item: (item.table or "", item.kind, item.object or "", item.text))


def model_drift(plan: ProjectPlan, ev: Evidence, config: MigbotConfig, drift: Drift) -> CheckResult:
    if (reason := live_skip_reason(ev)) is not None:
        return verdict("model-drift", config, [], skipped=reason)
    if not drift.checked:
        if ev.head_drift is not None and not ev.head_drift.ok:
            return verdict("model-drift", config, [error_finding("comparing the models with the database at head",
                                                                 ev.head_drift)])
        return verdict("model-drift", config, [], skipped=drift.note)
    findings = [Finding(message=item.text) for item in drift.introduced]
    extra = []
    if drift.existing:
        extra.append(f"{len(drift.existing)} already at base")
    if drift.fixed:
        extra.append(f"{len(drift.fixed)} fixed by this branch")
    if ev.drift_in_fresh_worker:
        extra.append("compared in a fresh worker: a migration changed the models' metadata in memory")
    tail = f" ({'; '.join(extra)})" if extra else ""
    n = len(drift.introduced)
    return verdict("model-drift", config, findings,
                   passed=f"the branch introduces no drift{tail}",
                   failed=f"the branch introduces {n} difference{'s' if n != 1 else ''} between models and "
                   f"database{tail}")


def _drift_item(fact: dict) -> DriftItem:
    return DriftItem(kind=fact["kind"], table=fact.get("table"), object=fact.get("object"), text=drift_sentence(fact),
                     key=fact["key"])
