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
                   passed=f"a second run changed none of {_plural(tables, 'table')} "
                   f"({sum(data.rows.values())} rows)",
                   failed=f"a second run of the seeds changed {_plural(len(findings), 'table')}")


def migrations_with_data(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    data = ev.data
    if (reason := live_skip_reason(ev) or data.data_skipped) is not None:
        return verdict("migrations-with-data", config, [], skipped=reason)
    findings = []
    base = ", ".join(ev.base_heads) or "base"
    for step, outcome in (("the new revisions up over existing rows", data.up),
                          (f"going back down to the base heads ({base}) over existing rows", data.down)):
        if outcome is not None and not outcome.ok:
            finding = error_finding(f"{step} failed", outcome)
            finding.message += _where_in_data(outcome)
            if finding.revision:
                finding.message = f"{finding.revision}: {finding.message}"
            if finding.revision and not finding.file:
                finding.file = revision_file(plan, ev, finding.revision)
            if outcome.error.deliberate and data.synthetic_filled:
                # The migration's own guard refused the rows; some of them are made up.
                finding.severity = "warning"
                finding.hint = ("The revision refuses these rows on purpose, and some were made up by migbot. If "
                                "real data cannot look like that, give the table realistic rows with a seed set "
                                "(docs/config.md, Seeds); if it can, the deploy would stop here too.")
            findings.append(finding)
    findings += _untried_tables(ev)
    rows = sum(data.base_rows.values())
    synthetic = sum((data.synthetic_filled or {}).values())
    tables = _plural(sum(1 for n in data.base_rows.values() if n), 'table')
    note = f"; {_plural(len(data.synthetic_skipped), 'table')} left empty" if data.synthetic_skipped else ""
    if data.down is not None:
        what = f"up, and back down to the base heads ({base}),"
    else:
        what = f"up (not back down: {data.down_skipped})," if data.down_skipped else "up"
    return verdict("migrations-with-data", config, findings,
                   passed=f"the new revisions went {what} over {rows} rows in {tables} ({synthetic} synthetic){note}")


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
    """Tables the new revisions change that had no rows to change: those were not tried over data."""
    data, before = ev.data, ev.base_snapshot.get("table") if ev.base_snapshot is not None else {}
    touched: set[str] = set()
    for trip in ev.trips:
        for change in (trip.applied.changes if trip.applied is not None else []):
            table = change.table or (change.name if change.kind == "table" else None)
            if table in before:
                touched.add(table)
        touched |= {t for t in (trip.rows_up or {}) if t in before}
    empty = sorted(t for t in touched if not data.base_rows.get(t))
    if not empty:
        return []
    reasons = "; ".join(f"`{t}`: {data.synthetic_skipped[t]}" for t in empty if t in data.synthetic_skipped)
    return [Finding(message=f"the new revisions change {', '.join(f'`{t}`' for t in empty)}, which had no rows, so "
                    "they were not tried over data" + (f" (synthetic rows could not be made: {reasons})" if reasons
                                                       else ""),
                    severity="warning",
                    hint="Give these tables rows with a seed set (docs/config.md, Seeds).")]


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
                   passed=f"{_plural(data.compared_tables, 'table')} kept every row through upgrade and downgrade",
                   failed=f"after upgrade and downgrade, {_plural(len(findings), 'table')} "
                   f"{'does' if len(findings) == 1 else 'do'} not hold the rows they had")


DATA_CHECKS = (seeds_run, seeds_idempotent, migrations_with_data, downgrade_keeps_data)
