"""Checks judged from a live run's Evidence (see catalog.py for what each catches)."""

from __future__ import annotations

from migbot.checks.verdict import verdict
from migbot.config import MigbotConfig
from migbot.plan.changes import ProjectPlan
from migbot.report.model import CheckResult, Drift, DriftItem, Finding
from migbot.run.client import StepOutcome
from migbot.run.stairway import Evidence
from migbot.snapshot.compare import AFTER_DOWNGRADE, AFTER_SECOND_UPGRADE, SchemaDiff

MAX_DIFF_LINES = 25


def error_finding(what: str, outcome: StepOutcome, revision: str | None = None, file: str | None = None) -> Finding:
    err = outcome.error
    assert err is not None
    if err.kind in ("timeout", "crash", "wrong-database"):
        text = err.message
    else:
        text = f"{err.type}: {err.message}"
    details = [err.traceback.strip()] if err.traceback and err.kind not in ("wrong-database",) else []
    return Finding(message=f"{what}: {text}", revision=err.revision or revision, file=err.file or file,
                   line=err.line if err.file else None, details=details)


def load_hint(outcome: StepOutcome, interpreter: str) -> str | None:
    """Advice for a failure to load env.py and the models, by what the error says."""
    err = outcome.error
    if err is None or err.kind in ("wrong-database", "crash"):
        return None
    text = f"{err.type}: {err.message}"
    if err.kind == "timeout":
        return "Importing the app or connecting hung: check that env.py does not wait for a service migbot does not start."
    if err.type in ("ModuleNotFoundError", "ImportError"):
        return (f"A module could not be imported with {interpreter or 'the project interpreter'}. If it is a "
                "dependency, point `python` in [tool.migbot] at your project's virtualenv; if it is your own "
                "package, add its folder to `sys-path`.")
    if "validation error" in text and ("Field required" in text or "Input should" in text):
        return ("Your settings class rejected the environment migbot gave it. Give the variables it needs "
                "values with the `env` table in [tool.migbot], e.g. env = { SECRET_KEY = \"ci-only\" }.")
    if err.type == "SyntaxError":
        return "Fix the syntax error at the location shown (revision-syntax lists every file that does not parse)."
    if "is not present" in err.message or err.type in ("KeyError", "RevisionError", "ResolutionError"):
        return "A down_revision points at a revision that does not exist (see down-revisions-exist)."
    if err.type == "OperationalError":
        return "env.py could not talk to the database: it should build its URL from sqlalchemy.url or DATABASE_URL."
    return None


def _diff_finding(message: str, diff: SchemaDiff, revision: str | None, file: str | None,
                  verbs: dict[str, str]) -> Finding:
    return Finding(message=message, revision=revision, file=file, details=diff.lines(limit=MAX_DIFF_LINES, verbs=verbs))


def revision_file(plan: ProjectPlan, ev: Evidence, revision: str) -> str | None:
    static = plan.revision_file(revision)
    if static is not None:
        return static.path
    live = ev.head_graph.by_id.get(revision) if ev.head_graph else None
    return live.path if live else None


def env_loads(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    load = ev.head_load
    if load is None:
        return verdict("env-loads", config, [], skipped=ev.live_skipped or "not run")
    if not load.ok:
        finding = error_finding("loading env.py at head", load)
        finding.hint = load_hint(load, ev.interpreter)
        return verdict("env-loads", config, [finding])
    info = load.result
    models = "" if info.get("has_metadata") else "; env.py sets no target_metadata, so model drift cannot be checked"
    return verdict("env-loads", config, [],
                   passed=f"{len(info.get('revisions', []))} revisions and {len(ev.imported_files)} project modules "
                   f"loaded in {load.seconds:.1f} s{models}")


def base_builds(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    if not ev.base_has_alembic:
        return verdict("base-builds", config, [], passed="no Alembic project at the base: starting from an empty database")
    base, head = ev.base_load, ev.head_load
    if base is not None and not base.ok and head is not None and not head.ok and same_failure(base, head):
        return verdict("base-builds", config, [], skipped="env.py fails to load at base just as at head (see env-loads)")
    for what, outcome in (("loading env.py at base", ev.base_load), ("the bootstrap command", ev.base_bootstrap),
                          ("alembic upgrade heads at base", ev.base_upgrade)):
        if outcome is not None and not outcome.ok:
            finding = error_finding(what, outcome)
            if outcome is ev.base_load:
                finding.hint = load_hint(outcome, ev.interpreter)
            return verdict("base-builds", config, [finding])
    if ev.base_snapshot is None:
        return verdict("base-builds", config, [], skipped=ev.live_skipped or "not run")
    heads = ", ".join(ev.base_heads) or "no revision"
    seconds = sum(o.seconds for o in (ev.base_bootstrap, ev.base_upgrade) if o is not None)
    return verdict("base-builds", config, [], passed=f"base built at {heads} in {seconds:.2f} s")


def same_failure(a: StepOutcome, b: StepOutcome) -> bool:
    """The same error in the same place (messages may echo the tree's own database name)."""
    def key(outcome: StepOutcome) -> tuple:
        err = outcome.error
        return err.type, err.file, err.line, (err.message.splitlines() or [""])[0]
    return key(a) == key(b)


def live_skip_reason(ev: Evidence) -> str | None:
    if ev.live_skipped:
        return ev.live_skipped
    if ev.head_load is None:
        return "not run"
    return None


def upgrade(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    if (reason := live_skip_reason(ev)) is not None:
        return verdict("upgrade", config, [], skipped=reason)
    if ev.stairway_skipped:
        # The cause (a deleted base revision) is base-migrations-unchanged's finding.
        return verdict("upgrade", config, [], skipped=ev.stairway_skipped)
    if not ev.new_revisions:
        return verdict("upgrade", config, [], passed="the branch adds no revisions")
    findings = [error_finding(f"{t.revision}: upgrade failed", t.upgrade, t.revision, revision_file(plan, ev, t.revision))
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
    total = sum(t.upgrade.seconds for t in ev.trips if t.upgrade is not None)
    return verdict("upgrade", config, findings, failed=failed,
                   passed=f"{len(ev.trips)} new revision{'s upgrade' if len(ev.trips) != 1 else ' upgrades'} ({total:.2f} s)")


def _stairway_check(check_id: str, plan: ProjectPlan, ev: Evidence, config: MigbotConfig, step: str,
                    judge) -> CheckResult:
    if (reason := live_skip_reason(ev)) is not None:
        return verdict(check_id, config, [], skipped=reason)
    if not ev.new_revisions:
        return verdict(check_id, config, [], passed="the branch adds no revisions")
    findings, ran, skipped = [], 0, []
    for trip in ev.trips:
        if step in trip.skipped:
            skipped.append(f"{trip.revision}: {trip.skipped[step]}")
            continue
        ran += 1
        finding = judge(trip, revision_file(plan, ev, trip.revision))
        if finding:
            findings.append(finding)
    if ran == 0:
        return verdict(check_id, config, [], skipped="; ".join(skipped))
    passed = f"{ran} revision{'s' if ran != 1 else ''} checked"
    if skipped:
        passed += f"; skipped {'; '.join(skipped)}"
    return verdict(check_id, config, findings, passed=passed)


def downgrade(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    def judge(trip, file):
        if trip.downgrade is not None and not trip.downgrade.ok:
            return error_finding(f"{trip.revision}: downgrade failed", trip.downgrade, trip.revision, file)
        return None
    return _stairway_check("downgrade", plan, ev, config, "downgrade", judge)


def downgrade_restores_schema(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    def judge(trip, file):
        if trip.restored is not None and not trip.restored.empty:
            n = len(trip.restored.changes)
            return _diff_finding(f"{trip.revision}: after downgrade the schema differs from before the upgrade "
                                 f"({n} difference{'s' if n != 1 else ''})", trip.restored, trip.revision, file,
                                 AFTER_DOWNGRADE)
        return None
    return _stairway_check("downgrade-restores-schema", plan, ev, config, "restored", judge)


def reupgrade(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    def judge(trip, file):
        if trip.reupgrade is not None and not trip.reupgrade.ok:
            return error_finding(f"{trip.revision}: upgrading again after the downgrade failed", trip.reupgrade,
                                 trip.revision, file)
        if trip.reupgraded is not None and not trip.reupgraded.empty:
            return _diff_finding(f"{trip.revision}: the second upgrade gives a different schema than the first",
                                 trip.reupgraded, trip.revision, file, AFTER_SECOND_UPGRADE)
        return None
    return _stairway_check("reupgrade", plan, ev, config, "reupgrade", judge)


def roundtrip(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    if (reason := live_skip_reason(ev)) is not None:
        return verdict("roundtrip", config, [], skipped=reason)
    rt = ev.roundtrip
    if not ev.new_revisions and not ev.stairway_skipped:
        return verdict("roundtrip", config, [], passed="the branch adds no revisions")
    if rt.skipped:
        return verdict("roundtrip", config, [], skipped=rt.skipped)
    findings = []
    if rt.up is not None and not rt.up.ok:
        findings.append(error_finding("upgrade heads from the base state failed", rt.up))
    if rt.down is not None and not rt.down.ok:
        findings.append(error_finding(f"downgrade to {rt.down_target} failed", rt.down))
    if rt.down_diff is not None and not rt.down_diff.empty:
        findings.append(_diff_finding(f"after downgrading to {rt.down_target} the schema differs from the base",
                                      rt.down_diff, None, None, AFTER_DOWNGRADE))
    if rt.up_again is not None and not rt.up_again.ok:
        findings.append(error_finding("upgrading to heads again failed", rt.up_again))
    if rt.up_diff is not None and not rt.up_diff.empty:
        findings.append(_diff_finding("the second upgrade to heads gives a different schema", rt.up_diff, None, None,
                                      AFTER_SECOND_UPGRADE))
    seconds = sum(o.seconds for o in (rt.up, rt.down, rt.up_again) if o is not None)
    return verdict("roundtrip", config, findings,
                   passed=f"base → head → {rt.down_target} → head, schema identical ({seconds:.2f} s)")


def classify_drift(ev: Evidence) -> Drift:
    head = ev.head_drift
    if head is None:
        return Drift(checked=False, note=ev.live_skipped or "the database could not be brought to head")
    if not head.ok:
        return Drift(checked=False, note=f"compare_metadata failed at head: {head.error.message}")
    if not head.result.get("has_metadata"):
        return Drift(checked=False, note="env.py sets no target_metadata")
    head_items = {d["key"]: DriftItem(**d) for d in head.result["diffs"]}
    base_items: dict[str, DriftItem] = {}
    note = ""
    if ev.base_drift is not None and ev.base_drift.ok and ev.base_drift.result.get("has_metadata"):
        base_items = {d["key"]: DriftItem(**d) for d in ev.base_drift.result["diffs"]}
    elif ev.base_has_alembic:
        note = "drift at base unknown (" + (
            ev.base_drift.error.message if ev.base_drift is not None and ev.base_drift.error
            else "base sets no target_metadata") + "): all drift at head counts as introduced"
    return Drift(
        checked=True,
        note=note,
        introduced=[item for key, item in head_items.items() if key not in base_items],
        existing=[item for key, item in head_items.items() if key in base_items],
        fixed=[item for key, item in base_items.items() if key not in head_items],
    )


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
    tail = f" ({'; '.join(extra)})" if extra else ""
    n = len(drift.introduced)
    return verdict("model-drift", config, findings,
                   passed=f"the branch introduces no drift{tail}",
                   failed=f"the branch introduces {n} difference{'s' if n != 1 else ''} between models and "
                   f"database{tail}")
