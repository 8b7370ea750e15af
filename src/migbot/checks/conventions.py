"""Convention rules, judged at head from the catalogs (snapshot.conventions) and the stairway's
record of what each new revision added: only what the branch introduced is reported. See
migbot/catalog.py for what each catches."""

from __future__ import annotations

from migbot.checks.findings import live_skip_reason, revision_file
from migbot.checks.verdict import verdict
from migbot.config import MigbotConfig
from migbot.evidence import Evidence, Trip
from migbot.plan.changes import ProjectPlan
from migbot.report.model import CheckResult, Finding


def _skip(ev: Evidence) -> str | None:
    if (reason := live_skip_reason(ev)) is not None:
        return reason
    if ev.head_conventions is None:
        return "the database did not reach head"
    return None


def _added_by(ev: Evidence, kind: str) -> dict[str, Trip]:
    """Object key -> the new revision whose upgrade added it (the stairway's snapshots)."""
    found: dict[str, Trip] = {}
    for trip in ev.trips:
        for diff in trip.applied.of_kind(kind, "added") if trip.applied is not None else []:
            found.setdefault(diff.name, trip)
    return found


def _statement_line(trip: Trip, *words: str) -> int | None:
    """The revision's line that ran the first upgrade statement naming all of `words`."""
    step = trip.upgrade.observed(trip.revision) if trip.upgrade is not None else None
    for statement in (step or {}).get("statements") or []:
        text = statement["sql"].replace('"', "").lower()
        if all(word.lower() in text for word in words):
            return statement.get("line")
    return None


def _bare(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def foreign_key_without_index(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    if (reason := _skip(ev)) is not None:
        return verdict("foreign-key-without-index", config, [], skipped=reason)
    added = _added_by(ev, "constraint")
    findings = []
    for fk in ev.head_conventions["unindexed_foreign_keys"]:
        trip, name = added.get(fk["key"]), _bare(fk["key"])
        if trip is None:
            continue  # so at base already
        table, columns = _bare(fk["table"]), fk["columns"].split(", ")
        findings.append(Finding(
            severity="warning", revision=trip.revision, file=revision_file(plan, ev, trip.revision),
            line=_statement_line(trip, name) or _statement_line(trip, "references", _bare(fk["referenced"])),
            message=f"{trip.revision}: adds foreign key `{name}` on `{fk['table']}` ({fk['columns']}), and no index "
            f"starts with those columns: every DELETE of a `{fk['referenced']}` row, or change of its key, scans "
            f"`{fk['table']}` to check it",
            hint=f"`op.create_index(\"ix_{table}_{'_'.join(columns)}\", \"{table}\", {columns!r})` in the same "
            "revision (with postgresql_concurrently=True in an autocommit block if the table already holds rows)."))
    return verdict("foreign-key-without-index", config, findings,
                   passed="every foreign key the branch adds has an index on its columns")


def table_without_primary_key(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    if (reason := _skip(ev)) is not None:
        return verdict("table-without-primary-key", config, [], skipped=reason)
    added = _added_by(ev, "table")
    findings = []
    for table in ev.head_conventions["tables_without_primary_key"]:
        trip = added.get(table)
        if trip is None:
            continue  # so at base already
        findings.append(Finding(
            severity="warning", revision=trip.revision, file=revision_file(plan, ev, trip.revision),
            line=_statement_line(trip, "create table", _bare(table)),
            message=f"{trip.revision}: creates table `{table}` without a primary key",
            hint="Give it a primary key: without one, a row cannot be told apart from its duplicates, and "
            "logical replication cannot replicate the table's UPDATEs and DELETEs."))
    return verdict("table-without-primary-key", config, findings,
                   passed="every table the branch creates has a primary key")


CONVENTION_CHECKS = (foreign_key_without_index, table_without_primary_key)
