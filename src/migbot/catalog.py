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
        "`python` and `sys-path`; an env.py that only runs inside the app's own harness gets a `runner`.",
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
        id="revisions-loaded",
        title="Alembic loads every revision file the branch adds or changes",
        stage="live",
        catches="A file the branch adds or changes that reads like a revision (it assigns `revision` and "
        "`down_revision`) but that no Alembic history in the repository loads: a file in the wrong folder, a "
        "version location that env.py or the config does not name, a second history migbot was not told "
        "about. Also a branch whose new revision files Alembic never sees, so nothing about them was verified.",
        why="Alembic only runs what its version locations hold: a revision it does not load never reaches any "
        "database, and every check of it would pass on nothing.",
        fix="Move the file into the version folder Alembic reads (`alembic heads` lists what it sees), or add its "
        "folder to `version_locations`; for a history of its own, make sure its *.ini is found (or named in "
        "alembic-ini).",
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
        catches="A change to what a revision file at the merge-base does, or its deletion. Edits are compared "
        "by meaning: comments, docstrings, type annotations, imports and formatting do not count (they are "
        "noted). An edit confined to `downgrade()` is a warning: migbot runs the new downgrade (see "
        "edited-downgrades).",
        why="Databases that already ran the old version never run the new one: production and every "
        "developer database silently diverge from what the code says. A changed downgrade is different: "
        "databases that applied the revision run it when they roll back, so fixing a broken one is legitimate.",
        fix="For an edit to upgrade() or the revision's identity: revert it, and write a new revision that makes "
        "the change. For a deleted revision: restore the file. For an edited downgrade: make sure it undoes "
        "the upgrade (edited-downgrades runs it).",
    ),
    CheckSpec(
        id="reversible-downgrades",
        title="Every new revision that changes something can be undone",
        stage="live",
        catches="A new revision whose downgrade does nothing (empty, `pass`, missing) or refuses (raises "
        "NotImplementedError, or any exception from a `raise` in the revision), while its upgrade changed the "
        "schema or wrote rows. Decided from what the revision does on the database, not from the shape of its "
        "source: an upgrade that only reads (a SELECT and an assert) needs no downgrade. A downgrade that "
        "refuses although there is nothing to undo is a warning: it stops every rollback there. So is a revision "
        "migbot could not observe enough of (rows written outside one transaction, or never run over rows); "
        "rows the migration writes through another connection than Alembic's are not seen.",
        why="A rollback after a bad deploy stops at this revision, or walks past it leaving its changes behind.",
        fix="Write the downgrade. If the migration truly cannot be undone (it destroys data), list it under "
        "`allow-irreversible` in [tool.migbot] with the reason. An upgrade that changes nothing can have "
        "`pass` as its downgrade.",
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
        catches="A new revision whose downgrade fails or times out (run right after its upgrade, undoing that "
        "revision alone). A downgrade that raises on purpose (NotImplementedError, or a `raise` in the revision "
        "itself) is reversible-downgrades' to judge.",
        why="A rollback is what you reach for when a deploy goes wrong; it must work then.",
        fix="Fix downgrade() so it undoes exactly what upgrade() did, in reverse order.",
    ),
    CheckSpec(
        id="downgrade-restores-schema",
        title="Downgrade restores the schema",
        stage="live",
        catches="A schema after downgrade that differs from the schema before upgrade: a leftover enum type, "
        "sequence, index, function, grant, policy or publication; a column, constraint or default dropped that an "
        "earlier revision created; a setting not put back (row-level security, storage parameters, replica "
        "identity, a partition detached, an owner). Compared object by object from the catalogs, with "
        "`pg_dump --schema-only` as a backstop for anything the catalog comparison does not name (reported as "
        "\"only pg_dump shows\"). Columns that come back in another order are a warning. See \"What the schema "
        "comparison covers\" below.",
        why="The next upgrade, or the next developer's, fails on the leftover; or the database silently lost "
        "part of its schema, or a grant or a security setting stays on after the rollback. Only a comparison of "
        "the live database sees these.",
        fix="Make downgrade() undo exactly what upgrade() did, in reverse: drop what it created (indexes, "
        "sequences, enum types with `sa.Enum(...).drop(op.get_bind())`), re-create what it dropped, revoke what "
        "it granted, and reset what it set (`ALTER TABLE ... RESET (fillfactor)`, `NO FORCE ROW LEVEL SECURITY`, "
        "`REPLICA IDENTITY DEFAULT`). The report lists each difference.",
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
        "or rows that upgrade() inserted and downgrade() did not delete. The comparison is the same as for "
        "downgrade-restores-schema, pg_dump backstop included.",
    ),
    CheckSpec(
        id="roundtrip",
        title="The whole branch goes up, down to base, and up again",
        stage="live",
        catches="Problems that appear only when the new revisions run together from the base state: base "
        "to head, back to the base heads in one run (every new revision's downgrade, in the reverse of Alembic's "
        "order, whatever the number of base heads), and `alembic upgrade heads` again. Skipped, with the reason, "
        "when a new revision cannot be undone.",
        why="Deploys and rollbacks apply several revisions in one command; ordering mistakes between "
        "revisions show up only then.",
        fix="Reproduce with `alembic upgrade head && alembic downgrade <base head> && alembic upgrade head`.",
    ),
    CheckSpec(
        id="edited-downgrades",
        title="Edited downgrades of base revisions work",
        stage="live",
        catches="A base revision whose downgrade() alone the branch edited, and whose new downgrade fails or "
        "does not restore the schema. migbot runs it with the branch's code, as a rollback would: from the base "
        "heads down past the revision (with every revision that needs it) and back up, and compares the schema "
        "with the base state.",
        why="Every database that applied the revision runs this downgrade when it rolls back: a fix that does "
        "not work is found during an incident.",
        fix="Make the downgrade undo what the revision's upgrade did, in reverse; reproduce with `alembic "
        "downgrade <its parent>` and `alembic upgrade heads` on a copy of the base schema.",
    ),
    CheckSpec(
        id="model-drift",
        title="The models match the migrated database",
        stage="live",
        catches="Differences between target_metadata and the database at head (Alembic's compare_metadata) "
        "that the branch introduces. Drift already present at base is reported but does not fail.",
        why="A model change without a migration means the code expects a column or table production does "
        "not have.",
        fix="Make the models and the migrations agree. Where the branch changed a model, add the migration for "
        "it (`alembic revision --autogenerate`, then review what it wrote); where a migration changed the "
        "database, change the models to match it.",
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
        id="upgrade-over-rows",
        title="The new revisions upgrade a database with rows",
        stage="live",
        catches="A new revision that passes on an empty database but fails once the tables have rows (the base "
        "commit's own seeds, then synthetic rows for every empty table): a NOT NULL column without a default, a "
        "unique constraint over duplicates, a type change whose cast fails, a foreign key existing rows "
        "violate; and a sequence the upgrade leaves behind its column's values (the next insert collides). Runs "
        "whenever the new revisions upgrade, whether or not they can be undone, allowed irreversible ones "
        "included. The finding names the table and constraint; a table the revisions change that had no rows "
        "(and could not be given synthetic ones) is named as not exercised, with the reason (a warning).",
        why="Production has rows. These failures appear on deploy, in the middle of a migration.",
        fix="Give a new NOT NULL column a server_default, or backfill before SET NOT NULL; remove duplicates "
        "before adding a unique constraint; convert with USING in the type change; add a foreign key NOT VALID "
        "and validate it once the data is clean; `setval` a re-created sequence to its column's max. This check and "
        "downgrade-over-rows used to be one, `migrations-with-data`; that id still sets the level of both.",
    ),
    CheckSpec(
        id="downgrade-over-rows",
        title="The new revisions go back down over rows",
        stage="live",
        catches="A downgrade that passes on an empty database but fails over the rows the upgrade ran over: a "
        "column re-added NOT NULL without a default, a constraint re-created over values the upgrade allowed, a "
        "cast back that fails; and a downgrade that re-creates a sequence below its column's values. Runs only "
        "when every new revision can be undone (otherwise skipped, with the reason).",
        why="A rollback runs on production data, usually in a hurry; a downgrade that only works on an empty "
        "database fails then.",
        fix="Write the downgrade for the data the upgrade allows: a server_default or a backfill for re-added "
        "NOT NULL columns, a clean-up before re-creating constraints, a `setval` after re-creating a sequence.",
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
        "or, if the loss is accepted, say so by listing the revision in allow-irreversible. Skipped when a new "
        "revision cannot be undone. A warning by "
        "default; make it an error with downgrade-keeps-data = \"error\" in [tool.migbot.checks].",
        default=Level.WARNING,
    ),
    CheckSpec(
        id="table-rewrite",
        title="No new revision rewrites a table that holds rows",
        stage="live",
        catches="A statement of a new revision's upgrade that rewrote a table (a new `relfilenode`, seen inside "
        "the migration's transaction) which held rows in the base data: a column type change such as int to "
        "bigint, a volatile default, SET LOGGED. Observed as the new revisions ran over the base data; the "
        "finding names the statement and the line of the revision that ran it. A constant default or a varchar "
        "that only grows is not a rewrite, and is not reported.",
        why="A rewrite holds an ACCESS EXCLUSIVE lock for as long as it takes to copy the table and rebuild its "
        "indexes: on a production-sized table, every query on it waits for minutes. The test rows are few; the "
        "rewrite is what scales.",
        fix="Add a new column, backfill it in batches, and switch reads and writes over; or accept the lock in a "
        "maintenance window. A warning by default: whether it matters depends on the table's size in production.",
        default=Level.WARNING,
    ),
    CheckSpec(
        id="index-without-concurrently",
        title="Indexes on tables with rows are built concurrently",
        stage="live",
        catches="A `CREATE INDEX` without CONCURRENTLY, run by a new revision's upgrade on a table that held rows "
        "in the base data. The table is the one the statement locked in SHARE mode (pg_locks), else the one its "
        "ON clause names.",
        why="CREATE INDEX blocks every write to the table until it finishes and the migration commits; on a large "
        "table that is an outage for the code that writes it.",
        fix="`op.create_index(..., postgresql_concurrently=True)` inside `with op.get_context().autocommit_block():` "
        "(CONCURRENTLY cannot run in a transaction), and a downgrade that drops it the same way. A warning by "
        "default.",
        default=Level.WARNING,
    ),
    CheckSpec(
        id="squawk",
        title="squawk finds nothing in the SQL the new revisions ran",
        stage="live",
        catches="What squawk (squawkhq.com), the PostgreSQL migration linter, says about the statements each new "
        "revision's upgrade really ran on the stairway, as captured on the live database: an index built without "
        "CONCURRENTLY, a constraint added without NOT VALID, a column type change, a NOT NULL that scans the "
        "table, and the rest of its rules, each with its rule id, at the line of the revision that ran the "
        "statement. squawk is given the server's PostgreSQL version and told the statements run in a "
        "transaction. Left out unless `squawk-exclude` says otherwise: the rules that fire on nearly every "
        "migration (require-statement-timeout, require-lock-timeout, prefer-robust-stmts) and those that judge "
        "column types by taste (prefer-bigint-over-int, prefer-bigint-over-smallint, prefer-identity, "
        "prefer-text-field). Its lock and scan rules (an index without CONCURRENTLY, a constraint without NOT "
        "VALID, ...) are left out, and counted in a note, for statements on tables the branch itself creates: "
        "squawk reads one revision at a time and cannot know that nothing uses them yet. Skipped, saying so, when squawk is not installed (`pip install 'migbot[squawk]'`; "
        "the Action's image does not have it yet).",
        why="squawk knows many ways a statement locks or scans a table for longer than it seems to; reading the SQL "
        "that really ran, not an offline rendering, leaves out nothing env.py or the migration decided at run time.",
        fix="Follow the rule's page (linked in each finding); where the statement is needed as it is, say why with "
        "`# migbot: ignore[squawk] reason` on its line. A warning by default.",
        default=Level.WARNING,
    ),
    CheckSpec(
        id="foreign-key-without-index",
        title="Foreign keys the branch adds have an index",
        stage="live",
        catches="A foreign key added by a new revision whose columns no index of its table starts with (a valid, "
        "non-partial index whose leading columns are the key's columns, in any order), read from the catalogs "
        "(pg_constraint, pg_index) at head. The finding names the revision and the line that added the key.",
        why="PostgreSQL indexes the referenced side of a foreign key, not the referencing side. Without an index, "
        "every DELETE of a parent row, or change of its key, scans the whole child table to check it, under "
        "locks; and joins along the key scan it too.",
        fix="`op.create_index(...)` on the key's columns in the same revision; with "
        "`postgresql_concurrently=True` inside `op.get_context().autocommit_block()` if the table already holds "
        "rows. A warning by default: a small, rarely deleted parent may not need it.",
        default=Level.WARNING,
    ),
    CheckSpec(
        id="table-without-primary-key",
        title="Tables the branch creates have a primary key",
        stage="live",
        catches="A table created by a new revision that has no primary key at head (pg_constraint), Alembic's "
        "version table aside.",
        why="Without a primary key a row cannot be told apart from its duplicates, ORMs cannot update or delete "
        "one reliably, and logical replication (the usual way to upgrade PostgreSQL with little downtime) cannot "
        "replicate the table's UPDATEs and DELETEs.",
        fix="Give the table a primary key in the revision that creates it (`sa.Column(..., primary_key=True)` or "
        "`op.create_primary_key`). A warning by default.",
        default=Level.WARNING,
    ),
    CheckSpec(
        id="suppressions",
        title="Suppressions name a check and give a reason",
        stage="static",
        catches="A `# migbot: ignore[CHECK-ID] reason` comment in a revision file the branch adds or changes that "
        "gives no reason, or names no check migbot has; and, as a note, one that set nothing aside in this run. "
        "The comment sets aside that check's findings at the statement it ends or precedes, or, at the top of the "
        "file (before anything but the docstring), in the whole file; the report lists what it set aside, with "
        "the reason.",
        why="A suppression is a decision a reviewer should be able to read. Without a reason it is a silenced "
        "warning; with a mistyped id it silences nothing while looking as if it did.",
        fix="Name the check as docs/checks.md spells it, and say why after the brackets: "
        "`# migbot: ignore[table-rewrite] the table holds 40 rows in production`.",
        default=Level.WARNING,
    ),
)

BY_ID = {spec.id: spec for spec in CHECKS}


COVERAGE = """
## What the schema comparison covers

downgrade-restores-schema, reupgrade, roundtrip and edited-downgrades compare two snapshots of
the live database. A snapshot is read from PostgreSQL's catalogs, object by object, keyed by name
(never by OID):

- schemas, extensions (and their versions), collations, enum, domain, composite and range types;
- tables (kind, unlogged, row-level security enabled and forced, storage parameters, replica
  identity, partition key, the partition bound of a partition, inheritance, access method, foreign
  table server and options), columns (type, nullability, default, identity, generated expression,
  collation, storage, compression, statistics target, `n_distinct` options), constraints (by
  definition, with NOT VALID), indexes (by definition, with validity and clustering), statistics
  objects, sequences (type, start, increment, bounds, cache, cycle, owning column);
- views and materialized views (definition, options such as `security_barrier` and
  `check_option`, whether a materialized view is populated), functions, procedures, aggregates and
  window functions, triggers (and whether they are enabled), rules, policies (command, mode, roles,
  expressions), event triggers, publications, text search configurations and dictionaries, casts,
  operators, foreign servers;
- the owner of every object that has one, privileges granted beyond PostgreSQL's defaults and
  defaults revoked (tables, views, sequences, columns, schemas, functions, types, foreign servers),
  and default privileges (`ALTER DEFAULT PRIVILEGES`);
- comments on all of these.

Then, as a backstop, each snapshot holds the database's `pg_dump --schema-only`, split into
pg_dump's own entries. An entry that differs and that no itemised difference already names fails
the check as a difference "only pg_dump shows", with the statements. This is how a foreign data
wrapper, an operator class or any kind migbot does not itemise is still caught. The dump runs
beside the catalog queries; when no pg_dump as new as the server is found, the comparison says so
and relies on the catalogs alone. On a branch of more than 10 new revisions, the stairway's steps
are compared from the catalogs alone and pg_dump compares the round trip's ends (`roundtrip`
still fails on what only pg_dump shows, without naming the revision); the summaries of
`downgrade-restores-schema` and `reupgrade` say so, and `pg-dump-each-step = true` in the
config compares every step (see [config.md](config.md)).

Left out, on purpose:

- **Column order** is compared on its own: columns that come back in another order (a downgrade
  that re-adds a dropped column puts it last) are a warning naming the columns, not a failure.
- **Sequence state** (the current value) is data, not schema: it moves whenever rows are inserted.
- Alembic's version table, objects that belong to extensions, and the system schemas.
- What lives outside the database: roles, tablespaces, server settings, `ALTER DATABASE ... SET`,
  subscriptions.
"""


def render_markdown() -> str:
    lines = [
        "# Checks",
        "",
        "Every check migbot runs, by its stable id. Use the id in `[tool.migbot.checks]` to set its level",
        "(`error`, `warning` or `off`). This page is generated from `src/migbot/catalog.py`:",
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
    return "\n".join(lines + ["", COVERAGE.strip()]) + "\n"
