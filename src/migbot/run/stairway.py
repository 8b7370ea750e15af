"""The stairway: each new revision, in the order Alembic applies them, goes up, down and
up again, with a catalog snapshot at each step.

Each step is exactly one revision (TreeExecutor.step), so the downgrade of a
revision undoes that revision alone: nothing a later revision needs is applied yet,
since Alembic's order puts dependencies (`depends_on`) before their dependents.

A downgrade runs whatever its source looks like: what it does decides. When it did
nothing while the upgrade changed the schema or rows, upgrading again would only
collide with what is still there, so alembic_version is stamped back instead. When
a step fails, the database is put back at the revision (from the base template if
need be) and the stairway goes on.

The steps run in one run of env.py where it lets each step commit on its own (a session:
TreeExecutor.step), so a step costs what Alembic and PostgreSQL need for it, not a
command's start-up. Between steps migbot reads the committed schema as it would between
commands.

On a long branch (more new revisions than DUMP_EVERY_STEP_UP_TO, unless the config's
pg-dump-each-step says otherwise), the steps are compared from the catalogs alone:
pg_dump's start-up and catalog reads would cost more than the steps themselves. The
round trip then carries the pg_dump backstop, and the schema checks say so.

Nothing here judges: checks.live and checks.reversibility read the Trips.
"""

from __future__ import annotations

from migbot.evidence import StepOutcome, Trip
from migbot.progress import Progress
from migbot.run.executor import SessionLost, TreeExecutor
from migbot.snapshot.compare import compare
from migbot.snapshot.types import Snapshot

DUMP_EVERY_STEP_UP_TO = 10


def rows_of(outcome: StepOutcome | None, revision: str, upgrade: bool) -> dict[str, int] | None:
    """The rows a step wrote, per table (rewritten tables count as -1: unknown how many),
    from the worker's observation; None if it was not observed."""
    step = outcome.observed(revision, upgrade) if outcome is not None else None
    if step is None or step.get("rows") is None:
        return None
    rows = dict(step["rows"])
    for table in step.get("rewritten") or []:
        rows.setdefault(table, -1)
    return rows


def cannot_go_down(trip: Trip) -> str | None:
    """Why going down through this revision cannot restore what its upgrade did, if so."""
    if trip.downgrade is None:
        return trip.skipped.get("downgrade", "its downgrade did not run")
    if not trip.downgrade.ok:
        return "its downgrade raises" if trip.downgrade_refused() else "its downgrade fails"
    if trip.downgrade_left_it_all():
        return "its downgrade does nothing"
    return None


class Stairway:
    def __init__(self, head: TreeExecutor, revisions: list[str], *, template: str, template_snapshot: Snapshot | None,
                 progress: Progress, prefix: str = "", dump_each_step: bool | None = None,
                 branch_length: int | None = None):
        """template: the database the first revision starts from (its snapshot, if known);
        branch_length: the whole branch's, when these revisions are a part of it."""
        self.head, self.db = head, head.db
        self.revisions = revisions
        self.template, self.template_snapshot = template, template_snapshot
        self.progress, self.prefix = progress, prefix
        self.stopped: str | None = None  # why the walk stopped before the last revision, if it did
        length = len(revisions) if branch_length is None else branch_length
        if dump_each_step is None:
            dump_each_step = length <= DUMP_EVERY_STEP_UP_TO
        self.skip_dump = None if dump_each_step else (
            f"{length} new revisions, and pg_dump compares each step for up to {DUMP_EVERY_STEP_UP_TO}; "
            "it compared the round trip's ends. `pg-dump-each-step = true` makes it compare every step"
            if length > DUMP_EVERY_STEP_UP_TO else
            "`pg-dump-each-step = false`: pg_dump compared the round trip's ends only")

    def _snapshot(self) -> Snapshot:
        return self.db.snapshot(skip_dump=self.skip_dump)

    def walk(self) -> tuple[list[Trip], bool]:
        """The trips, and whether the database ended at heads with nothing in doubt."""
        self._reset()
        trips: list[Trip] = []
        stop: str | None = None
        for index, rev in enumerate(self.revisions):
            trip = Trip(rev)
            trips.append(trip)
            if stop:
                trip.skipped = dict.fromkeys(("upgrade", "downgrade", "restored", "reupgrade"), stop)
                continue
            try:
                stop = self._step(trip, self.revisions[:index + 1])
            except SessionLost:
                # Its step did not commit in the session: again from the revision before, one command a step.
                trips[-1] = trip = Trip(rev)
                stop = self._rebuild(self.revisions[index - 1], self.revisions[:index]) if index else \
                    self._reset()
                stop = stop or self._step(trip, self.revisions[:index + 1])
        self.head.end_session()
        self.stopped = stop
        clean = stop is None and all(t.upgrade is not None and t.upgrade.ok for t in trips) \
            and all(t.reupgrade is None or (t.reupgrade.ok and t.reupgraded is not None and t.reupgraded.empty)
                    for t in trips)
        return trips, clean

    def _step(self, trip: Trip, up_to: list[str]) -> str | None:
        """Up, down and up again for one revision; returns why the stairway must stop, if so."""
        rev, step = trip.revision, self.progress.step
        before = self._snapshot()
        step(f"{self.prefix}{rev}: upgrade")
        trip.upgrade = self.head.step(rev, upgrade=True, observe=True)
        if not trip.upgrade.ok:
            trip.skipped = dict.fromkeys(("downgrade", "restored", "reupgrade"), "the upgrade failed")
            return f"revision {rev} failed to upgrade"
        trip.rows_up = rows_of(trip.upgrade, rev, True)
        after_up = self._snapshot()
        trip.applied = compare(before, after_up)
        step(f"{self.prefix}{rev}: downgrade")
        trip.downgrade = self.head.step(rev, upgrade=False, observe=True)
        if not trip.downgrade.ok:
            reason = "the downgrade raises on purpose" if trip.downgrade_refused() else "the downgrade failed"
            trip.skipped = dict.fromkeys(("restored", "reupgrade"), reason)
            return self._back_at(rev, up_to, after_up)
        trip.rows_down = rows_of(trip.downgrade, rev, False)
        after_down = self._snapshot()
        trip.undone = compare(after_up, after_down)
        trip.restored = compare(before, after_down)
        if trip.downgrade_left_it_all():
            # Upgrading again would collide with what the upgrade left: put alembic_version back.
            trip.skipped = {"reupgrade": "the downgrade did nothing"}
            stamped = self.head.stamp_step(rev)
            return None if stamped.ok and rev in self.db.heads() else self._rebuild(rev, up_to)
        step(f"{self.prefix}{rev}: upgrade again")
        trip.reupgrade = self.head.step(rev, upgrade=True)
        if not trip.reupgrade.ok:
            return self._rebuild(rev, up_to)
        trip.reupgraded = compare(after_up, self._snapshot())
        return None

    def _back_at(self, rev: str, up_to: list[str], expected: Snapshot) -> str | None:
        """After a failed downgrade: is the database still exactly at `rev`? Else rebuild it."""
        if rev in self.db.heads() and compare(expected, self._snapshot()).empty:
            return None  # the failed step rolled back cleanly
        return self._rebuild(rev, up_to)

    def _reset(self) -> None:
        self.head.end_session()  # its connection holds the database
        self.db.reset(self.template, self.template_snapshot)

    def _rebuild(self, rev: str, up_to: list[str]) -> str | None:
        """The database at `rev` again: the base template, then every new revision up to it."""
        self._reset()
        rebuilt = self.head.apply(up_to, upgrade=True)
        if not rebuilt.ok:
            return f"the database could not be rebuilt at {rev} after a failed step"
        return None
