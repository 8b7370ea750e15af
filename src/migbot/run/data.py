"""Seeds and data: the part of the live run that works with rows.

1. Base data (while the head tree imports its app): a clone of the base state gets
   the base commit's own seeds, run by the base worker (its database is swapped for
   the clone by name), then, on a background thread, synthetic rows for every table
   still empty, and a fingerprint of every table. That database stays as it is from
   then on: it is the template of step 3 and what step 3 compares against.
2. Seeds at head, on the head database once it is at heads: every seed set runs,
   every table is fingerprinted, a clone keeps that state, every set runs again, and
   whatever the second run changed is reported.
3. Migrations over data: a clone of the base data goes through the new revisions in
   one run, each step observed (the rows it wrote), and, when every new revision can
   be undone, back down to the base heads; rows that are not as they were are data loss.

Rows are compared on the columns both sides have (snapshot.fingerprint.common_shape).
Like the stairway, this only gathers evidence; checks.data judges it.
"""

from __future__ import annotations

import threading

import psycopg

from migbot.errors import InfraError, first_line
from migbot.evidence import DataEvidence, RoundTrip, SeedRun, StepOutcome, Trip
from migbot.progress import Progress
from migbot.provision.databases import Databases
from migbot.provision.synthetic import fill_empty_tables
from migbot.run.executor import TreeExecutor
from migbot.run.stairway import cannot_go_down, rows_of
from migbot.snapshot.fingerprint import (
    changed_columns, common_shape, diff, fingerprints, hashed_columns, row_hashes, user_tables,
)
from migbot.snapshot.sequences import sequences_behind
from migbot.snapshot.types import Fingerprint, TableChange


class BaseData:
    """Step 1. Runs the base seeds at once, then fills and fingerprints on a thread that
    overlaps the head's work; wait() joins it and re-raises what it raised."""

    def __init__(self, base: TreeExecutor, databases: Databases, data: DataEvidence, *, role: str, seeds: list,
                 settings, version_table: str, progress: Progress, prefix: str = ""):
        self.databases, self.data, self.settings, self.version_table = databases, data, settings, version_table
        self.name = databases.create(role, template=base.db.name)
        if settings.base_seeds and seeds:
            progress.step(f"{prefix}base: running the base seeds on a copy")
            databases.swap(base.db.name, self.name)  # the base worker now reaches the copy
            try:
                for plan in seeds:
                    outcome = run_seed_set(base, plan)
                    data.base_runs.append(SeedRun(plan, outcome))
                    if not outcome.ok:
                        break  # later sets may depend on it; synthetic rows fill in
            finally:
                databases.swap(base.db.name, self.name)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._fill, name="migbot-base-data", daemon=True)
        self._thread.start()

    def _fill(self) -> None:
        try:
            with _connect(self.databases, self.name) as conn:
                filled = fill_empty_tables(conn, rows=self.settings.synthetic_rows,
                                           version_tables=(self.version_table,))
                self.data.synthetic_filled, self.data.synthetic_skipped = filled.filled, filled.skipped
                self.data.base_fingerprints = fingerprints(conn, user_tables(conn, (self.version_table,)),
                                                           self.settings.ignore_columns)
                self.data.base_rows = {t: f.rows for t, f in self.data.base_fingerprints.items()}
                self.data.sequences_behind_base = sequences_behind(conn)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            self._error = exc

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def seeds_at_head(head: TreeExecutor, databases: Databases, data: DataEvidence, *, sets: list, at_heads: bool,
                  settings, version_table: str, role: str, progress: Progress, prefix: str = "") -> None:
    """Step 2, on the head database at heads."""
    data.head_sets = sets
    if not sets:
        data.seeds_skipped = "the project has no seeds (app/seeds/, or seeds in [tool.migbot])"
        return
    if not at_heads:
        data.seeds_skipped = "the branch's migrations do not reach head"
        return
    for plan in sets:
        progress.step(f"{prefix}seeds: {plan.name}")
        outcome = run_seed_set(head, plan)
        data.first_run.append(SeedRun(plan, outcome))
        if not outcome.ok:
            return
    with _connect(databases, head.db.name) as conn:
        tables = user_tables(conn, (version_table,))
        before = fingerprints(conn, tables, settings.ignore_columns)
        data.rows = {t: f.rows for t, f in before.items()}
    seeded = databases.create(role, template=head.db.name)  # the first run's result, kept
    for plan in sets:
        progress.step(f"{prefix}seeds: {plan.name} again")
        outcome = run_seed_set(head, plan)
        data.second_run.append(SeedRun(plan, outcome))
        if not outcome.ok:
            break
    if all(r.outcome.ok for r in data.second_run):
        data.second_run_changes = changed_tables(databases, seeded, head.db.name, before, settings.ignore_columns,
                                                 version_table)
    databases.drop(seeded)


def run_seed_set(executor: TreeExecutor, plan) -> StepOutcome:
    """A seed set, one module per worker command, so that a module that fails or hangs is the
    one named (a hang leaves no traceback to tell)."""
    if plan.command or len(plan.modules) != len(plan.files) or len(plan.modules) < 2:
        return executor.seed(plan.modules, plan.command)
    seconds, modules = 0.0, []
    for module, path in zip(plan.modules, plan.files):
        outcome = executor.seed([module], None)
        seconds += outcome.seconds
        if not outcome.ok:
            if outcome.error is not None and outcome.error.file is None:
                outcome.error.file = path
            outcome.seconds = seconds
            return outcome
        modules += (outcome.result or {}).get("modules", []) if isinstance(outcome.result, dict) else []
    return StepOutcome(ok=True, seconds=seconds, result={"modules": modules})


def migrations_over_data(head: TreeExecutor, data: DataEvidence, *, data_db: str, revisions: list[str],
                         trips: list[Trip], roundtrip: RoundTrip, kept_tables: set[str], settings, version_table: str,
                         progress: Progress, prefix: str = "") -> None:
    """Step 3: the new revisions up over the base data, and back down when they can be undone
    (and when going down works without data: the round trip said so)."""
    reason = _skip_reason(data, revisions, trips, roundtrip)
    if reason:
        data.data_skipped = reason
        return
    blocked = [(t.revision, why) for t in trips if (why := cannot_go_down(t))]
    if blocked:
        data.down_skipped = f"revision {blocked[0][0]} cannot be undone: {blocked[0][1]}"
    elif roundtrip.down is not None and not roundtrip.down.ok:
        data.down_skipped = "going down to the base heads fails even without rows (see roundtrip)"
    head.db.reset(data_db)
    progress.step(f"{prefix}over data: the new revisions up")
    data.up = head.apply(revisions, upgrade=True, observe=True)
    if not data.up.ok:
        return
    data.rows_up = {rev: rows for rev in revisions if (rows := rows_of(data.up, rev, True)) is not None}
    data.sequences_behind_up = _newly_behind(head, data)
    if data.down_skipped:
        return
    progress.step(f"{prefix}over data: back down to the base heads")
    data.down = head.apply(list(reversed(revisions)), upgrade=False, observe=True)
    if not data.down.ok:
        return
    data.rows_down = {rev: rows for rev in revisions if (rows := rows_of(data.down, rev, False)) is not None}
    data.sequences_behind_down = _newly_behind(head, data)
    with _connect(head.db.databases, head.db.name) as conn:
        tables = [t for t in user_tables(conn, (version_table,)) if t.qualified in kept_tables]
    data.compared_tables = len(tables)
    data.lost = changed_tables(head.db.databases, data_db, head.db.name, data.base_fingerprints,
                               settings.ignore_columns, version_table, only={t.qualified for t in tables})


def _newly_behind(head: TreeExecutor, data: DataEvidence) -> dict[str, str]:
    """Sequences behind their column now that were not in the base data (seeds that insert
    explicit ids without setval are the base's own matter)."""
    with _connect(head.db.databases, head.db.name) as conn:
        return {seq: why for seq, why in sequences_behind(conn).items() if seq not in data.sequences_behind_base}


def _skip_reason(data: DataEvidence, revisions: list[str], trips: list[Trip], roundtrip: RoundTrip) -> str | None:
    if data.synthetic_filled is None:
        return "the base data could not be built"
    if not revisions:
        return "the branch adds no revisions"
    failed = next((t.revision for t in trips if t.upgrade is not None and not t.upgrade.ok), None)
    if failed or any(t.upgrade is None for t in trips):
        return f"revision {failed} does not upgrade even on an empty database" if failed \
            else "the stairway stopped before every new revision was tried"
    restored = roundtrip.down_diff is not None and roundtrip.down_diff.empty
    if (roundtrip.up is not None and not roundtrip.up.ok) or \
            (roundtrip.up_again is not None and not roundtrip.up_again.ok and restored):
        # Not when going down left something behind: that, not running together, may be the cause.
        return "the new revisions do not upgrade in one run even without rows (see roundtrip)"
    if not any(data.base_rows.values()):
        return "the base has no tables to put rows in"
    return None


def changed_tables(databases: Databases, before_db: str, after_db: str, before: dict[str, Fingerprint],
                   ignore: list[str], version_table: str, only: set[str] | None = None) -> list[TableChange]:
    """How the tables of `after_db` differ from `before_db` (whose fingerprints are `before`),
    row by row on the columns both have (keys and hashes only, never the rows)."""
    found = []
    with _connect(databases, before_db) as old, _connect(databases, after_db) as new:
        old_tables = {t.qualified: t for t in user_tables(old, (version_table,))}
        for table in user_tables(new, (version_table,)):
            if (only is not None and table.qualified not in only) or table.qualified not in old_tables:
                continue
            previous = old_tables[table.qualified]
            shape = table if previous.columns == table.columns and previous.primary_key == table.primary_key \
                else common_shape(previous, table)
            if shape is table and before.get(table.qualified) == fingerprints(new, [table], ignore)[table.qualified]:
                continue
            change = diff(shape, row_hashes(old, shape, ignore), row_hashes(new, shape, ignore))
            if change.changed and not change.added and not change.removed:
                # Same keys: which columns lost their values? (Only comparable when no row came or went.)
                columns = [c for c in hashed_columns(shape, ignore) if c not in shape.primary_key]
                change.column_rows = changed_columns(old, new, shape, columns)
                change.columns = list(change.column_rows)
            if not change.empty:
                found.append(change)
    return found


class _connect:
    """A connection to one of migbot's databases; a lost server is migbot's error, not the branch's."""

    def __init__(self, databases: Databases, dbname: str):
        self.databases, self.dbname = databases, dbname

    def __enter__(self) -> psycopg.Connection:
        try:
            self.conn = self.databases.connect(self.dbname)
        except psycopg.Error as exc:
            raise InfraError(f"Lost the connection to PostgreSQL: {first_line(exc)}") from None
        return self.conn

    def __exit__(self, kind, exc, tb) -> None:
        self.conn.close()
        if isinstance(exc, psycopg.Error):
            raise InfraError(f"PostgreSQL failed while comparing data: {first_line(exc)}") from None

