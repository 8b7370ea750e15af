"""The catalogue of checks: stable ids, and for each what it catches, why, and the fix.

docs/checks.md is generated from this table (`python -m migbot.checks`), and a
test keeps the two in step. Ids are part of migbot's interface (config keys,
JSON report, annotations): never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Level(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    OFF = "off"


@dataclass(frozen=True)
class CheckSpec:
    id: str
    title: str
    stage: str  # "static" (reads files) or "live" (runs on PostgreSQL)
    catches: str
    why: str
    fix: str
    default: Level = Level.ERROR
    can_disable: bool = True


# In the order reports list them: what must hold for anything to run, then the static
# checks, then the live ones in the order they run.
CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(
        id="revision-syntax",
        title="Revision files are valid Python",
        stage="static",
        catches="A revision file that does not parse.",
        why="Alembic imports every revision file to build its graph, so one broken file stops every "
        "`alembic` command, including on production deploys.",
        fix="Fix the syntax error at the reported line. `python -m py_compile <file>` reproduces it.",
        can_disable=False,
    ),
    CheckSpec(
        id="env-loads",
        title="env.py and the models load",
        stage="live",
        catches="An exception while Alembic loads the revisions or runs env.py: an ImportError in env.py or "
        "the models, a settings class that rejects the environment, a syntax error the static parse missed.",
        why="Nothing else can be verified, and `alembic upgrade` would fail the same way on deploy.",
        fix="The finding says what failed; `alembic current` reproduces it locally. Settings that need "
        "variables get them from the `env` table in [tool.migbot]; the interpreter and import path are set with "
        "`python` and `sys-path`.",
        can_disable=False,
    ),
    CheckSpec(
        id="base-builds",
        title="The base commit's migrations build the starting database",
        stage="live",
        catches="The base commit's own `alembic upgrade heads` (or configured bootstrap command) failing.",
        why="migbot needs the base state to test the branch's new revisions against; it is built with the "
        "base commit's code, as production would have it.",
        fix="This usually means the base branch is already broken, or the project needs a `bootstrap` "
        "command (for example `create_all` then `alembic stamp head`) in [tool.migbot].",
        can_disable=False,
    ),
    CheckSpec(
        id="unique-revision-ids",
        title="Revision ids are unique",
        stage="static",
        catches="Two revision files that declare the same `revision` id, in the branch or after merging it "
        "into the base branch.",
        why="Alembic keeps only one of them, so the other migration silently never runs.",
        fix="Give the new revision a fresh id (`alembic revision` generates one) and update any "
        "`down_revision` that points at it.",
    ),
    CheckSpec(
        id="down-revisions-exist",
        title="Every down_revision exists",
        stage="static",
        catches="A `down_revision` (or `depends_on`) naming a revision that is in no revision file.",
        why="Alembic cannot build the revision graph, and every command fails with \"Revision ... is not present\".",
        fix="Point `down_revision` at the current head (`alembic heads`), or restore the deleted revision file.",
    ),
    CheckSpec(
        id="single-head",
        title="The branch leaves a single head",
        stage="static",
        catches="More heads at the branch's tip than at the base (two revisions with the same parent).",
        why="`alembic upgrade head` refuses to run with several heads, so the deploy after merging fails.",
        fix="Rebase your revision onto the latest head (edit its `down_revision`), or add a merge revision "
        "with `alembic merge heads`.",
    ),
    CheckSpec(
        id="single-head-after-merge",
        title="Merging into the base branch leaves a single head",
        stage="static",
        catches="A branch cut from an older base whose revisions fork from a revision that the base branch "
        "has since built on. Each side has one head, but the merge has two.",
        why="This is the most common way a second head reaches main: every check on the branch passes, and "
        "the deploy after merge fails.",
        fix="Merge or rebase the base branch into yours, then set your first new revision's `down_revision` "
        "to the base branch's head.",
    ),
    CheckSpec(
        id="base-migrations-unchanged",
        title="No migration already on the base branch was edited or deleted",
        stage="static",
        catches="A change to the code of a revision file that exists at the merge-base, or its deletion. "
        "Changes to comments, docstrings and formatting only are allowed.",
        why="Databases that already ran the old version never run the new one: production and every "
        "developer database silently diverge from what the code says.",
        fix="Revert the edit and write a new revision that makes the change.",
    ),
    CheckSpec(
        id="reversible-downgrades",
        title="New revisions have a real downgrade",
        stage="static",
        catches="A new revision whose `downgrade()` is empty (`pass`), raises NotImplementedError, or is missing.",
        why="A rollback after a bad deploy stops at this revision, and the up/down/up verification cannot "
        "run for it.",
        fix="Write the downgrade. If the migration truly cannot be undone (it destroys data), list it under "
        "`allow-irreversible` in [tool.migbot] with the reason.",
    ),
    CheckSpec(
        id="upgrade",
        title="Each new revision upgrades",
        stage="live",
        catches="A new revision whose upgrade raises, or does not finish within the timeout.",
        why="The deploy's `alembic upgrade head` would fail the same way.",
        fix="Read the error and the SQL it ran; reproduce with `alembic upgrade <revision>` on a copy of the "
        "base schema.",
    ),
    CheckSpec(
        id="downgrade",
        title="Each new revision downgrades",
        stage="live",
        catches="A new revision whose downgrade raises or times out (run right after its upgrade).",
        why="A rollback is what you reach for when a deploy goes wrong; it must work then.",
        fix="Fix downgrade() so it undoes exactly what upgrade() did, in reverse order.",
    ),
    CheckSpec(
        id="downgrade-restores-schema",
        title="Downgrade restores the schema exactly",
        stage="live",
        catches="A schema after downgrade that differs from the schema before upgrade: a leftover enum type, "
        "sequence, index or function, or a column, constraint or default dropped that an earlier "
        "revision created.",
        why="The next upgrade, or the next developer's, fails on the leftover; or the database silently lost "
        "part of its schema. Only a catalog comparison sees these.",
        fix="Make downgrade() undo exactly what upgrade() did, in reverse: drop what it created (indexes, "
        "sequences, enum types with `sa.Enum(...).drop(op.get_bind())`) and re-create what it dropped. The "
        "report lists each difference.",
    ),
    CheckSpec(
        id="reupgrade",
        title="Upgrading again gives the same schema",
        stage="live",
        catches="A revision that cannot be applied again after its downgrade, or gives a different schema "
        "the second time.",
        why="Upgrade, downgrade, upgrade is how a fix gets redeployed; a downgrade that leaves something "
        "behind makes the second upgrade fail.",
        fix="Usually the downgrade left something behind: a schema object (see downgrade-restores-schema), "
        "or rows that upgrade() inserted and downgrade() did not delete.",
    ),
    CheckSpec(
        id="roundtrip",
        title="The whole branch goes up, down to base, and up again",
        stage="live",
        catches="Problems that appear only when the new revisions run together from the base state: base "
        "to head, back to the base heads, and to head again.",
        why="Deploys and rollbacks apply several revisions in one command; ordering mistakes between "
        "revisions show up only then.",
        fix="Reproduce with `alembic upgrade head && alembic downgrade <base head> && alembic upgrade head`.",
    ),
    CheckSpec(
        id="model-drift",
        title="The models match the migrated database",
        stage="live",
        catches="Differences between target_metadata and the database at head (Alembic's compare_metadata) "
        "that the branch introduces. Drift already present at base is reported but does not fail.",
        why="A model change without a migration means the code expects a column or table production does "
        "not have.",
        fix="Run `alembic revision --autogenerate` and review the result, or revert the model change.",
    ),
    CheckSpec(
        id="seeds-run",
        title="The seed scripts run at head",
        stage="live",
        catches="A seed set that fails when run on the head schema after `upgrade heads`: an exception, a missing "
        "module, a column the branch dropped or renamed.",
        why="Developers and test suites seed fresh databases all the time; a seed that breaks blocks everyone the "
        "day the branch merges.",
        fix="Fix the seed at the reported line, or update it for the branch's schema change. How migbot finds and "
        "runs seeds: docs/config.md, Seeds.",
    ),
    CheckSpec(
        id="seeds-idempotent",
        title="Running the seeds again changes nothing",
        stage="live",
        catches="A second run of every seed set that adds, removes or changes rows (duplicates, rows re-created "
        "with new keys, values rewritten), or that fails (a unique violation on re-insert). Tables are compared "
        "by fingerprint; the report names the tables, what changed and sample keys.",
        why="Seeds are re-run on databases that already have them; the conventions require check-before-insert, "
        "because duplicates pile up silently.",
        fix="Look a row up before inserting it, or use INSERT ... ON CONFLICT DO NOTHING. Columns that "
        "legitimately change on every run (updated_at) go in `ignore-columns` under [tool.migbot.seeds].",
    ),
    CheckSpec(
        id="migrations-with-data",
        title="The new revisions work on a database with rows",
        stage="live",
        catches="A new revision that passes on an empty database but fails once the tables have rows (the base "
        "commit's own seeds, then synthetic rows for every empty table): a NOT NULL column without a default, a "
        "unique constraint over duplicates, a type change whose cast fails, a foreign key existing rows "
        "violate; or a downgrade that fails on rows. The finding names the table and constraint.",
        why="Production has rows. These failures appear on deploy, in the middle of a migration.",
        fix="Give a new NOT NULL column a server_default, or backfill before SET NOT NULL; remove duplicates "
        "before adding a unique constraint; convert with USING in the type change; add a foreign key NOT VALID "
        "and validate it once the data is clean.",
    ),
    CheckSpec(
        id="downgrade-keeps-data",
        title="Going up and back down keeps the existing rows",
        stage="live",
        catches="Rows, in tables that exist before and after the branch, that are missing, extra or different "
        "after the new revisions go up and back down: a column dropped and re-added empty, a DELETE or UPDATE "
        "that the downgrade does not undo.",
        why="A rollback that silently loses data turns a bad deploy into an incident.",
        fix="Make downgrade() put back what upgrade() changed (copy the data back before dropping the column), "
        "or, if the loss is accepted, say so by listing the revision in allow-irreversible. A warning by "
        "default; make it an error with downgrade-keeps-data = \"error\" in [tool.migbot.checks].",
        default=Level.WARNING,
    ),
)

BY_ID = {spec.id: spec for spec in CHECKS}


def render_markdown() -> str:
    lines = [
        "# Checks",
        "",
        "Every check migbot runs, by its stable id. Use the id in `[tool.migbot.checks]` to set its level",
        "(`error`, `warning` or `off`). This page is generated from `src/migbot/checks/catalog.py`:",
        "edit that file, then run `python -m migbot.checks > docs/checks.md`.",
        "",
        "| id | stage | default | checks that |",
        "| --- | --- | --- | --- |",
    ]
    for spec in CHECKS:
        lines.append(f"| [`{spec.id}`](#{spec.id}) | {spec.stage} | {spec.default.value} | {spec.title} |")
    for spec in CHECKS:
        lines += [
            "",
            f"## {spec.id}",
            "",
            f"**{spec.title}.** Stage: {spec.stage}. Default level: {spec.default.value}"
            + ("" if spec.can_disable else " (cannot be turned off)") + ".",
            "",
            f"- **Catches:** {spec.catches}",
            f"- **Why it matters:** {spec.why}",
            f"- **How to fix:** {spec.fix}",
        ]
    return "\n".join(lines) + "\n"
