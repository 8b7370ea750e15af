"""Seeds and data: the part of the live run that works with rows.

1. Base data (while the head tree imports its app): a clone of the base state gets
   the base commit's own seeds, run by the base worker (its database is swapped
   for the clone by name), then, on a background thread, synthetic rows for every
   table still empty, and a fingerprint of every table. That database stays as it
   is from then on: it is the template of step 3 and what step 3 compares against.
2. Seeds at head, on the head database once it is at heads: every seed set runs,
   every table is fingerprinted, a clone keeps that state, every set runs again,
   and whatever the second run changed is reported.
3. Migrations over data: a clone of the base data goes up to heads with the
   head's code and back down to the base heads. A step that fails on rows fails;
   rows that are not as they were after the round trip are data loss.

Like stairway.py, this only gathers evidence; checks.data judges it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg

from migbot.discover.seeds import SeedSetPlan
from migbot.errors import InfraError, first_line
from migbot.provision.synthetic import FillResult, fill_empty_tables
from migbot.run.client import StepOutcome, Worker
from migbot.snapshot.fingerprint import Fingerprint, Table, TableChange, diff, fingerprints, row_hashes, user_tables

if TYPE_CHECKING:
    from migbot.run.stairway import ProjectRun


@dataclass
class SeedRun:
    """One seed set's run: the plan and how it went."""

    plan: SeedSetPlan
    outcome: StepOutcome


@dataclass
class DataEvidence:
    head_sets: list[SeedSetPlan] = field(default_factory=list)
    first_run: list[SeedRun] = field(default_factory=list)
    second_run: list[SeedRun] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows after the first run
    second_run_changes: list[TableChange] | None = None
    seeds_skipped: str | None = None
    base_runs: list[SeedRun] = field(default_factory=list)
    synthetic: FillResult | None = None
    base_rows: dict[str, int] = field(default_factory=dict)  # table -> rows in the base data
    base_fingerprints: dict[str, Fingerprint] = field(default_factory=dict)
    up: StepOutcome | None = None
    down: StepOutcome | None = None
    down_target: str = ""
    lost: list[TableChange] | None = None
    compared_tables: int = 0
    data_skipped: str | None = None




def build_base_data(run: "ProjectRun", base: Worker, tree) -> None:
    """Step 1, right after the base state is built: the base seeds with the base worker,
    then synthetic rows and fingerprints in a background thread (plain SQL on a database
    of its own), which overlaps the head's work until migrations_over_data needs it."""
    data = run.ev.data
    settings = run.plan.settings.seeds
    run.data_db = run.ctx.databases.create(run.role_data, template=run.base_db)
    if settings.base_seeds and run.plan.base_seeds:
        run.ctx.progress.step(f"{run.prefix}base: running the base seeds on a copy")
        databases = run.ctx.databases
        databases.swap(run.base_db, run.data_db)  # the base worker now reaches the copy
        try:
            for plan in run.plan.base_seeds:
                outcome = run._call(base, tree, "seed", modules=plan.modules, command=plan.command)
                data.base_runs.append(SeedRun(plan, outcome))
                if not outcome.ok:
                    break  # later sets may depend on it; synthetic rows fill in
        finally:
            databases.swap(run.base_db, run.data_db)
    run.base_data_ready = _Background(_fill_and_fingerprint, run)


def _fill_and_fingerprint(run: "ProjectRun") -> None:
    data, settings = run.ev.data, run.plan.settings.seeds
    with _connect(run, run.data_db) as conn:
        data.synthetic = fill_empty_tables(conn, rows=settings.synthetic_rows, version_tables=(run.version_table[0],))
        data.base_fingerprints = fingerprints(conn, user_tables(conn, (run.version_table[0],)), settings.ignore_columns)
        data.base_rows = {t: f.rows for t, f in data.base_fingerprints.items()}


def _changed(run: "ProjectRun", tables: list[Table], before_db: str, before: dict[str, Fingerprint],
             after: dict[str, Fingerprint]) -> list[TableChange]:
    """How the tables whose fingerprints differ changed, row by row (keys and hashes only)."""
    ignore = run.plan.settings.seeds.ignore_columns
    found = []
    with _connect(run, before_db) as old, _connect(run, run.head_db) as new:
        for table in tables:
            if before.get(table.qualified) != after.get(table.qualified):
                found.append(diff(table, row_hashes(old, table, ignore), row_hashes(new, table, ignore)))
    return found


class _Background:
    """A function on a thread; wait() returns once it is done and re-raises what it raised."""

    def __init__(self, fn, *args):
        self._error: BaseException | None = None

        def target() -> None:
            try:
                fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                self._error = exc

        self._thread = threading.Thread(target=target, name="migbot-base-data", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def seeds_at_head(run: "ProjectRun", head: Worker) -> None:
    """Step 2, on the head database at heads."""
    data = run.ev.data
    data.head_sets = run.plan.head_seeds
    if not data.head_sets:
        data.seeds_skipped = "the project has no seeds (app/seeds/, or seeds in [tool.migbot])"
        return
    if run.heads_snapshot is None:
        data.seeds_skipped = "the branch's migrations do not reach head"
        return
    ignore = run.plan.settings.seeds.ignore_columns
    for plan in data.head_sets:
        run.ctx.progress.step(f"{run.prefix}seeds: {plan.name}")
        outcome = run._call(head, run.head_tree, "seed", modules=plan.modules, command=plan.command)
        data.first_run.append(SeedRun(plan, outcome))
        if not outcome.ok:
            return
    with _connect(run, run.head_db) as conn:
        tables = user_tables(conn, (run.version_table[0],))
        before = fingerprints(conn, tables, ignore)
        data.rows = {t: f.rows for t, f in before.items()}
    seeded = run.ctx.databases.create(run.role_seeded, template=run.head_db)  # the first run's result, kept
    for plan in data.head_sets:
        run.ctx.progress.step(f"{run.prefix}seeds: {plan.name} again")
        outcome = run._call(head, run.head_tree, "seed", modules=plan.modules, command=plan.command)
        data.second_run.append(SeedRun(plan, outcome))
        if not outcome.ok:
            break
    if all(r.outcome.ok for r in data.second_run):
        with _connect(run, run.head_db) as conn:
            after = fingerprints(conn, tables, ignore)
        data.second_run_changes = _changed(run, tables, seeded, before, after)
    run.ctx.databases.drop(seeded)
    run.heads_snapshot = None  # the head database now holds seed rows


def migrations_over_data(run: "ProjectRun", head: Worker) -> None:
    """Step 3: the new revisions up and down over the base data."""
    ev, data = run.ev, run.ev.data
    if run.base_data_ready is not None:
        run.base_data_ready.wait()
        run.base_data_ready = None
    reason = _data_skip_reason(run)
    if reason:
        data.data_skipped = reason
        return
    run.ctx.databases.create(run.role_head, template=run.data_db)
    run.ctx.progress.step(f"{run.prefix}over data: upgrade heads")
    data.up = run._call(head, run.head_tree, "upgrade", target="heads")
    if data.up.ok:
        data.down_target = ev.base_heads[0] if ev.base_heads else "base"
        run.ctx.progress.step(f"{run.prefix}over data: downgrade {data.down_target}")
        data.down = run._call(head, run.head_tree, "downgrade", target=data.down_target)
        if data.down.ok:
            kept = {t for t in ev.base_snapshot.get("table") if t in ev.head_snapshot.get("table")} \
                if ev.head_snapshot is not None else set()
            with _connect(run, run.head_db) as conn:
                tables = [t for t in user_tables(conn, (run.version_table[0],)) if t.qualified in kept]
                after = fingerprints(conn, tables, run.plan.settings.seeds.ignore_columns)
            data.compared_tables = len(tables)
            data.lost = _changed(run, tables, run.data_db, data.base_fingerprints, after)


def _data_skip_reason(run: "ProjectRun") -> str | None:
    ev = run.ev
    if ev.data.synthetic is None:
        return "the base data could not be built"
    if not ev.new_revisions:
        return "the branch adds no revisions"
    if ev.stairway_skipped or any(t.upgrade is None or not t.upgrade.ok for t in ev.trips):
        return "a revision does not upgrade even on an empty database"
    if not ev.data.base_rows or not any(ev.data.base_rows.values()):
        return "the base has no tables to put rows in"
    rt = ev.roundtrip
    if rt.skipped:
        return f"the round trip is skipped: {rt.skipped}"
    if any(o is not None and not o.ok for o in (rt.up, rt.down, rt.up_again)):
        return "the round trip fails even without data"
    return None


class _connect:
    """A connection to one of migbot's databases; a lost server is migbot's error, not the branch's."""

    def __init__(self, run: "ProjectRun", dbname: str):
        self.run, self.dbname = run, dbname

    def __enter__(self) -> psycopg.Connection:
        try:
            self.conn = self.run.ctx.databases.connect(self.dbname)
        except psycopg.Error as exc:
            raise InfraError(f"Lost the connection to PostgreSQL: {first_line(exc)}") from None
        return self.conn

    def __exit__(self, kind, exc, tb) -> None:
        self.conn.close()
        if isinstance(exc, psycopg.Error):
            raise InfraError(f"PostgreSQL failed while comparing data: {first_line(exc)}") from None
