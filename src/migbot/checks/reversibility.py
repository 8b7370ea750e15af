"""reversible-downgrades, decided from what each new revision did on the database.

A downgrade that does nothing or refuses is wrong only when there was something to
undo: the upgrade changed the schema (stairway snapshots) or wrote rows (observed per
step, on the stairway's database and over the base data). An upgrade that only reads
needs no downgrade. allow-irreversible excuses what the revision does at run time,
whatever its source looks like. Where migbot could not observe enough, it says so as a
warning: it never passes a revision it could not judge.
"""

from __future__ import annotations

from migbot.checks.findings import NO_NEW_REVISIONS, live_skip_reason, revision_file
from migbot.checks.verdict import verdict
from migbot.config import MigbotConfig
from migbot.evidence import DataEvidence, Evidence, Trip
from migbot.plan.changes import ProjectPlan
from migbot.report.model import CheckResult, Finding

NO_TABLES = "the base has no tables to put rows in"


def downgrade_behaviour(trip: Trip) -> str | None:
    """"refuses (...)" or "does nothing" when the downgrade is not a real one; None for a real
    downgrade, one that failed by accident, or one that never ran."""
    if trip.upgrade is None or not trip.upgrade.ok or trip.downgrade is None:
        return None
    if trip.downgrade_refused():
        error = trip.downgrade.error
        message = (error.message.splitlines() or [""])[0]
        return f"refuses ({error.type}" + (f": {message})" if message and message != error.type else ")")
    if trip.downgrade_left_it_all():
        return "does nothing"
    return None


def _rows_written_up(trip: Trip, data: DataEvidence) -> dict[str, int] | None:
    """The rows the upgrade wrote, on the stairway's database and over the data (-1: rewrote the
    table); None when neither run observed them."""
    over_data = (data.rows_up or {}).get(trip.revision)
    if trip.rows_up is None and over_data is None:
        return None
    rows = dict(trip.rows_up or {})
    for table, n in (over_data or {}).items():
        rows[table] = -1 if n < 0 or rows.get(table, 0) < 0 else max(rows.get(table, 0), n)
    return rows


def _describe_changes(trip: Trip, rows: dict[str, int] | None) -> list[str]:
    phrases = []
    if trip.applied is not None and not trip.applied.empty:
        more = len(trip.applied.changes) - 1
        phrases.append(f"changed the schema ({trip.applied.changes[0].text}" + (f", and {more} more" if more else "")
                       + ")")
    if rows:
        phrases.append("wrote rows (" + ", ".join(
            f"rewrote `{table}`" if n < 0 else f"{n} row{'s' if n != 1 else ''} of `{table}`"
            for table, n in sorted(rows.items())) + ")")
    return phrases


UNOBSERVED = ("migbot could not observe whether it wrote rows (it did not run in one transaction: env.py's "
              "AUTOCOMMIT, or an autocommit block)")
UNOBSERVED_HINT = ("If the upgrade only builds indexes or repairs what is already there, `pass` is right; if it "
                   "rewrites rows, write the downgrade or list it in allow-irreversible.")


def _judge(plan: ProjectPlan, ev: Evidence, trip: Trip) -> Finding | str | None:
    """A finding for a downgrade that cannot undo its upgrade, "read-only" for an upgrade with
    nothing to undo, or None for a real downgrade (the other down checks judge it)."""
    data = ev.data
    refuses = trip.downgrade_refused()
    over_data_down = (data.rows_down or {}).get(trip.revision) if data.rows_down is not None else None
    if not refuses and (trip.downgrade_did_nothing() is False or over_data_down):
        return None  # it changed the schema or wrote rows: a real downgrade
    static = plan.revision_file(trip.revision)
    how = downgrade_behaviour(trip) or ("refuses" if refuses else "does nothing")
    if static is not None and static.downgrade == "missing":
        how = "is missing"
    elif how == "does nothing" and static is not None and static.downgrade == "empty":
        how += " (it is empty)"
    where = dict(revision=trip.revision, file=revision_file(plan, ev, trip.revision),
                 line=(static.downgrade_line or static.revision_line) if static else None)
    rows = _rows_written_up(trip, data)
    changes = _describe_changes(trip, rows)
    schema_changed = trip.applied is not None and not trip.applied.empty
    if schema_changed or (refuses and rows):
        return Finding(message=f"{trip.revision}: downgrade() {how}, but its upgrade " + " and ".join(changes), **where)
    if rows is None:
        return Finding(message=f"{trip.revision}: downgrade() {how}; the upgrade changed no schema, and {UNOBSERVED}",
                       severity="warning", hint=UNOBSERVED_HINT, **where)
    if rows:
        if over_data_down == {}:
            return Finding(message=f"{trip.revision}: downgrade() {how}, but its upgrade " + " and ".join(changes),
                           **where)
        why = _why_not_over_rows(data)
        return Finding(message=f"{trip.revision}: its upgrade {' and '.join(changes)}, and its downgrade wrote "
                       f"nothing on the base state, which has no rows for it; over the data it did not run or was "
                       f"not observed ({why}), so migbot cannot tell whether it undoes the upgrade",
                       severity="warning", **where)
    if refuses:
        return Finding(message=f"{trip.revision}: downgrade() {how} although the upgrade changes nothing: every "
                       "rollback stops here; `pass` would do", severity="warning",
                       hint="An upgrade that only reads can have `pass` as its downgrade.", **where)
    if trip.revision in (data.rows_up or {}) or data.data_skipped == NO_TABLES:
        return "read-only"
    return Finding(message=f"{trip.revision}: downgrade() {how}; its upgrade changed no schema and wrote no row on the "
                   "base state, but it never ran over rows "
                   f"({_why_not_over_rows(data)}), so migbot "
                   "cannot tell whether it only reads", severity="warning", **where)


def _why_not_over_rows(data) -> str:
    if data.up is not None and not data.up.ok:
        return "the new revisions failed to go up over rows (see upgrade-over-rows)"
    return data.data_skipped or data.down_skipped or "its rows there were not observed"


def reversible_downgrades(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    if (reason := live_skip_reason(ev) or ev.stairway_skipped) is not None:
        return verdict("reversible-downgrades", config, [], skipped=reason)
    if not ev.new_revisions:
        return verdict("reversible-downgrades", config, [], passed=NO_NEW_REVISIONS)
    findings, allowed, read_only, left_out = [], [], [], []
    for trip in ev.trips:
        if trip.upgrade is None or not trip.upgrade.ok or trip.downgrade is None:
            why = trip.skipped.get("downgrade") or trip.skipped.get("upgrade") or "its downgrade did not run"
            left_out.append(f"{trip.revision} ({why})")
            continue
        judged = _judge(plan, ev, trip)
        exemption = config.allowed_irreversible(trip.revision)
        if isinstance(judged, Finding) and exemption:
            allowed.append(f"{trip.revision} ({exemption.reason})")
        elif isinstance(judged, Finding):
            findings.append(judged)
        elif judged == "read-only":
            read_only.append(trip.revision)
    if len(left_out) == len(ev.trips):
        return verdict("reversible-downgrades", config, [], skipped="no new revision's downgrade ran: "
                       + "; ".join(left_out))
    passed = "every new revision's downgrade undoes something, or there is nothing to undo"
    if read_only:
        basis = "over the base data too" if ev.data.rows_up is not None else "and the base has no tables"
        passed += (f"; read-only, so an empty downgrade is right: {', '.join(read_only)} (no schema change, no row "
                   f"written, {basis})")
    if allowed:
        passed += "; allowed to be irreversible: " + ", ".join(allowed)
    if left_out:
        passed += "; left out " + "; ".join(left_out)
    return verdict("reversible-downgrades", config, findings, passed=passed)
