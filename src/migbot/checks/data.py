"""Checks judged from the seed and data evidence (see migbot/catalog.py for what each catches)."""

from __future__ import annotations

from migbot.checks.findings import error_finding, live_skip_reason, revision_file, same_failure
from migbot.checks.verdict import verdict
from migbot.config import MigbotConfig
from migbot.evidence import Evidence, SeedRun, StepOutcome
from migbot.plan.changes import ProjectPlan
from migbot.report.model import CheckResult, Finding


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _seed_finding(what: str, run: SeedRun) -> Finding:
    finding = error_finding(f"seed set {run.plan.name}: {what}", run.outcome)
    if finding.file is None and run.plan.files:
        finding.file = run.plan.files[0]
    return finding


def _where_in_data(outcome: StepOutcome) -> str:
    err = outcome.error
    parts = [f"{label} `{value}`" for label, value in (("table", err.table), ("column", err.column),
                                                          ("constraint", err.constraint)) if value]
    return f" ({', '.join(parts)})" if parts else ""


def seeds_run(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    data = ev.data
    if (reason := live_skip_reason(ev) or data.seeds_skipped) is not None:
        return verdict("seeds-run", config, [], skipped=reason)
    failed = [run for run in data.first_run if not run.outcome.ok]
    if failed:
        at_base = next((b for b in data.base_runs if b.plan.name == failed[0].plan.name and not b.outcome.ok
                        and same_failure(b.outcome, failed[0].outcome)), None)
        if at_base is not None:
            # Like drift already at base: main's broken seed is not this branch's failure.
            first = (at_base.outcome.error.message.splitlines() or [""])[0]
            return verdict("seeds-run", config, [], skipped=f"seed set {failed[0].plan.name} fails the same way on "
                           f"the base branch ({at_base.outcome.error.type}: {first})")
        return verdict("seeds-run", config, [_seed_finding("failed", failed[0])])
    sets = ", ".join(f"{r.plan.name} ({_plural(len(r.plan.modules), 'module') if r.plan.modules else 'command'})"
                     for r in data.first_run)
    return verdict("seeds-run", config, [], passed=f"{sets} ran at head")


def seeds_idempotent(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    data = ev.data
    if (reason := live_skip_reason(ev) or data.seeds_skipped) is not None:
        return verdict("seeds-idempotent", config, [], skipped=reason)
    if any(not run.outcome.ok for run in data.first_run):
        return verdict("seeds-idempotent", config, [], skipped="the seeds fail on their first run")
    failed = [run for run in data.second_run if not run.outcome.ok]
    if failed:
        return verdict("seeds-idempotent", config, [_seed_finding("fails when run a second time", failed[0])])
    findings = [Finding(message=change.text) for change in data.second_run_changes or []]
    tables = len(data.rows)
    return verdict("seeds-idempotent", config, findings,
                   passed=f"a second run changed nothing in {_plural(tables, 'table')} "
                   f"({sum(data.rows.values())} rows)",
                   failed=f"a second run of the seeds changed {_plural(len(findings), 'table')}")


def _over_rows_failure(plan: ProjectPlan, ev: Evidence, step: str, outcome: StepOutcome) -> Finding:
    finding = error_finding(f"{step} failed", outcome)
    finding.message += _where_in_data(outcome)
    if finding.revision:
        finding.message = f"{finding.revision}: {finding.message}"
    if finding.revision and not finding.file:
        finding.file = revision_file(plan, ev, finding.revision)
    if _may_be_the_made_up_values(outcome, ev.data.synthetic_filled or {}):
        finding.severity = "warning"
        finding.hint = ("The revision failed on the values of the rows, and some rows were made up by migbot (a "
                        "text column holds `name-1`, not the JSON or number real rows may hold). If real data "
                        "cannot look like that, give the table realistic rows with a seed set (docs/config.md, "
                        "Seeds); if it can, the deploy would stop here too.")
    return finding


# What a value the migration did not expect raises: SQLAlchemy's DataError (PostgreSQL's class 22:
# a failed cast, a value out of range), or an exception of Python's own.
_DATABASE_ERRORS = {"IntegrityError", "ProgrammingError", "OperationalError", "InternalError", "NotSupportedError",
                    "DatabaseError", "InterfaceError", "TimeoutError", "NotNullViolation", "UniqueViolation",
                    "ForeignKeyViolation", "CheckViolation", "ExclusionViolation", "RestrictViolation"}


def _may_be_the_made_up_values(outcome: StepOutcome, synthetic: dict[str, int]) -> bool:
    """A failure over rows that made-up values may have caused: the migration refused them on purpose,
    failed to cast or parse a value, or a table it named was filled by migbot. A NOT NULL column
    without a default, or a violated constraint, fails whatever the values: never this."""
    err = outcome.error
    if not synthetic or err.kind:
        return False
    if err.table and err.table not in synthetic and f"public.{err.table}" not in synthetic:
        return False
    return err.deliberate or err.type == "DataError" or err.type not in _DATABASE_ERRORS


def _sequence_findings(behind: dict[str, str], when: str) -> list[Finding]:
    return [Finding(message=f"{why} {when}: the next insert that takes the default collides",
                    hint="After re-creating a sequence (or changing a column to use one), set it past the column's "
                    "values: SELECT setval('seq', (SELECT max(id) FROM t)).") for why in behind.values()]


def upgrade_over_rows(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    data = ev.data
    if (reason := live_skip_reason(ev) or data.data_skipped) is not None:
        return verdict("upgrade-over-rows", config, [], skipped=reason)
    findings = []
    if data.up is not None and not data.up.ok:
        findings.append(_over_rows_failure(plan, ev, "the new revisions up over existing rows", data.up))
    findings += _sequence_findings(data.sequences_behind_up, "after the upgrade")
    findings += _untried_tables(ev)
    rows = sum(data.base_rows.values())
    synthetic = sum((data.synthetic_filled or {}).values())
    tables = _plural(sum(1 for n in data.base_rows.values() if n), 'table')
    return verdict("upgrade-over-rows", config, findings,
                   passed=f"the new revisions went up over {rows} rows in {tables} ({synthetic} synthetic)"
                   + _touched_rows(ev))


def downgrade_over_rows(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    data = ev.data
    if (reason := live_skip_reason(ev) or data.data_skipped or data.down_skipped) is not None:
        return verdict("downgrade-over-rows", config, [], skipped=reason)
    if data.up is None or not data.up.ok:
        return verdict("downgrade-over-rows", config, [],
                       skipped="the new revisions did not go up over rows (see upgrade-over-rows)")
    base = ", ".join(ev.base_heads) or "base"
    findings = []
    if data.down is not None and not data.down.ok:
        findings.append(_over_rows_failure(plan, ev, f"going back down to the base heads ({base}) over existing "
                                           "rows", data.down))
    findings += _sequence_findings(data.sequences_behind_down, "after going back down")
    return verdict("downgrade-over-rows", config, findings,
                   passed=f"the new revisions went back down to the base heads ({base}) over the rows they had "
                   "gone up over")


def touched_tables(ev: Evidence) -> set[str]:
    """Tables that existed at base and that the new revisions change (schema or rows)."""
    before = ev.base_snapshot.get("table") if ev.base_snapshot is not None else {}
    touched: set[str] = set()
    for trip in ev.trips:
        for change in (trip.applied.changes if trip.applied is not None else []):
            table = change.table or (change.name if change.kind == "table" else None)
            if table in before:
                touched.add(table)
        touched |= {t for t in (trip.rows_up or {}) if t in before}
    return touched


def _touched_rows(ev: Evidence, limit: int = 6) -> str:
    """"; of the tables they change: `users` 300 (synthetic), ..." for the tables that had rows."""
    data = ev.data
    held = sorted((t, n) for t in touched_tables(ev) if (n := data.base_rows.get(t)))
    if not held:
        return ""
    shown = [f"`{t}` {n}" + (" (synthetic)" if t in (data.synthetic_filled or {}) else "") for t, n in held[:limit]]
    more = f" and {len(held) - limit} more" if len(held) > limit else ""
    return "; of the tables they change: " + ", ".join(shown) + more


def _revision_touching(ev: Evidence, table: str) -> str | None:
    """The last new revision that changed `table`'s schema or wrote its rows (up or down over the
    data): where a reader should look first."""
    found = None
    for trip in ev.trips:
        schema = trip.applied.changes if trip.applied is not None else []
        wrote = set((ev.data.rows_up or {}).get(trip.revision, {}))
        wrote |= set((ev.data.rows_down or {}).get(trip.revision, {}))
        if table in wrote or any(c.table == table or (c.kind == "table" and c.name == table) for c in schema):
            found = trip.revision
    return found


def _untried_tables(ev: Evidence) -> list[Finding]:
    """Tables the new revisions change that had no rows to change: not exercised, each said plainly."""
    data = ev.data
    return [Finding(message=f"not exercised: the new revisions change `{table}`, which had no rows"
                    + (f" (it could not be filled: {data.synthetic_skipped[table]})"
                       if table in data.synthetic_skipped else ""),
                    severity="warning", hint="Give this table rows with a seed set (docs/config.md, Seeds).")
            for table in sorted(t for t in touched_tables(ev) if not data.base_rows.get(t))]


def downgrade_keeps_data(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    data = ev.data
    if (reason := live_skip_reason(ev) or data.data_skipped or data.down_skipped) is not None:
        return verdict("downgrade-keeps-data", config, [], skipped=reason)
    if data.lost is None:
        return verdict("downgrade-keeps-data", config, [], skipped="the new revisions did not go up and down over rows")
    findings = []
    for change in data.lost:
        revision = _revision_touching(ev, change.table)
        findings.append(Finding(message=(f"{revision}: " if revision else "") + change.text, revision=revision,
                                file=revision_file(plan, ev, revision) if revision else None))
    return verdict("downgrade-keeps-data", config, findings,
                   passed=f"{_plural(data.compared_tables, 'table')} kept every row through upgrade and downgrade"
                   + _dropped_with_rows(ev),
                   failed=f"after upgrade and downgrade, {_plural(len(findings), 'table')} "
                   f"{'does' if len(findings) == 1 else 'do'} not hold the rows they had")


def _dropped_with_rows(ev: Evidence) -> str:
    """"; not compared: `t` (300 rows), which the branch drops": a passing verdict says what it left out."""
    if ev.base_snapshot is None or ev.head_snapshot is None:
        return ""
    dropped = sorted(t for t in set(ev.base_snapshot.get("table")) - set(ev.head_snapshot.get("table"))
                     if ev.data.base_rows.get(t))
    if not dropped:
        return ""
    shown = ", ".join(f"`{t}` ({_plural(ev.data.base_rows[t], 'row')} in the base data)" for t in dropped[:6])
    more = f" and {len(dropped) - 6} more" if len(dropped) > 6 else ""
    return f"; not compared, since the branch drops {'it' if len(dropped) == 1 else 'them'}: {shown}{more}"


DATA_CHECKS = (seeds_run, seeds_idempotent, upgrade_over_rows, downgrade_over_rows, downgrade_keeps_data)
