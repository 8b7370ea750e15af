"""The report: one pydantic model behind every output (terminal, Markdown, JSON, ...).

Its JSON form is versioned (SCHEMA_VERSION) and described by
schema/report.schema.json, which a test regenerates and compares.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from migbot.catalog import Level
from migbot.snapshot.types import ObjectDiff, TableChange

SCHEMA_VERSION = 1

Status = Literal["pass", "fail", "warn", "skip", "off"]
StepStatus = Literal["pass", "fail", "skip"]


class Finding(BaseModel):
    """One concrete problem, where it is known. Most findings are errors; a warning finding
    makes its check warn at most, and a note is information that changes no verdict."""

    message: str = Field(min_length=1)
    severity: Literal["error", "warning", "note"] = "error"
    revision: str | None = None
    file: str | None = None
    line: int | None = None
    hint: str | None = Field(default=None, description="What to do about this finding, when migbot can tell.")
    details: list[str] = []


class SuppressedFinding(Finding):
    """A finding set aside by a `# migbot: ignore[CHECK-ID] reason` comment in its revision file."""

    reason: str = Field(description="The comment's reason (empty: none given, itself a finding of `suppressions`).")
    comment_line: int = Field(description="The line of the comment that set it aside.")


class CheckResult(BaseModel):
    id: str
    title: str
    status: Status
    level: Level
    summary: str = ""
    findings: list[Finding] = []
    suppressed: list[SuppressedFinding] = []


class Step(BaseModel):
    status: StepStatus
    seconds: float = 0.0
    note: str = ""


class Lock(BaseModel):
    table: str
    mode: str = Field(description="As PostgreSQL names it in its docs: ACCESS EXCLUSIVE, SHARE, ...")


class Statement(BaseModel):
    """One statement a migration ran, as migbot saw it run on the live database."""

    sql: str
    parameters: str = Field(default="", description="The bound values, shortened.")
    line: int | None = Field(default=None, description="The revision file's line that ran it (the op.* call).")
    seconds: float = 0.0
    locks: list[Lock] = Field(default=[], description="Relation locks taken by this statement, held until commit.")
    rewrote: list[str] = Field(default=[], description="Tables and indexes it rewrote (a new relfilenode).")


class RevisionRun(BaseModel):
    """One revision's trip up the stairway: up, down, compare, up again, compare."""

    revision: str
    file: str | None = None
    description: str = ""
    upgrade: Step
    downgrade: Step
    schema_restored: Step
    reupgrade: Step
    statements: list[Statement] = Field(default=[], description="The SQL its upgrade ran on the stairway, in order.")
    over_data: list[Statement] = Field(default=[], description="The same upgrade's statements over the base data "
                                       "(seeds and synthetic rows), when it ran there.")
    rows: dict[str, int] = Field(default={}, description="Rows in the base data of each table its upgrade locked.")
    strongest_locks: list[Lock] = Field(default=[], description="The strongest lock its upgrade took, per table.")


class MigrationEntry(BaseModel):
    file: str
    revision: str | None = None
    change: Literal["added", "modified", "downgrade-edited", "deleted", "reformatted"]
    description: str
    status: str


class SchemaImpact(BaseModel):
    known: bool = Field(default=True, description="False when the head schema was never reached.")
    new_tables: list[str] = []
    modified_tables: list[str] = []
    dropped_tables: list[str] = []
    new_indexes: list[str] = []
    changes: list[ObjectDiff] = Field(default=[], description="Every difference between the base and head schemas.")


class Verification(BaseModel):
    migration_up: Literal["pass", "warning", "fail", "skipped", "not applicable"]
    migration_down: Literal["pass", "warning", "fail", "skipped", "not applicable"]
    seed_data: Literal["pass", "warning", "fail", "skipped", "not applicable"]


class SeedSetRun(BaseModel):
    name: str
    source: str = Field(description="The folder the set was found in, or 'config'.")
    modules: list[str] = []
    command: str | None = None
    status: Literal["pass", "fail", "not run"]
    seconds: float = 0.0
    error: str | None = None


class SeedData(BaseModel):
    """What the seeds did, and the rows the new revisions were tried on."""

    applicable: bool = False
    note: str = ""
    sets: list[SeedSetRun] = []
    rows: dict[str, int] = Field(default={}, description="Rows per table after the seeds ran at head.")
    idempotent: bool | None = None
    second_run_changes: list[TableChange] = []
    base_sets: list[SeedSetRun] = Field(default=[], description="The base commit's seeds, run to fill the base data.")
    base_rows: dict[str, int] = Field(default={}, description="Rows per table the new revisions ran over.")
    synthetic_rows: dict[str, int] = Field(default={}, description="Rows migbot generated, per table left empty.")
    synthetic_skipped: dict[str, str] = Field(default={}, description="Tables migbot could not fill, and why.")


class TaskSummary(BaseModel):
    """The "Database Task Summary" of the conventions documents."""

    changes_made: list[str] = []
    files_modified: list[str] = []
    migrations: list[MigrationEntry] = []
    schema_impact: SchemaImpact = SchemaImpact()
    seed_data: list[str] = []
    verification: Verification


class DriftItem(BaseModel):
    kind: str
    table: str | None = None
    object: str | None = None
    text: str
    key: str


class Drift(BaseModel):
    checked: bool = False
    note: str = ""
    introduced: list[DriftItem] = []
    fixed: list[DriftItem] = []
    existing: list[DriftItem] = []


class Heads(BaseModel):
    merge_base: list[str] = []
    base_tip: list[str] = []
    head: list[str] = []
    after_merge: list[str] = []
    database_at_base: list[str] = Field(default=[], description="Read from alembic_version after building the base state.")
    database_at_head: list[str] = Field(default=[], description="Read from alembic_version once the head's migrations ran.")


class Timing(BaseModel):
    step: str
    seconds: float


class ProjectReport(BaseModel):
    name: str
    alembic_ini: str
    result: Literal["pass", "fail"]
    base_has_alembic: bool = True
    heads: Heads = Heads()
    summary: TaskSummary
    checks: list[CheckResult]
    stairway: list[RevisionRun] = []
    drift: Drift = Drift()
    seeds: SeedData = SeedData()
    timings: list[Timing] = []


class Counts(BaseModel):
    passed: int = 0
    failed: int = 0
    warnings: int = 0
    skipped: int = 0

    @classmethod
    def of(cls, projects: list[ProjectReport]) -> Counts:
        statuses = Counter(check.status for project in projects for check in project.checks)
        return cls(passed=statuses["pass"], failed=statuses["fail"], warnings=statuses["warn"],
                   skipped=statuses["skip"])


class Refs(BaseModel):
    base_ref: str
    base: str
    merge_base: str
    head_ref: str
    head: str


class Report(BaseModel):
    schema_version: int = SCHEMA_VERSION
    migbot_version: str = Field(pattern=r"^[0-9A-Za-z.+_-]{1,40}$")  # a version string, nothing else
    result: Literal["pass", "fail"]
    refs: Refs
    database: str
    started_at: datetime
    seconds: float
    projects: list[ProjectReport]
    counts: Counts
    notes: list[str] = []

    @property
    def passed(self) -> bool:
        return self.result == "pass"

    def for_project(self, project: ProjectReport) -> Report:
        """This report narrowed to one project: one PR comment per Alembic project."""
        return self.model_copy(update={"projects": [project], "result": project.result,
                                       "counts": Counts.of([project])})
