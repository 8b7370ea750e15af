"""What a live run saw, as plain data: the runner writes it; checks and the report read it.

Nothing here judges and nothing here acts. A field that is None was not observed,
and the checks say so rather than guess. The only imports are the plain snapshot
types (snapshot.types).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migbot.snapshot.types import Fingerprint, SchemaDiff, Snapshot, TableChange

if TYPE_CHECKING:  # only for annotations: a seed set is a plan, which the evidence refers to
    from migbot.discover.seeds import SeedSetPlan


@dataclass
class StepError:
    type: str
    message: str
    file: str | None = None
    line: int | None = None
    revision: str | None = None
    traceback: str = ""
    kind: str = ""  # "timeout", "crash", "wrong-database", "interpreter", or "" for the project's own code
    table: str | None = None  # what PostgreSQL named, for errors over data
    constraint: str | None = None
    column: str | None = None
    # Raised by a `raise` statement in the revision's own code (a downgrade that refuses on
    # purpose), or a NotImplementedError: not an accident of the database or a typo.
    deliberate: bool = False


@dataclass
class StepOutcome:
    ok: bool
    seconds: float
    result: Any = None
    error: StepError | None = None

    def observed(self, revision: str, upgrade: bool = True) -> dict | None:
        """The worker's record of one step this outcome ran (observe.py), if it succeeded."""
        if not self.ok or not isinstance(self.result, dict):
            return None
        return next((s for s in self.result.get("steps", []) if s["revision"] == revision
                     and bool(s.get("upgrade")) == upgrade), None)


# --- what Alembic says --------------------------------------------------------------------
@dataclass
class LiveRevision:
    """One revision as Alembic's RevisionMap holds it."""

    id: str
    down_revisions: tuple[str, ...] = ()  # the versioned parents
    dependencies: tuple[str, ...] = ()  # depends_on, resolved to revision ids
    branch_labels: tuple[str, ...] = ()
    path: str = ""  # repo-relative when inside the tree, else as Alembic has it
    doc: str = ""


@dataclass
class AlembicMap:
    """The revision map of one tree, read from Alembic after env.py configured it."""

    revisions: dict[str, LiveRevision] = field(default_factory=dict)
    heads: list[str] = field(default_factory=list)
    script_dir: str | None = None  # repo-relative (None: outside the repository)
    version_dirs: list[str] = field(default_factory=list)  # repo-relative, as env.py left them
    outside_tree: list[str] = field(default_factory=list)  # version locations outside the repository

    @property
    def paths(self) -> set[str]:
        return {rev.path for rev in self.revisions.values()}

    def parents(self, revision: str) -> tuple[str, ...]:
        rev = self.revisions.get(revision)
        return (rev.down_revisions + rev.dependencies) if rev else ()

    def ancestors(self, revisions: list[str] | set[str]) -> set[str]:
        """The revisions that must be applied before these (parents and dependencies, recursively)."""
        seen: set[str] = set()
        stack = [p for r in revisions for p in self.parents(r)]
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.parents(current))
        return seen

    def descendants(self, revision: str) -> set[str]:
        """The revisions that need `revision` (as a parent or a dependency), recursively."""
        children: dict[str, set[str]] = {}
        for rev in self.revisions.values():
            for parent in rev.down_revisions + rev.dependencies:
                children.setdefault(parent, set()).add(rev.id)
        seen: set[str] = set()
        stack = list(children.get(revision, ()))
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(children.get(current, ()))
        return seen


# --- the stairway, round trip and the rest --------------------------------------------------
@dataclass
class Trip:
    """One new revision's stairway step: up, down, up again, with snapshots in between."""

    revision: str
    upgrade: StepOutcome | None = None
    applied: SchemaDiff | None = None  # before the upgrade vs after it: what the upgrade changed
    rows_up: dict[str, int] | None = None  # rows the upgrade wrote, per table (None: not observed)
    downgrade: StepOutcome | None = None
    undone: SchemaDiff | None = None  # after the upgrade vs after the downgrade: what the downgrade changed
    rows_down: dict[str, int] | None = None
    restored: SchemaDiff | None = None  # before the upgrade vs after the downgrade
    reupgrade: StepOutcome | None = None
    reupgraded: SchemaDiff | None = None  # after the upgrade vs after the second upgrade
    skipped: dict[str, str] = field(default_factory=dict)  # step -> reason

    def downgrade_refused(self) -> bool:
        """The downgrade raised on purpose (NotImplementedError, a `raise` in the revision)."""
        return self.downgrade is not None and not self.downgrade.ok and self.downgrade.error is not None \
            and self.downgrade.error.deliberate

    def upgrade_changed_something(self) -> bool | None:
        """Did the upgrade change the schema or write rows on the stairway's database? None: the
        schema did not change and the rows were not observed."""
        if self.applied is not None and not self.applied.empty:
            return True
        if self.rows_up is None:
            return None
        return bool(self.rows_up)

    def downgrade_did_nothing(self) -> bool | None:
        """The downgrade ran and changed neither the schema nor any row. None: it left the schema
        alone, and its rows were not observed."""
        if self.downgrade is None or not self.downgrade.ok or self.undone is None or not self.undone.empty:
            return False
        if self.rows_down is None:
            return None
        return not self.rows_down

    def downgrade_left_it_all(self) -> bool | None:
        """The upgrade changed something, and the downgrade undid none of it (on the stairway's
        database). None: migbot could not observe enough to say."""
        nothing = self.downgrade_did_nothing()
        if nothing is False:
            return False
        if self.applied is not None and not self.applied.empty:
            return True  # the schema it changed is still there, whatever happened to rows
        changed = self.upgrade_changed_something()
        if changed is False:
            return False
        return None if changed is None or nothing is None else True


@dataclass
class RoundTrip:
    up: StepOutcome | None = None  # only when the stairway left the database in doubt
    down: StepOutcome | None = None
    down_diff: SchemaDiff | None = None  # base schema vs after going down
    down_heads: list[str] | None = None  # alembic_version after going down
    up_again: StepOutcome | None = None
    up_diff: SchemaDiff | None = None  # head schema vs after going up again
    skipped: str | None = None


@dataclass
class EditedDowngrade:
    """A base revision whose downgrade() alone the branch edited, run with the branch's code:
    from the base heads down past it (with everything that needs it) and back up."""

    revision: str
    unapplied: list[str] = field(default_factory=list)  # in the order they went down
    down: StepOutcome | None = None
    up: StepOutcome | None = None
    restored: SchemaDiff | None = None  # the base schema vs after going down and up again
    skipped: str | None = None


@dataclass
class SeedRun:
    """One seed set's run: the plan and how it went."""

    plan: SeedSetPlan
    outcome: StepOutcome


@dataclass
class SquawkEvidence:
    """What squawk said about the SQL the new revisions' upgrades ran (run/lint_sql.py)."""

    version: str = ""
    findings: list[dict] = field(default_factory=list)  # revision, rule, message, help, line, sql
    excluded: list[str] = field(default_factory=list)  # the rules left out
    revisions: int = 0  # how many revisions' SQL it read
    skipped: str | None = None


@dataclass
class DataEvidence:
    head_sets: list[SeedSetPlan] = field(default_factory=list)
    first_run: list[SeedRun] = field(default_factory=list)
    second_run: list[SeedRun] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows after the first run
    second_run_changes: list[TableChange] | None = None
    seeds_skipped: str | None = None
    base_runs: list[SeedRun] = field(default_factory=list)
    synthetic_filled: dict[str, int] | None = None  # None: the base data was never built
    synthetic_skipped: dict[str, str] = field(default_factory=dict)
    base_rows: dict[str, int] = field(default_factory=dict)  # table -> rows in the base data
    base_fingerprints: dict[str, Fingerprint] = field(default_factory=dict)
    up: StepOutcome | None = None
    rows_up: dict[str, dict[str, int]] | None = None  # revision -> table -> rows written over the data
    down: StepOutcome | None = None
    rows_down: dict[str, dict[str, int]] | None = None  # revision -> table -> rows its downgrade wrote over the data
    down_skipped: str | None = None
    lost: list[TableChange] | None = None
    compared_tables: int = 0
    data_skipped: str | None = None
    # sequence -> why its next value collides: in the base data, after going up, after going back down
    sequences_behind_base: dict[str, str] = field(default_factory=dict)
    sequences_behind_up: dict[str, str] = field(default_factory=dict)
    sequences_behind_down: dict[str, str] = field(default_factory=dict)


@dataclass
class Interpreter:
    python: str = ""  # the executable
    version: str = ""
    alembic: str = ""
    sqlalchemy: str = ""


@dataclass
class Evidence:
    base_has_alembic: bool = True
    interpreter: Interpreter = field(default_factory=Interpreter)
    server: str = ""  # host:port of the PostgreSQL migbot gave the project's code
    base_load: StepOutcome | None = None
    base_map: AlembicMap | None = None
    base_bootstrap: StepOutcome | None = None
    base_upgrade: StepOutcome | None = None
    base_heads: list[str] = field(default_factory=list)
    base_snapshot: Snapshot | None = None
    base_drift: StepOutcome | None = None
    head_load: StepOutcome | None = None
    alembic: AlembicMap | None = None  # the head's revision map: the plan every live step follows
    plan_error: StepOutcome | None = None  # Alembic could not plan `upgrade heads` from the base heads
    new_revisions: list[str] = field(default_factory=list)  # Alembic's steps for `upgrade heads` from the base
    trips: list[Trip] = field(default_factory=list)
    stairway_skipped: str | None = None
    roundtrip: RoundTrip = field(default_factory=RoundTrip)
    head_upgrade: StepOutcome | None = None
    head_snapshot: Snapshot | None = None
    head_heads: list[str] = field(default_factory=list)
    head_drift: StepOutcome | None = None
    # At heads (snapshot.conventions): {"unindexed_foreign_keys": [...], "tables_without_primary_key": [...]}
    head_conventions: dict | None = None
    squawk: SquawkEvidence | None = None
    drift_in_fresh_worker: bool = False  # the migrations changed the models' metadata in memory
    edited_downgrades: list[EditedDowngrade] = field(default_factory=list)
    unloaded_revision_files: list[str] = field(default_factory=list)  # changed by the branch, loaded by no history
    # Folders that already held revisions no verified run loads (a history for another database or
    # dialect, chosen by env.py), with the branch's changed files in them.
    unverified_histories: dict[str, list[str]] = field(default_factory=dict)
    live_skipped: str | None = None  # why nothing live ran past the base
    timings: list[tuple[str, float]] = field(default_factory=list)
    imported_files: list[str] = field(default_factory=list)
    data: DataEvidence = field(default_factory=DataEvidence)
