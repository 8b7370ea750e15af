"""reversible-downgrades, decided from what each new revision did on the database.

A downgrade that does nothing or refuses is wrong only when there was something to
undo: the upgrade changed the schema (stairway snapshots) or wrote rows (observed per
step, on the stairway's database and over the base data). An upgrade that only reads
needs no downgrade. allow-irreversible excuses what the revision does at run time,
whatever its source looks like.
"""

from __future__ import annotations

from migbot.checks.findings import NO_NEW_REVISIONS, live_skip_reason, revision_file
from migbot.checks.verdict import verdict
from migbot.config import MigbotConfig
from migbot.evidence import DataEvidence, Evidence, Trip
from migbot.plan.changes import ProjectPlan
from migbot.report.model import CheckResult, Finding


def downgrade_behaviour(trip: Trip) -> str | None:
    """"refuses (...)" or "does nothing" when the downgrade is not a real one and the upgrade
    changed something (or could not be shown not to); None otherwise."""
    down = trip.downgrade
    if down is None or trip.upgrade is None or not trip.upgrade.ok:
        return None
    if not down.ok and down.error is not None and down.error.deliberate:
        message = (down.error.message.splitlines() or [""])[0]
        return f"refuses ({down.error.type}" + (f": {message})" if message and message != down.error.type else ")")
    if trip.downgrade_did_nothing() and trip.upgrade_changed_something() is not False:
        return "does nothing"
    return None


def _upgrade_changes(trip: Trip, data: DataEvidence) -> tuple[list[str], bool]:
    """What the upgrade changed, in phrases, and whether rows were observed anywhere."""
    phrases = []
    if trip.applied is not None and not trip.applied.empty:
        first = trip.applied.changes[0].text
        more = len(trip.applied.changes) - 1
        phrases.append("changed the schema (" + first + (f", and {more} more" if more else "") + ")")
    observed = trip.rows_up is not None
    rows: dict[str, int] = dict(trip.rows_up or {})
    over_data = (data.rows_up or {}).get(trip.revision)
    if over_data is not None:
        observed = True
        for table, n in over_data.items():
            rows[table] = -1 if n < 0 or rows.get(table, 0) < 0 else max(rows.get(table, 0), n)
    if rows:
        phrases.append("wrote rows (" + ", ".join(
            f"rewrote `{table}`" if n < 0 else f"{n} row{'s' if n != 1 else ''} of `{table}`"
            for table, n in sorted(rows.items())) + ")")
    return phrases, observed


def reversible_downgrades(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    if (reason := live_skip_reason(ev) or ev.stairway_skipped) is not None:
        return verdict("reversible-downgrades", config, [], skipped=reason)
    if not ev.new_revisions:
        return verdict("reversible-downgrades", config, [],
                       passed=NO_NEW_REVISIONS)
    findings, allowed, read_only, judged = [], [], [], 0
    for trip in ev.trips:
        down = trip.downgrade
        if trip.upgrade is None or not trip.upgrade.ok or down is None:
            continue
        judged += 1
        refuses = not down.ok and down.error is not None and down.error.deliberate
        over_data = (ev.data.rows_down or {}).get(trip.revision)
        does_nothing = down.ok and trip.downgrade_did_nothing() and not over_data
        if not (refuses or does_nothing):
            continue  # a real downgrade: downgrade, downgrade-restores-schema and reupgrade judge it
        static = plan.revision_file(trip.revision)
        how = downgrade_behaviour(trip) or ("refuses" if refuses else "does nothing")
        if static is not None and static.downgrade == "missing":
            how = "is missing"
        elif how == "does nothing" and static is not None and static.downgrade == "empty":
            how += " (it is empty)"
        changes, observed = _upgrade_changes(trip, ev.data)
        where = dict(revision=trip.revision, file=revision_file(plan, ev, trip.revision),
                     line=(static.downgrade_line or static.revision_line) if static else None)
        exemption = config.allowed_irreversible(trip.revision)
        untried = does_nothing and over_data is None and trip.applied is not None and trip.applied.empty \
            and bool((ev.data.rows_up or {}).get(trip.revision))
        if exemption:
            allowed.append(f"{trip.revision} ({exemption.reason})")
        elif untried:
            # Its downgrade met no rows on the stairway's database, and never ran over the data.
            findings.append(Finding(message=f"{trip.revision}: its upgrade {' and '.join(changes)}, and its downgrade "
                                    "wrote nothing on the base state, which has no rows for it; it did not run over "
                                    f"the data ({ev.data.down_skipped or ev.data.data_skipped or 'not run'}), so "
                                    "migbot cannot tell whether it undoes the upgrade", severity="warning", **where))
        elif changes:
            findings.append(Finding(message=f"{trip.revision}: downgrade() {how}, but its upgrade "
                                    + " and ".join(changes), **where))
        elif not observed:
            findings.append(Finding(message=f"{trip.revision}: downgrade() {how}; the upgrade changed no schema, and "
                                    "migbot could not observe whether it wrote rows (it did not run in one "
                                    "transaction: env.py's AUTOCOMMIT, or an autocommit block)", severity="warning",
                                    hint="If the upgrade only builds indexes or repairs what is already there, `pass` "
                                    "is right; if it rewrites rows, write the downgrade or list it in "
                                    "allow-irreversible.", **where))
        elif refuses:
            findings.append(Finding(message=f"{trip.revision}: downgrade() {how} although the upgrade changes "
                                    "nothing: every rollback stops here; `pass` would do", severity="warning",
                                    hint="An upgrade that only reads can have `pass` as its downgrade.", **where))
        else:
            read_only.append(trip.revision)
    if judged == 0:
        return verdict("reversible-downgrades", config, [], skipped="no new revision upgraded, so no downgrade ran")
    passed = "every new revision's downgrade undoes something, or there is nothing to undo"
    if read_only:
        basis = "over the base data too" if ev.data.rows_up is not None else \
            f"on the base state only ({ev.data.data_skipped or ev.data.down_skipped or 'no rows to run over'})"
        passed += (f"; read-only, so an empty downgrade is right: {', '.join(read_only)} (no schema change, no row "
                   f"written, {basis})")
    if allowed:
        passed += "; allowed to be irreversible: " + ", ".join(allowed)
    return verdict("reversible-downgrades", config, findings, passed=passed)
