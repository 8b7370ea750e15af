"""The live run for one Alembic project, as a list of phases over Alembic's own plan.

1. Base (base.py): the merge-base's code builds the base state; it becomes the template.
2. Plan: the head's worker loads env.py and reports Alembic's revision map; the
   static plan is aligned with it (plan.changes.align_with_alembic), and Alembic says
   which steps `upgrade heads` applies from the base heads: the new revisions.
3. Stairway (stairway.py): each new revision up, down and up again.
4. Round trip (roundtrip.py): all of them down to the base heads and up again.
5. Head state and drift: the database at heads, compare_metadata at head (and at base,
   computed by the base worker meanwhile), in a fresh worker if migrations changed the
   models' metadata in memory.
6. Seeds at head, edited downgrades of base revisions (edited.py), and the new revisions
   over rows (data.py).

Each phase writes Evidence; a phase that cannot run records why, and what depends on
it is skipped with that reason.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from migbot.config import MigbotConfig
from migbot.evidence import Evidence, Interpreter, SeedRun, StepOutcome, Trip
from migbot.plan.changes import ProjectPlan, align_with_alembic
from migbot.run import base_cache
from migbot.run.base import build_base
from migbot.run.base_cache import WORTH_CACHING, BaseCache, BaseState, RestoredData
from migbot.run.context import RunContext
from migbot.run.data import BaseData, migrations_over_data, seeds_at_head
from migbot.run.database import Database, VersionTable
from migbot.run.edited import run_edited_downgrades
from migbot.run.executor import TreeExecutor
from migbot.run.halves import walk_in_halves, worth_splitting
from migbot.run.lint_sql import lint
from migbot.run.roundtrip import round_trip
from migbot.run.stairway import Stairway
from migbot.snapshot.compare import compare
from migbot.snapshot.types import Snapshot


class ProjectRun:
    def __init__(self, ctx: RunContext, plan: ProjectPlan, config: MigbotConfig, index: int):
        self.ctx, self.plan, self.config = ctx, plan, config
        self.ev = Evidence(base_has_alembic=plan.merge_base.project is not None)
        self.prefix = "" if plan.name == "." else f"{plan.name}: "  # progress lines, in a monorepo
        self.role = f"p{index}"
        self.version_table = VersionTable()
        self.executors: list[TreeExecutor] = []
        self.base_data: BaseData | None = None
        self._base_executor: TreeExecutor | None = None
        self._base_drift_early: StepOutcome | None = None
        self._base_drift_started = 0.0
        self._cache_key: str | None = None
        self._base_cached = False  # the base came from the cache
        self._template: str | None = None
        self._keeping: tuple[threading.Thread, float, list[str], list[str | None]] | None = None
        self._split = False  # the stairway ran in two halves at once (run/halves.py)

    def run(self) -> tuple[ProjectPlan, Evidence]:
        try:
            self._run()
        finally:
            if self._keeping is not None:  # pg_dump must be done before the databases go
                self._keeping[0].join()
            for executor in self.executors:
                executor.stop()
            if self.base_data is not None:  # never leave the thread writing during cleanup
                try:
                    self.base_data.wait()
                except Exception:  # noqa: BLE001 - the run is already ending with its own outcome
                    pass
        return self.plan, self.ev

    # --- set-up -------------------------------------------------------------------------
    def _executor(self, role: str, tree: Path, db: Database, project) -> TreeExecutor:
        worker = self.ctx.worker(role=role, project=project, settings=self.plan.settings, tree=tree, dbname=db.name)
        executor = TreeExecutor(worker, tree, db, redact=self.ctx.redact, workdir=self.ctx.workdir)
        self.executors.append(executor)
        return executor

    def _database(self, name: str, template: str | None = None) -> Database:
        return Database(self.ctx.databases, f"{self.role}_{name}", self.version_table, template=template,
                        dumper=self.ctx.dumper())

    def _timed(self, label: str, started: float) -> None:
        self.ev.timings.append((label, round(time.monotonic() - started, 3)))

    # --- the run ------------------------------------------------------------------------
    def _run(self) -> None:
        ctx, plan, ev, progress = self.ctx, self.plan, self.ev, self.ctx.progress
        started = time.monotonic()
        head_tree = ctx.tree(plan.head.commit)
        base_db, head_db = self._database("base"), self._database("head")
        ev.server = f"{ctx.databases.server.host}:{ctx.databases.server.port}"
        self._timed("create databases", started)
        head = self._executor("head", head_tree, head_db, plan.project)
        head_started = time.monotonic()
        early = head.submit_load()  # the head tree imports its app while the base state is built
        template = self._template = self._base(base_db)
        progress.step(f"{self.prefix}loading env.py and models at head")
        ev.head_load = head.collect_load(early)
        facts = head.worker.facts
        ev.interpreter = Interpreter(python=_shown_path(head.worker.python, ctx.repo.root),
                                     version=facts.get("python", ""),
                                     alembic=facts.get("alembic", ""), sqlalchemy=facts.get("sqlalchemy", ""))
        self._timed("head: load env.py and models", head_started)
        if not ev.head_load.ok:
            ev.live_skipped = "env.py or the models failed to load at head"
            return
        self.version_table.learn(ev.head_load.result)
        ev.imported_files = ev.head_load.result.get("imported_files", [])
        ev.alembic = head.alembic_map(ev.head_load.result)
        self.plan = align_with_alembic(self.plan, ev.alembic, ev.base_map)
        if template is None:
            ev.live_skipped = "the base state could not be built"
            return
        self._plan_new_revisions(head)
        started = time.monotonic()
        trips, at_heads = self._stairway(head, head_tree, template) if not ev.stairway_skipped else ([], False)
        ev.trips = trips
        self._timed("head: stairway (up, down, up per revision)" + (", in two halves at once" if self._split else ""),
                    started)
        if not ev.stairway_skipped:
            started = time.monotonic()
            ev.roundtrip = round_trip(head, ev.new_revisions, trips, at_heads=at_heads, template=template,
                                      base_snapshot=ev.base_snapshot, progress=progress, prefix=self.prefix)
            self._timed("head: round trip (head → base heads → head)", started)
        else:
            ev.roundtrip.skipped = ev.stairway_skipped
        at_heads = self._head_state(head, template, at_heads)
        started = time.monotonic()
        settings = self.plan.settings.seeds
        seeds_at_head(head, ctx.databases, ev.data, sets=self.plan.head_seeds, at_heads=at_heads, settings=settings,
                      version_table=self.version_table.name, role=f"{self.role}_seeded", progress=progress,
                      prefix=self.prefix)
        self._edited_downgrades(head, template)
        self._over_data(head)
        if ev.trips:
            started = time.monotonic()
            ev.squawk = lint(ev.trips, ctx.workdir / f"squawk-{self.role}", server_major=ctx.databases.server_major(),
                             exclude=self.config.squawk_exclude)
            self._timed("head: squawk on the SQL the new revisions ran", started)
        self._timed("head: seeds, edited downgrades, and the new revisions over data", started)
        self._finish_keeping()

    def _base(self, base_db: Database) -> str | None:
        """The base state and the template copied from it; None if it could not be built. The
        base worker stays up, computing the base's model drift while the head works."""
        ev, plan = self.ev, self.plan
        if plan.merge_base.project is None:
            ev.base_snapshot = base_db.snapshot()
            ev.data.data_skipped = "there is no Alembic project at the base, so no rows to migrate"
            return base_db.name
        cache = self.ctx.base_cache()
        self._cache_key = cache and self.ctx.base_cache_key(plan.merge_base.commit, plan.settings,
                                                           superuser=self.config.superuser)
        state = cache.find(self._cache_key) if cache and self._cache_key else None
        if state is not None:
            template = self._base_from_cache(cache, state, base_db)
            if template is not None:
                return template
        tree = self.ctx.tree(plan.merge_base.commit)
        base = self._executor("base", tree, base_db, plan.merge_base.project)
        if not build_base(base, ev, bootstrap=plan.settings.bootstrap, progress=self.ctx.progress, prefix=self.prefix):
            return None
        template = self._database("template", template=base_db.name).name
        started = time.monotonic()
        self.base_data = BaseData(base, self.ctx.databases, ev.data, role=f"{self.role}_data", seeds=plan.base_seeds,
                                  settings=plan.settings.seeds, version_table=self.version_table.name,
                                  progress=self.ctx.progress, prefix=self.prefix)
        self._timed("base: the base's seeds on a copy", started)
        self._base_executor = base
        self._base_drift_started = time.monotonic()
        self._base_drift_early = base.submit_drift()
        return template

    def _base_from_cache(self, cache: BaseCache, state: BaseState, base_db: Database) -> str | None:
        """The base state restored from the cache, checked against the snapshot kept with it;
        None (and the base database empty again) when it is not that state."""
        ev, started, databases = self.ev, time.monotonic(), self.ctx.databases
        self.ctx.progress.step(f"{self.prefix}base: restoring the base state from migbot's cache")
        data = RestoredData(cache, self._cache_key, databases, role=f"{self.role}_data")
        self.version_table.name, self.version_table.schema = state.version_table
        why = cache.restore(self._cache_key, "base", base_db.name, databases.owner)
        if why is None:
            base_db.changed()
            owner = databases.owner or databases.server.user
            kept = state.base_snapshot
            if state.owner and state.owner != owner:
                kept = Snapshot.model_validate_json(kept.model_dump_json().replace(state.owner, owner))
            if not compare(kept, base_db.snapshot()).empty:
                why = "the restored database differs from the one kept"
        if why is not None:
            data.result()
            databases.drop(data.name)
            databases.create(base_db.role)
            base_db.changed()
            self.plan.notes.append(f"migbot's cache held this base state, but it could not be used ({why}): "
                                   "it was built again.")
            self._timed("base: restore from migbot's cache (failed)", started)
            return None
        self._base_cached = True
        ev.base_load, ev.base_map, ev.base_bootstrap = state.base_load, state.base_map, state.base_bootstrap
        ev.base_upgrade, ev.base_heads, ev.base_snapshot = state.base_upgrade, state.base_heads, base_db.snapshot()
        ev.base_drift = state.base_drift
        ev.data.base_runs = [SeedRun(plan, outcome) for plan, outcome in state.base_runs]
        ev.data.synthetic_filled, ev.data.synthetic_skipped = state.synthetic_filled, state.synthetic_skipped
        ev.data.base_fingerprints = state.base_fingerprints
        ev.data.base_rows = {t: f.rows for t, f in state.base_fingerprints.items()}
        ev.data.sequences_behind_base = state.sequences_behind_base
        self.base_data = data
        template = self._database("template", template=base_db.name).name
        self._timed("base: restored from migbot's cache", started)
        revisions = len(ev.base_map.revisions) if ev.base_map else 0
        self.plan.notes.append(
            f"The base state ({revisions} revisions, at {', '.join(h[:12] for h in state.base_heads)}) came from migbot's cache, made {state.made_at} "
            f"by a run with the same merge-base files, settings, interpreter and server, and was checked "
            f"against its schema snapshot: {state.seconds:.1f} s of base work saved. MIGBOT_BASE_CACHE=off "
            "builds it again.")
        return template

    def _start_keeping(self) -> None:
        """Keep the base state in the cache, when it is complete and was worth the work: the
        base and data databases are cloned, and dumped on a thread alongside the head's work."""
        ev, cache, template = self.ev, self.ctx.base_cache(), self._template
        if self._base_cached or cache is None or self._cache_key is None or self.base_data is None or \
                template is None:
            return
        seconds = sum(s for label, s in ev.timings if label.startswith("base:"))
        complete = all(o is not None and o.ok for o in (ev.base_load, ev.base_upgrade, ev.base_drift)) and \
            (ev.base_bootstrap is None or ev.base_bootstrap.ok) and all(r.outcome.ok for r in ev.data.base_runs) \
            and ev.data.synthetic_filled is not None and ev.base_snapshot is not None
        if not complete or (seconds < WORTH_CACHING and base_cache.mode() != "always"):
            return
        started, databases = time.monotonic(), self.ctx.databases
        state = BaseState(
            base_load=ev.base_load, base_map=ev.base_map, base_bootstrap=ev.base_bootstrap,
            base_upgrade=ev.base_upgrade, base_heads=ev.base_heads, base_snapshot=ev.base_snapshot,
            base_drift=ev.base_drift, version_table=(self.version_table.name, self.version_table.schema),
            base_runs=[(r.plan, r.outcome) for r in ev.data.base_runs],
            synthetic_filled=ev.data.synthetic_filled, synthetic_skipped=ev.data.synthetic_skipped,
            base_fingerprints=ev.data.base_fingerprints, sequences_behind_base=ev.data.sequences_behind_base,
            owner=databases.owner or databases.server.user, made_at=base_cache.now(), seconds=round(seconds, 1))
        copies = [databases.create(f"{self.role}_keep_base", template=template),
                  databases.create(f"{self.role}_keep_data", template=self.base_data.name)]
        why: list[str | None] = [None]

        def save() -> None:
            why[0] = cache.save(self._cache_key, state, {"base": copies[0], "data": copies[1]})

        thread = threading.Thread(target=save, name="migbot-keep-base", daemon=True)
        thread.start()
        self._keeping = (thread, started, copies, why)

    def _finish_keeping(self) -> None:
        if self._keeping is None:
            return
        thread, started, copies, why = self._keeping
        thread.join()
        self._keeping = None
        for name in copies:
            self.ctx.databases.drop(name)
        self._timed("base: kept in migbot's cache (alongside the head's work)", started)
        if why[0]:
            self.plan.notes.append(f"migbot could not keep the base state for later runs: {why[0]}.")

    def _stairway(self, head: TreeExecutor, tree: Path, template: str) -> tuple[list[Trip], bool]:
        revisions = self.ev.new_revisions
        options = dict(progress=self.ctx.progress, prefix=self.prefix, dump_each_step=self.config.pg_dump_each_step,
                       branch_length=len(revisions))
        self._split = worth_splitting(revisions)
        if not self._split:
            return Stairway(head, revisions, template=template, template_snapshot=self.ev.base_snapshot,
                            **options).walk()
        helper = self._executor("head", tree, self._database("head_first_half", template=template),
                                self.plan.project)
        return walk_in_halves(head, helper, revisions, template=template, template_snapshot=self.ev.base_snapshot,
                              clone=lambda name, source: self._database(name, template=source), **options)

    def _plan_new_revisions(self, head: TreeExecutor) -> None:
        """Alembic's own steps for `upgrade heads` from the base heads."""
        ev = self.ev
        unknown = [h for h in ev.base_heads if h not in ev.alembic.revisions]
        if unknown:
            ev.stairway_skipped = f"the base database is at revision {unknown[0]}, which the head branch no longer has"
            return
        planned = head.plan(ev.base_heads)
        if not planned.ok:
            ev.plan_error = planned
            ev.stairway_skipped = f"Alembic cannot plan `upgrade heads` from the base heads: {planned.error.message}"
            return
        ev.new_revisions = planned.result["revisions"]

    def _head_state(self, head: TreeExecutor, template: str, at_heads: bool) -> bool:
        """The head database at heads, and the models compared with it; True when it got there."""
        ev, db = self.ev, head.db
        started = time.monotonic()
        rt = ev.roundtrip
        if rt.up_again is not None and rt.up_again.ok and rt.up_diff is not None and rt.up_diff.empty:
            at_heads = True  # the round trip ended at heads, as it started
        elif rt.down is not None:
            at_heads = False  # it went down and not (cleanly) up again
        if not at_heads:
            if ev.stairway_skipped or any(t.upgrade is None or not t.upgrade.ok for t in ev.trips):
                return False  # the branch's migrations do not reach head; drift is skipped
            db.reset(template, ev.base_snapshot)
            ev.head_upgrade = head.upgrade("heads")
            if not ev.head_upgrade.ok:
                return False
        ev.head_heads = db.heads()
        ev.head_snapshot = db.snapshot()
        ev.head_conventions = db.conventions()
        self.ctx.progress.step(f"{self.prefix}comparing models with the database at head")
        ev.head_drift = self._drift(head.drift(), "head", head.tree, db, self.plan.project)
        self._timed("head: compare models with the database", started)
        base = self._base_executor
        if base is not None:
            outcome = self._base_drift_early or base.collect()
            ev.base_drift = self._drift(outcome, "base", base.tree, base.db, self.plan.merge_base.project)
            self._timed("base: compare models with the database (alongside the head's work)",
                        self._base_drift_started)
        return True

    def _drift(self, outcome: StepOutcome, role: str, tree: Path, db: Database, project) -> StepOutcome:
        """compare_metadata's outcome; again in a fresh worker if the migrations changed the
        models' metadata in the first one's memory."""
        if not (outcome.ok and isinstance(outcome.result, dict) and outcome.result.get("stale")):
            return outcome
        if role == "head":
            self.ev.drift_in_fresh_worker = True
        fresh = self._executor(role, tree, db, project)
        loaded = fresh.load()
        result = fresh.drift() if loaded.ok else loaded
        fresh.stop()
        return result

    def _edited_downgrades(self, head: TreeExecutor, template: str) -> None:
        edited = [c.revision.revision for c in self.plan.revision_changes if c.change == "downgrade-edited"]
        if not edited:
            return
        ev = self.ev
        if ev.stairway_skipped or ev.alembic is None:
            return
        ev.edited_downgrades = run_edited_downgrades(
            head, edited, ev.alembic, ev.base_heads, template=template, base_snapshot=ev.base_snapshot,
            progress=self.ctx.progress, prefix=self.prefix)

    def _over_data(self, head: TreeExecutor) -> None:
        ev = self.ev
        if self.base_data is None:
            if ev.data.data_skipped is None:
                ev.data.data_skipped = "the base data could not be built"
            return
        if isinstance(self.base_data, RestoredData) and (why := self.base_data.result()):
            ev.data.data_skipped = f"the base data could not be restored from migbot's cache ({why}); " \
                "MIGBOT_BASE_CACHE=off builds it again"
            return
        self.base_data.wait()
        self._start_keeping()
        kept = set(ev.base_snapshot.get("table")) & set(ev.head_snapshot.get("table")) \
            if ev.head_snapshot is not None else set()
        if ev.stairway_skipped:
            ev.data.data_skipped = ev.stairway_skipped
            return
        migrations_over_data(head, ev.data, data_db=self.base_data.name, revisions=ev.new_revisions, trips=ev.trips,
                             roundtrip=ev.roundtrip,
                             kept_tables=kept, settings=self.plan.settings.seeds,
                             version_table=self.version_table.name, progress=self.ctx.progress, prefix=self.prefix)


def _shown_path(python: str, root: Path) -> str:
    """The interpreter as a user finds it: relative to the repository when it lives there (.venv)."""
    try:
        return Path(python).relative_to(root).as_posix()
    except ValueError:
        return python
