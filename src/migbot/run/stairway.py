"""The live run for one Alembic project: build the base state, walk the stairway,
go round trip, and compare models with the database.

1. Base state: the merge-base's own code runs `upgrade heads` (after the
   configured bootstrap, if any) in a fresh database; its alembic_version gives
   the base heads. That database becomes the template for everything after.
2. Stairway: for each new revision, in order, with the head's code: upgrade and
   snapshot; downgrade to the parent and compare with the snapshot from before
   the upgrade; upgrade again and compare with the first snapshot.
3. Round trip: all new revisions down to the base heads in one command and up
   again in one command, from the stairway's end (or, if the stairway left the
   database in doubt, from a fresh clone of the base after one upgrade to heads).
4. Drift: Alembic's compare_metadata at base (base code, computed by the base worker
   while the head works: the stairway clones a template copy of the base, not the
   base itself) and at head (head code).

Nothing here judges: it gathers Evidence, and checks.live turns it into verdicts.
Each step that fails is recorded, and what depends on it is skipped with a reason.
"""

from __future__ import annotations

import os
import time

import psycopg
from psycopg import sql
from dataclasses import dataclass, field
from pathlib import Path

from migbot.config import MigbotConfig
from migbot.discover.revisions import RevisionFile
from migbot.errors import InfraError, UsageError, first_line
from migbot.plan.changes import ProjectPlan
from migbot.plan.graph import RevisionGraph
from migbot.run.client import StepOutcome, Worker
from migbot.run.context import RunContext
from migbot.run.data import DataEvidence, build_base_data, migrations_over_data, seeds_at_head
from migbot.snapshot.catalog import Snapshot, take_snapshot
from migbot.snapshot.compare import SchemaDiff, compare


@dataclass
class Trip:
    """One new revision's stairway step."""

    revision: str
    upgrade: StepOutcome | None = None
    downgrade: StepOutcome | None = None
    restored: SchemaDiff | None = None  # schema before upgrade vs after downgrade
    reupgrade: StepOutcome | None = None
    reupgraded: SchemaDiff | None = None  # schema after upgrade vs after the second upgrade
    skipped: dict[str, str] = field(default_factory=dict)  # step -> reason


@dataclass
class RoundTrip:
    up: StepOutcome | None = None
    down: StepOutcome | None = None
    down_diff: SchemaDiff | None = None  # base schema vs after going down
    up_again: StepOutcome | None = None
    up_diff: SchemaDiff | None = None  # head schema vs after going up again
    skipped: str | None = None
    down_target: str = ""


@dataclass
class Evidence:
    base_has_alembic: bool = True
    base_load: StepOutcome | None = None
    base_bootstrap: StepOutcome | None = None
    base_upgrade: StepOutcome | None = None
    base_heads: list[str] = field(default_factory=list)
    base_snapshot: Snapshot | None = None
    base_drift: StepOutcome | None = None
    head_load: StepOutcome | None = None
    head_graph: RevisionGraph | None = None
    new_revisions: list[str] = field(default_factory=list)
    trips: list[Trip] = field(default_factory=list)
    stairway_skipped: str | None = None
    roundtrip: RoundTrip = field(default_factory=RoundTrip)
    head_upgrade: StepOutcome | None = None
    head_snapshot: Snapshot | None = None
    head_heads: list[str] = field(default_factory=list)
    head_drift: StepOutcome | None = None
    live_skipped: str | None = None  # why nothing live ran past the base
    timings: list[tuple[str, float]] = field(default_factory=list)
    imported_files: list[str] = field(default_factory=list)
    interpreter: str = ""
    data: DataEvidence = field(default_factory=DataEvidence)


class ProjectRun:
    def __init__(self, ctx: RunContext, plan: ProjectPlan, config: MigbotConfig, index: int):
        self.ctx = ctx
        self.plan = plan
        self.config = config
        self.ev = Evidence(base_has_alembic=plan.merge_base.project is not None)
        self.prefix = "" if plan.name == "." else f"{plan.name}: "  # progress lines, in a monorepo
        self.role_base = f"p{index}_base"
        self.role_data = f"p{index}_data"
        self.role_template = f"p{index}_template"
        self.role_seeded = f"p{index}_seeded"
        self.data_db = ""
        self.base_data_ready = None  # the background fill of the base data, see data.py
        self.role_head = f"p{index}_head"
        self.version_table = ("alembic_version", None)
        self.base_db = ""
        self.head_db = ""
        self._base_worker: Worker | None = None
        self._base_tree: Path | None = None
        self._base_drift_early: StepOutcome | None = None
        self._base_drift_started = 0.0
        self.template_db = ""  # a copy of the base state that the stairway clones
        self.head_tree: Path | None = None
        # Set while the head database is known to be at heads, in a state to trust.
        self.heads_snapshot: Snapshot | None = None

    # --- helpers ----------------------------------------------------------------
    def _timed(self, label: str, started: float) -> None:
        self.ev.timings.append((label, round(time.monotonic() - started, 3)))

    def _call(self, worker: Worker, tree: Path, cmd: str, **args) -> StepOutcome:
        outcome = _setup_problem(self._localize(worker.request(cmd, **args), tree), worker)
        if outcome.error is not None and outcome.error.kind in ("timeout", "crash"):
            # The killed worker's backend may still hold locks the next step would wait on.
            self.ctx.databases.disconnect_all(self.base_db if worker is self._base_worker else self.head_db)
        return outcome

    def _localize(self, outcome: StepOutcome, tree: Path) -> StepOutcome:
        """Secrets out, tree paths made repo-relative."""
        outcome = self.ctx.redact.outcome(outcome)
        err = outcome.error
        if err and err.file:
            try:
                err.file = os.path.relpath(err.file, tree)
            except ValueError:
                pass
            if err.file.startswith(".."):
                err.file = None  # outside the repository: not worth pointing at
        if err:
            # Same error at base and head reads the same (the trees live in different folders).
            err.message = err.message.replace(str(tree) + os.sep, "")
            err.traceback = err.traceback.replace(str(tree) + os.sep, "")
        return outcome

    def snapshot(self, dbname: str) -> Snapshot:
        try:
            with self.ctx.databases.connect(dbname) as conn:
                return take_snapshot(conn, version_tables=(self.version_table[0],))
        except psycopg.Error as exc:
            raise InfraError(f"Lost the connection to PostgreSQL while reading the schema: {first_line(exc)}") from None

    def db_heads(self, dbname: str) -> list[str]:
        """alembic_version's rows, wherever env.py's search_path put the table."""
        table, schema = self.version_table
        try:
            with self.ctx.databases.connect(dbname) as conn:
                found = conn.execute(
                    "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relname = %s AND c.relkind IN ('r', 'p') AND (%s::text IS NULL OR n.nspname = %s) "
                    "ORDER BY n.nspname = 'public' DESC, n.nspname LIMIT 1", (table, schema, schema)).fetchone()
                if found is None:
                    return []
                rows = conn.execute(sql.SQL("SELECT version_num FROM {}.{}").format(
                    sql.Identifier(found[0]), sql.Identifier(table))).fetchall()
        except psycopg.Error as exc:
            raise InfraError(f"Lost the connection to PostgreSQL while reading {table}: {first_line(exc)}") from None
        return sorted(row[0] for row in rows)

    # --- the run --------------------------------------------------------------------
    def run(self) -> Evidence:
        try:
            return self._run()
        finally:
            if self._base_worker is not None:
                self._base_worker.stop()
            if self.base_data_ready is not None:  # never leave the thread writing during cleanup
                try:
                    self.base_data_ready.wait()
                except Exception:  # noqa: BLE001 - the run is already ending with its own outcome
                    pass

    def _run(self) -> Evidence:
        ctx, plan, progress = self.ctx, self.plan, self.ctx.progress
        started = time.monotonic()
        self.head_tree = ctx.tree(plan.head.commit)
        base_tree = ctx.tree(plan.merge_base.commit) if self.ev.base_has_alembic else None
        self.base_db = ctx.databases.create(self.role_base)
        self.head_db = ctx.databases.create(self.role_head)
        self._timed("create databases", started)

        head = ctx.worker(role="head", project=plan.project, settings=plan.settings, tree=self.head_tree,
                          dbname=self.head_db)
        # The head tree imports the app while the base state is being built.
        head_started = time.monotonic()
        early = head.submit("load")
        if base_tree is not None:
            self._build_base(base_tree)
        else:
            self.ev.base_snapshot = self.snapshot(self.base_db)
            self.ev.data.data_skipped = "there is no Alembic project at the base, so no rows to migrate"
        progress.step(f"{self.prefix}loading env.py and models at head")
        self.ev.head_load = _setup_problem(self._localize(early if early is not None else head.collect(),
                                                          self.head_tree), head)
        self.ev.interpreter = head.python
        self._timed("head: load env.py and models", head_started)
        if not self.ev.head_load.ok:
            self.ev.live_skipped = "env.py or the models failed to load at head"
            head.stop()
            return self.ev
        info = self.ev.head_load.result
        self._note_version_table(info)
        self.ev.imported_files = info.get("imported_files", [])
        self.ev.head_graph = _live_graph(info["revisions"], self.head_tree)
        if self.ev.base_snapshot is None:
            self.ev.live_skipped = "the base state could not be built"
            head.stop()
            return self.ev
        try:
            self._stairway(head)
            self._roundtrip(head)
            self._head_state(head)
            started = time.monotonic()
            seeds_at_head(self, head)
            migrations_over_data(self, head)
            self._timed("head: seeds, and the new revisions over data", started)
        finally:
            head.stop()
        return self.ev

    def _build_base(self, tree: Path) -> None:
        """The base state with the base commit's code. The base worker stays up (run() stops
        it) in case the head's model drift needs the base's for comparison."""
        ctx, plan, progress = self.ctx, self.plan, self.ctx.progress
        base = ctx.worker(role="base", project=plan.merge_base.project, settings=plan.settings, tree=tree,
                          dbname=self.base_db)
        self._base_worker = base
        started = time.monotonic()
        progress.step(f"{self.prefix}loading env.py and models at base")
        self.ev.base_load = self._call(base, tree, "load")
        self._timed("base: load env.py and models", started)
        if not self.ev.base_load.ok:
            return
        self._note_version_table(self.ev.base_load.result)
        started = time.monotonic()
        if plan.settings.bootstrap:
            progress.step(f"{self.prefix}base: running the bootstrap command")
            self.ev.base_bootstrap = self._call(base, tree, "shell", command=plan.settings.bootstrap)
            if not self.ev.base_bootstrap.ok:
                return
        progress.step(f"{self.prefix}base: alembic upgrade heads")
        self.ev.base_upgrade = self._call(base, tree, "upgrade", target="heads")
        self._timed("base: build the base state", started)
        if not self.ev.base_upgrade.ok:
            return
        self.ev.base_heads = self.db_heads(self.base_db)
        self.ev.base_snapshot = self.snapshot(self.base_db)
        self.template_db = ctx.databases.create(self.role_template, template=self.base_db)
        started = time.monotonic()
        build_base_data(self, base, tree)
        self._timed("base: the base's seeds on a copy", started)
        self._base_tree = tree
        # Collected in _head_state; meanwhile the base worker is otherwise idle.
        self._base_drift_started = time.monotonic()
        self._base_drift_early = base.submit("drift")

    def _note_version_table(self, info: dict) -> None:
        self.version_table = (info.get("version_table") or "alembic_version", info.get("version_table_schema"))

    def _reset_head(self) -> None:
        self.ctx.databases.create(self.role_head, template=self.template_db or self.base_db)

    def _stairway(self, head: Worker) -> None:
        ev, plan, progress = self.ev, self.plan, self.ctx.progress
        graph = ev.head_graph
        known = set(ev.base_heads)
        for missing in sorted(known - graph.ids):
            ev.stairway_skipped = (f"the base database is at revision {missing}, which the head branch "
                                   "no longer has")
        # Applied: the base heads and their ancestors, and whatever existed at the merge-base
        # (which matters when the branch deleted the revision the base database is at).
        applied = set(known) | plan.merge_base.graph.ids
        for rev in known & graph.ids:
            applied |= graph.ancestors(rev)
        ev.new_revisions = graph.topological(graph.ids - applied)
        started = time.monotonic()
        self._reset_head()
        current = ev.base_snapshot
        stop_reason = ev.stairway_skipped
        for rev in ev.new_revisions:
            trip = Trip(rev)
            ev.trips.append(trip)
            if stop_reason:
                trip.skipped = dict.fromkeys(("upgrade", "downgrade", "restored", "reupgrade"), stop_reason)
                continue
            progress.step(f"{self.prefix}{rev}: upgrade")
            trip.upgrade = self._call(head, self.head_tree, "upgrade", target=rev)
            if not trip.upgrade.ok:
                trip.skipped = dict.fromkeys(("downgrade", "restored", "reupgrade"), "the upgrade failed")
                stop_reason = f"revision {rev} failed to upgrade"
                continue
            after_up = self.snapshot(self.head_db)
            static = plan.revision_file(rev)
            if static is not None and static.irreversible:
                reason = _irreversible_reason(static)
                allowed = self.config.allowed_irreversible(rev)
                if allowed:
                    reason += f" (allowed: {allowed.reason})"
                trip.skipped = dict.fromkeys(("downgrade", "restored", "reupgrade"), reason)
                current = after_up
                continue
            progress.step(f"{self.prefix}{rev}: downgrade")
            trip.downgrade = self._call(head, self.head_tree, "downgrade", target=_one_step_down(graph, rev))
            if not trip.downgrade.ok:
                trip.skipped = dict.fromkeys(("restored", "reupgrade"), "the downgrade failed")
                current, stop_reason = self._recover(head, rev, after_up)
                continue
            trip.restored = compare(current, self.snapshot(self.head_db))
            progress.step(f"{self.prefix}{rev}: upgrade again")
            trip.reupgrade = self._call(head, self.head_tree, "upgrade", target=rev)
            if not trip.reupgrade.ok:
                current, stop_reason = self._recover(head, rev, None)
                continue
            after_reup = self.snapshot(self.head_db)
            trip.reupgraded = compare(after_up, after_reup)
            current = after_reup
        if stop_reason is None and all(_clean(t) for t in ev.trips):
            self.heads_snapshot = current
        self._timed("head: stairway (up, down, up per revision)", started)

    def _recover(self, head: Worker, rev: str, expected: Snapshot | None) -> tuple[Snapshot | None, str | None]:
        """Put the head database at `rev` again after a failed step, so the stairway can go on."""
        if expected is not None and rev in self.db_heads(self.head_db):
            now = self.snapshot(self.head_db)
            if not compare(expected, now).changes:
                return now, None  # the failed step rolled back cleanly
        self._reset_head()
        rebuilt = self._call(head, self.head_tree, "upgrade", target=rev)
        if not rebuilt.ok:
            return None, f"the database could not be rebuilt at {rev} after a failed step"
        return self.snapshot(self.head_db), None

    def _roundtrip(self, head: Worker) -> None:
        ev, rt, progress = self.ev, self.ev.roundtrip, self.ctx.progress
        if not ev.new_revisions:
            rt.skipped = "the branch adds no revisions"
            return
        failed = [t.revision for t in ev.trips if t.upgrade is None or not t.upgrade.ok]
        if failed or ev.stairway_skipped:
            rt.skipped = ev.stairway_skipped or f"revision {failed[0]} does not upgrade"
            return
        irreversible = [r for r in ev.new_revisions if (f := self.plan.revision_file(r)) and f.irreversible]
        if irreversible:
            rt.skipped = f"revision {irreversible[0]} has no downgrade"
            return
        if len(ev.base_heads) > 1:
            rt.skipped = "the base has several heads; migbot cannot name one revision to go down to"
            return
        roots = [r for r in ev.new_revisions if not ev.head_graph.by_id[r].down_revisions]
        if roots and ev.base_heads:
            rt.skipped = (f"the branch starts an independent branch of revisions ({roots[0]}); going down to "
                          f"{ev.base_heads[0]} would not touch it")
            return
        started = time.monotonic()
        at_head = self.heads_snapshot
        if at_head is None:
            # The stairway left the database in doubt: start again from the base.
            self._reset_head()
            progress.step(f"{self.prefix}round trip: upgrade heads")
            rt.up = self._call(head, self.head_tree, "upgrade", target="heads")
            if not rt.up.ok:
                return
            at_head = self.snapshot(self.head_db)
        # Otherwise the clean stairway already went base → head, one revision at a time;
        # going down and up again in one command each covers the rest.
        rt.down_target = ev.base_heads[0] if ev.base_heads else "base"
        progress.step(f"{self.prefix}round trip: downgrade {rt.down_target}")
        self.heads_snapshot = None
        rt.down = self._call(head, self.head_tree, "downgrade", target=rt.down_target)
        if rt.down.ok:
            rt.down_diff = compare(ev.base_snapshot, self.snapshot(self.head_db))
            progress.step(f"{self.prefix}round trip: upgrade heads again")
            rt.up_again = self._call(head, self.head_tree, "upgrade", target="heads")
            if rt.up_again.ok:
                again = self.snapshot(self.head_db)
                rt.up_diff = compare(at_head, again)
                if rt.up_diff.empty:
                    self.heads_snapshot = again
        self._timed("head: round trip (head → base → head)", started)

    def _head_state(self, head: Worker) -> None:
        """Make sure the head database is at heads, then compare the models with it."""
        ev = self.ev
        started = time.monotonic()
        if self.heads_snapshot is None:
            if any(t.upgrade is not None and not t.upgrade.ok for t in ev.trips) or ev.stairway_skipped:
                return  # the branch's migrations do not reach head; drift is skipped
            if ev.new_revisions:
                self._reset_head()
            ev.head_upgrade = self._call(head, self.head_tree, "upgrade", target="heads")
            if not ev.head_upgrade.ok:
                return
            self.heads_snapshot = self.snapshot(self.head_db)
        ev.head_heads = self.db_heads(self.head_db)
        ev.head_snapshot = self.heads_snapshot
        self.ctx.progress.step(f"{self.prefix}comparing models with the database at head")
        ev.head_drift = self._call(head, self.head_tree, "drift")
        self._timed("head: compare models with the database", started)
        if self._base_tree is not None:
            outcome = self._base_drift_early or self._base_worker.collect()
            ev.base_drift = self._localize(outcome, self._base_tree)
            self._timed("base: compare models with the database (alongside the head's work)",
                        self._base_drift_started)


def _setup_problem(outcome: StepOutcome, worker: Worker) -> StepOutcome:
    """An interpreter that cannot run Alembic is the setup's fault, not the branch's."""
    if outcome.error is not None and outcome.error.kind == "interpreter":
        raise UsageError(
            outcome.error.message,
            hint=f"migbot runs env.py with the project's own interpreter, and picked {worker.python}. "
            "Set `python` in [tool.migbot] (pyproject.toml) to the one from your project's virtualenv, "
            "or install your project's dependencies (with alembic) into it.",
        )
    return outcome


def _clean(trip: Trip) -> bool:
    """Did this revision's stairway step leave nothing in doubt?"""
    if trip.upgrade is None or not trip.upgrade.ok:
        return False
    if "downgrade" in trip.skipped:
        return True  # an irreversible revision: only its upgrade ran
    return bool(trip.downgrade and trip.downgrade.ok and trip.restored is not None and trip.restored.empty
                and trip.reupgrade and trip.reupgrade.ok and trip.reupgraded is not None and trip.reupgraded.empty)


def _irreversible_reason(rev: RevisionFile) -> str:
    return {
        "empty": "its downgrade() is empty",
        "not-implemented": "its downgrade() raises NotImplementedError",
        "raises": "its downgrade() only raises an exception",
        "missing": "it has no downgrade()",
    }.get(rev.downgrade, "its downgrade is irreversible")


def _one_step_down(graph: RevisionGraph, revision: str) -> str:
    """The downgrade target that undoes exactly `revision`.

    `rev@-1` is exact for linear, sibling and root revisions (plain `rev-1` on a
    root revision unwinds every branch); on a merge revision it is ambiguous,
    and going down to one parent removes just the merge point.
    """
    parents = graph.by_id[revision].down_revisions if revision in graph.by_id else ()
    return parents[0] if len(parents) > 1 else f"{revision}@-1"


def _live_graph(revisions: list[dict], tree: Path) -> RevisionGraph:
    files = []
    for rev in revisions:
        try:
            path = os.path.relpath(rev["path"], tree)
        except ValueError:
            path = rev["path"]
        files.append(RevisionFile(path=path, revision=rev["revision"], down_revisions=tuple(rev["down_revisions"]),
                                  message=rev.get("doc", "")))
    return RevisionGraph(files)
