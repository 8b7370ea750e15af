"""Checks judged from what each new revision's upgrade did over the base data, statement by
statement, as the worker observed it on the live database (observe.py): the locks its
transaction took and the tables it rewrote. See migbot/catalog.py for what each catches."""

from __future__ import annotations

import re

from migbot.checks.findings import live_skip_reason, revision_file
from migbot.checks.verdict import verdict
from migbot.config import MigbotConfig
from migbot.evidence import Evidence
from migbot.plan.changes import ProjectPlan
from migbot.report.model import CheckResult, Finding

_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?!CONCURRENTLY\b)", re.IGNORECASE)
_INDEX_TABLE = re.compile(r"\bON\s+(?:ONLY\s+)?((?:\"[^\"]+\"|\w+)(?:\.(?:\"[^\"]+\"|\w+))?)", re.IGNORECASE)


def _observed(ev: Evidence) -> tuple[list[dict], list[str]]:
    """The upgrade steps over the base data that were observed, and the revisions whose step
    was not (an env.py in autocommit, an autocommit block)."""
    steps = [s for s in (ev.data.up.result or {}).get("steps", []) if s.get("upgrade")] \
        if ev.data.up is not None and isinstance(ev.data.up.result, dict) else []
    return [s for s in steps if s.get("statements") is not None and s.get("rows") is not None], \
        [s["revision"] for s in steps if s.get("statements") is None or s.get("rows") is None]


def _skip(ev: Evidence) -> str | None:
    if (reason := live_skip_reason(ev) or ev.data.data_skipped) is not None:
        return reason
    if ev.data.up is None or not ev.data.up.ok:
        return "the new revisions did not go up over the base data (see upgrade-over-rows)"
    return None


def _unobserved(revisions: list[str], steps: list[dict]) -> list[Finding]:
    """Notes for what migbot could not look at: a step that committed along the way, and the
    statements past the first MAX_STATEMENTS of a step (observe.py)."""
    notes = [Finding(severity="note", revision=rev, message=f"{rev}: its upgrade committed along the way (an "
                     "autocommit block, or env.py in autocommit), so migbot could not observe its statements")
             for rev in revisions]
    notes += [Finding(severity="note", revision=step["revision"],
                      message=f"{step['revision']}: only its first {len(step['statements'])} statements were "
                      f"observed; {step['statements_beyond']} more ran unobserved")
              for step in steps if step.get("statements_beyond")]
    return notes


def _sql(statement: dict) -> str:
    return " ".join(statement["sql"].split())[:300]


def _judge(check_id: str, plan: ProjectPlan, ev: Evidence, config: MigbotConfig, find, passed: str) -> CheckResult:
    """The verdict of a rule over every observed statement: find(statement, rows) -> (message, hint)
    for a statement it flags, else None; findings at the line of the revision that ran it."""
    if (reason := _skip(ev)) is not None:
        return verdict(check_id, config, [], skipped=reason)
    steps, unobserved = _observed(ev)
    findings = []
    for step in steps:
        for statement in step["statements"]:
            for message, hint in find(statement, ev.data.base_rows):
                findings.append(Finding(severity="warning", revision=step["revision"], line=statement.get("line"),
                                        file=revision_file(plan, ev, step["revision"]),
                                        message=f"{step['revision']}: {message}", hint=hint))
    return verdict(check_id, config, findings + _unobserved(unobserved, steps),
                   passed=f"{passed} ({len(steps)} observed over the base data)")


def table_rewrite(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    def find(statement: dict, rows: dict[str, int]):
        for table in (t for t in statement.get("rewrote", []) if rows.get(t)):
            yield (f"`{_sql(statement)}` rewrote `{table}`, which held {rows[table]} rows in the base data, under "
                   "an ACCESS EXCLUSIVE lock: reads and writes of the table wait until the migration commits, for "
                   "a time that grows with the table",
                   "Add a new column, backfill it in batches and switch over; a constant default or a varchar that "
                   "only grows does not rewrite.")

    return _judge("table-rewrite", plan, ev, config, find, "no new revision rewrote a table that held rows")


def index_without_concurrently(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    def find(statement: dict, rows: dict[str, int]):
        if not _CREATE_INDEX.match(statement["sql"]):
            return
        table = _index_table(statement)
        if table is not None and rows.get(table):
            yield (f"`{_sql(statement)}` builds an index on `{table}`, which held {rows[table]} rows in the base "
                   "data, under a SHARE lock: writes to the table wait until the migration commits",
                   "Build it with `postgresql_concurrently=True` inside `with op.get_context().autocommit_block():`"
                   " (CREATE INDEX CONCURRENTLY cannot run in a transaction).")

    return _judge("index-without-concurrently", plan, ev, config, find,
                  "no new revision built an index on a table with rows without CONCURRENTLY")


def _index_table(statement: dict) -> str | None:
    """The table the index is on: the one the statement locked in SHARE mode (PostgreSQL's word),
    else the one its ON clause names (when an earlier statement already held a stronger lock)."""
    for table, mode in statement.get("locks", []):
        if mode == "ShareLock":
            return table
    match = _INDEX_TABLE.search(statement["sql"])
    if match is None:
        return None
    name = match.group(1).replace('"', "")
    return name if "." in name else f"public.{name}"


LOCK_CHECKS = (table_rewrite, index_without_concurrently)
