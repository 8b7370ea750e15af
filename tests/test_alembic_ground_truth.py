"""Verdicts that come from Alembic and the live database, not from the shape of a file.

Each test builds a git history shaped like something real projects do (and that a
source-shape reading gets wrong), runs the real CLI, and checks the verdict.
"""

from __future__ import annotations

from conftest import Repo, line_of, make_repo, run_migbot

AGE_MODEL = "age: Mapped[int | None] = mapped_column()\n    full_name:"
ADD_AGE = 'op.add_column("users", sa.Column("age", sa.Integer()))'
DROP_AGE = 'op.drop_column("users", "age")'


def add_age_to_model(repo: Repo) -> None:
    repo.replace("app/models/user.py", "full_name:", AGE_MODEL)


def summaries(result) -> list[tuple[str, str, str]]:
    return [(c["id"], c["status"], c["summary"]) for c in result.project["checks"]]


# --- 1. the order comes from Alembic: depends_on ---------------------------------------------
def test_depends_on_between_two_new_revisions_is_stepped_in_alembics_order(repo: Repo) -> None:
    """b7a1 depends_on c3f0 (its function reads c3f0's sequence), and its file sorts first: stepping
    b7a1 first would apply c3f0 with it, and undoing b7a1 alone would leave the sequence behind."""
    repo.revision("c3f0", "0002", 'op.execute("CREATE SEQUENCE plan_number_seq")',
                  'op.execute("DROP SEQUENCE plan_number_seq")').rename(repo.path / "alembic/versions/0004_seq.py")
    path = repo.revision("b7a1", "0002", """
        op.execute("CREATE FUNCTION next_plan_number() RETURNS bigint LANGUAGE sql "
                   "AS $$ SELECT nextval('plan_number_seq') $$")
    """, 'op.execute("DROP FUNCTION next_plan_number()")')
    path.write_text(path.read_text().replace("depends_on = None", 'depends_on = "c3f0"'))
    path.rename(repo.path / "alembic/versions/0003_function.py")
    merge = repo.revision("e9d2", None, "pass", "pass")
    merge.write_text(merge.read_text().replace("down_revision = None", 'down_revision = ("c3f0", "b7a1")'))
    repo.commit("a sequence, a function that needs it, and their merge")
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    assert [r["revision"] for r in result.project["stairway"]] == ["c3f0", "b7a1", "e9d2"]
    assert result.status("downgrade-restores-schema") == "pass"
    assert result.check("upgrade")["summary"] == "3 new revisions upgrade, in Alembic's order"


# --- 2, 3. reversibility is decided from what the revision does --------------------------------
def test_a_read_only_data_migration_with_a_pass_downgrade_passes(repo: Repo) -> None:
    repo.revision("0003", "0002", """
        count = op.get_bind().execute(sa.text("SELECT count(*) FROM users")).scalar()
        assert count >= 0, "a data check before the next release"
    """, "pass")
    repo.commit("a data check")
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    check = result.check("reversible-downgrades")
    assert check["status"] == "pass"
    assert "read-only, so an empty downgrade is right: 0003 (no schema change, no row written, over the base data " \
           "too)" in check["summary"]
    assert result.project["summary"]["verification"]["migration_down"] == "pass"


def test_a_data_migration_with_a_pass_downgrade_fails_with_the_rows_it_wrote(repo: Repo) -> None:
    path = repo.revision("0003", "0002", 'op.execute("UPDATE users SET full_name = upper(full_name)")', "pass")
    repo.commit("upper-case the names")
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("reversible-downgrades")["findings"]
    # The stairway's empty table saw nothing to update; the base data's rows (the dev seeds) did.
    assert finding["message"] == ("0003: downgrade() does nothing (it is empty), but its upgrade wrote rows "
                                  "(2 rows of `public.users`)")
    assert (finding["file"], finding["line"]) == ("alembic/versions/0003.py", line_of(path, "def downgrade()"))


def test_rows_written_outside_one_transaction_are_a_warning_not_a_pass(repo: Repo) -> None:
    repo.revision("0003", "0002", """
        with op.get_context().autocommit_block():
            op.execute("UPDATE users SET full_name = upper(full_name)")
    """, "pass")
    repo.commit("a backfill in an autocommit block")
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    assert result.status("reversible-downgrades") == "warn"
    [finding] = result.check("reversible-downgrades")["findings"]
    assert finding["severity"] == "warning"
    assert finding["message"] == (
        "0003: downgrade() does nothing (it is empty); the upgrade changed no schema, and migbot could not observe "
        "whether it wrote rows (it did not run in one transaction: env.py's AUTOCOMMIT, or an autocommit block)")


RAISES_WITH_A_MESSAGE = '''
    msg = "the old column's values cannot be restored"
    raise RuntimeError(msg)
'''


def test_allow_irreversible_covers_a_downgrade_that_raises_a_message_variable(repo: Repo) -> None:
    repo.revision("0003", "0002", ADD_AGE, RAISES_WITH_A_MESSAGE)
    add_age_to_model(repo)
    repo.write("pyproject.toml", """
        [tool.migbot]
        allow-irreversible = [{revision = "0003", reason = "age is derived once"}]
    """)
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    assert "allowed to be irreversible: 0003 (age is derived once)" in result.check("reversible-downgrades")["summary"]
    assert result.status("downgrade") == "skip"
    assert result.check("roundtrip")["summary"] == "revision 0003 cannot be undone: its downgrade raises"
    # No downgrade ran, so the summary does not say the way down passed.
    assert result.project["summary"]["verification"]["migration_down"] == "skipped"
    assert result.project["stairway"][0]["downgrade"]["note"] == "raises on purpose (RuntimeError)"


def test_a_downgrade_that_raises_a_message_variable_without_allowance_fails_reversibility(repo: Repo) -> None:
    repo.revision("0003", "0002", ADD_AGE, RAISES_WITH_A_MESSAGE)
    add_age_to_model(repo)
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    assert result.failed() == ["reversible-downgrades"], summaries(result)
    [finding] = result.check("reversible-downgrades")["findings"]
    assert finding["message"] == ("0003: downgrade() refuses (RuntimeError: the old column's values cannot be "
                                  "restored), but its upgrade changed the schema (column `public.users.age` added "
                                  "(integer NULL))")


# --- 4, 5. where revisions live is Alembic's to say ---------------------------------------------
def test_a_package_script_location_with_several_colons(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    (repo.path / "app/db").mkdir()
    repo.git("mv", "alembic", "app/db/migrations")
    repo.replace("alembic.ini", "script_location = alembic", "script_location = app:db:migrations")
    repo.commit("migrations inside the package")
    repo.branch("feature")
    repo.revision("0003", "0002", ADD_AGE, DROP_AGE, versions="app/db/migrations/versions")
    add_age_to_model(repo)
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    assert [r["revision"] for r in result.project["stairway"]] == ["0003"]
    assert result.check("env-loads")["summary"].startswith("Alembic loaded 3 revisions")
    assert [m["file"] for m in result.project["summary"]["migrations"]] == ["app/db/migrations/versions/0003.py"]


ENV_PY_SETS_VERSION_LOCATIONS = """
import os

context.script.version_locations = [os.path.join(os.path.dirname(__file__), "versions_postgresql")]
"""


def _versions_chosen_by_env_py(tmp_path, *, sqlite_history: bool = False) -> Repo:
    """Like prefect: env.py reads versions_postgresql/ (alembic.ini names no version folder);
    with sqlite_history, versions_sqlite/ holds a history for another database, which no
    PostgreSQL run loads."""
    repo = make_repo(tmp_path / "svc")
    repo.git("mv", "alembic/versions", "alembic/versions_postgresql")
    repo.replace("alembic/env.py", "config = context.config\n",
                 "config = context.config\n" + ENV_PY_SETS_VERSION_LOCATIONS)
    if sqlite_history:
        repo.revision("s001", None, 'op.execute("SELECT 1")', 'op.execute("SELECT 1")',
                      versions="alembic/versions_sqlite")
    repo.commit("per-dialect version folders")
    repo.branch("feature")
    return repo


def test_version_locations_set_by_env_py_at_run_time(tmp_path) -> None:
    repo = _versions_chosen_by_env_py(tmp_path)
    repo.revision("0003", "0002", ADD_AGE, DROP_AGE, versions="alembic/versions_postgresql")
    add_age_to_model(repo)
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    assert [r["revision"] for r in result.project["stairway"]] == ["0003"]
    assert result.check("revision-syntax")["summary"] == "3 revision files parse"
    assert ("Alembic loads the revisions of alembic.ini from `alembic/versions_postgresql`, not from "
            "`alembic/versions` as migbot read the config: migbot follows Alembic.") in result.report["notes"]


def test_alembic_wins_over_the_static_reading_of_a_computed_down_revision(repo: Repo) -> None:
    """`down_revision = "00" + "02"` reads as a root to ast: two heads and no parent. Alembic
    resolves it, and the checks follow Alembic."""
    path = repo.revision("0003", "0002", ADD_AGE, DROP_AGE)
    path.write_text(path.read_text().replace("down_revision = '0002'", 'down_revision = "00" + "02"'))
    add_age_to_model(repo)
    repo.commit("a computed down_revision")
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    assert result.check("single-head")["summary"] == "head in Alembic's map: 0003"
    assert result.project["heads"]["head"] == ["0003"]
    assert [r["revision"] for r in result.project["stairway"]] == ["0003"]


def test_a_history_for_another_dialect_is_said_to_be_unverified_not_failed(tmp_path) -> None:
    repo = _versions_chosen_by_env_py(tmp_path, sqlite_history=True)
    repo.revision("0003", "0002", ADD_AGE, DROP_AGE, versions="alembic/versions_postgresql")
    repo.revision("s002", "s001", 'op.execute("SELECT 2")', 'op.execute("SELECT 2")',
                  versions="alembic/versions_sqlite")
    add_age_to_model(repo)
    repo.write("migbot.toml", 'allow-irreversible = [{revision = "0003", reason = "checking the note"}]\n')
    repo.commit("the same change for both databases")
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    check = result.check("revisions-loaded")
    assert check["status"] == "warn"
    [finding] = check["findings"]
    assert finding["message"].startswith("`alembic/versions_sqlite` holds revisions that no history migbot ran loads")
    assert finding["message"].endswith(
        "the branch's 1 changed file there is not verified: alembic/versions_sqlite/s002.py")
    # Alembic's map knows 0003, so allow-irreversible names a real revision.
    assert not any("allow-irreversible names revision" in note for note in result.report["notes"])


def test_when_alembic_is_never_asked_no_static_check_passes_on_nothing(tmp_path) -> None:
    repo = _versions_chosen_by_env_py(tmp_path, sqlite_history=True)
    repo.revision("0003", "0002", ADD_AGE, DROP_AGE, versions="alembic/versions_postgresql")
    repo.replace("alembic/env.py", "from app.models import Base", "from app.models import Base\nimport no_such_module")
    repo.commit("a revision, and an env.py that cannot load")
    result = repo.verify()
    assert result.exit_code == 1
    for check_id in ("revision-syntax", "unique-revision-ids", "single-head", "base-migrations-unchanged"):
        check = result.check(check_id)
        assert check["status"] == "skip", check
        assert "Alembic's own map was not read" in check["summary"]
    changes = result.project["summary"]["changes_made"]
    assert changes[0].startswith("Adds or edits `alembic/versions_postgresql/0003.py`, which reads like a revision")
    assert "alembic/versions_postgresql/0003.py (added)" in result.project["summary"]["files_modified"]


# --- 6. never green on nothing ----------------------------------------------------------------
def test_a_revision_file_that_no_history_loads_fails(repo: Repo) -> None:
    repo.revision("0003", "0002", ADD_AGE, DROP_AGE, versions="alembic/versions_old")
    repo.commit("a revision in a folder Alembic does not read")
    result = repo.verify()
    assert result.exit_code == 1
    check = result.check("revisions-loaded")
    assert check["status"] == "fail"
    [finding] = check["findings"]
    assert finding["file"] == "alembic/versions_old/0003.py"
    assert "no Alembic history in the repository loads it" in finding["message"]
    assert result.project["stairway"] == []


# --- 7. several heads after merging main ----------------------------------------------------------
def test_merging_main_without_a_merge_revision_fails_single_head_with_a_full_report(repo: Repo) -> None:
    repo.revision("0003f", "0002", ADD_AGE, DROP_AGE)
    add_age_to_model(repo)
    repo.commit("feature: age")
    repo.checkout("main")
    repo.revision("0003m", "0002", 'op.create_index("ix_users_full_name", "users", ["full_name"])',
                  'op.drop_index("ix_users_full_name", table_name="users")')
    repo.commit("main: an index")
    repo.checkout("feature")
    repo.git("merge", "-q", "--no-edit", "main")
    result = repo.verify()
    assert result.exit_code == 1
    assert result.failed() == ["single-head"], summaries(result)
    assert "2 heads (0003f, 0003m)" in result.check("single-head")["summary"]
    # Every step still ran from the base heads (0003m) and back to them, over rows too.
    assert result.project["heads"]["database_at_base"] == ["0003m"]
    assert [r["revision"] for r in result.project["stairway"]] == ["0003f"]
    for check_id in ("roundtrip", "upgrade-over-rows", "downgrade-over-rows", "downgrade-keeps-data"):
        assert result.status(check_id) == "pass", summaries(result)


# --- 8. drift against the models as declared ---------------------------------------------------------
def test_a_migration_that_reflects_tables_into_the_models_metadata_causes_no_drift(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    repo.revision("0003", "0002", 'op.create_table("legacy_notes", sa.Column("id", sa.Integer(), primary_key=True))',
                  'op.drop_table("legacy_notes")')
    repo.commit("main: a table the models never had")
    repo.branch("feature")
    repo.revision("0004", "0003", """
        legacy = sa.Table("legacy_notes", Base.metadata, autoload_with=op.get_bind(), extend_existing=True)
        op.drop_table(legacy.name)
    """, 'op.create_table("legacy_notes", sa.Column("id", sa.Integer(), primary_key=True))',
                  imports="from app.models import Base")
    repo.commit("drop the legacy table, reflected first as real projects do")
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    drift = result.check("model-drift")
    assert drift["status"] == "pass"
    assert result.project["drift"]["introduced"] == []
    assert [d["text"] for d in result.project["drift"]["fixed"]] == [
        "table `legacy_notes` is in the database but not in the models"]
    assert "compared in a fresh worker" not in drift["summary"]  # the reflected table was just set aside


def test_a_migration_that_changes_a_model_table_in_memory_is_compared_in_a_fresh_worker(repo: Repo) -> None:
    """A data step that declares a scratch column on the models' own `users` table (in memory) and
    drops it in the database when done: only a fresh import shows the models as declared."""
    repo.revision("0003", "0002", """
        users = sa.Table("users", Base.metadata, sa.Column("scratch", sa.Integer()), extend_existing=True)
        op.add_column("users", sa.Column("scratch", sa.Integer()))
        op.execute(users.update().values(scratch=1))
        op.drop_column("users", "scratch")
    """, 'op.execute("SELECT 1")', imports="from app.models import Base")
    repo.commit("a data step with a scratch column")
    result = repo.verify()
    drift = result.check("model-drift")
    assert drift["status"] == "pass", summaries(result)
    assert "compared in a fresh worker: a migration changed the models' metadata in memory" in drift["summary"]


# --- 9. every history in the repository ----------------------------------------------------------------
AUDIT_ENV = '''
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
connectable = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                 poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=None, version_table="audit_version")
    with context.begin_transaction():
        context.run_migrations()
'''


def test_a_second_history_beside_alembic_ini_is_verified(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    repo.write("alembic_audit.ini", "[alembic]\nscript_location = audit\nsqlalchemy.url = driver://u@h/db\n")
    repo.write("audit/env.py", AUDIT_ENV)
    repo.revision("a001", None, 'op.create_table("audit_log", sa.Column("id", sa.Integer(), primary_key=True))',
                  'op.drop_table("audit_log")', versions="audit/versions")
    repo.write("tests/fixtures/alembic.ini", "[alembic]\nscript_location = somewhere\n")
    repo.commit("an audit database with its own history")
    repo.branch("feature")
    repo.revision("a002", "a001", 'op.add_column("audit_log", sa.Column("actor", sa.String(100)))',
                  'op.drop_column("audit_log", "actor")', versions="audit/versions")
    repo.commit("audit: actor")
    result = repo.verify()
    assert result.exit_code == 0, [summaries(result)]
    names = [p["name"] for p in result.report["projects"]]
    assert names == [".", "alembic_audit.ini"]
    audit = result.report["projects"][1]
    assert [r["revision"] for r in audit["stairway"]] == ["a002"]
    assert audit["heads"]["database_at_base"] == ["a001"]
    skipped = ("tests/fixtures/alembic.ini holds an Alembic project that migbot did not verify: it is under a "
               "`tests/` folder, which migbot does not search. Name it in alembic-ini to verify it.")
    assert skipped in result.report["notes"]


# --- 10. edits to base revisions, by meaning ---------------------------------------------------------------
def test_comments_annotations_and_imports_in_a_base_revision_are_a_note(repo: Repo) -> None:
    path = "alembic/versions/0002_add_user_full_name.py"
    repo.replace(path, "def upgrade() -> None:", "# Added for the profile page.\ndef upgrade():  # noqa: D103")
    repo.replace(path, "def downgrade() -> None:", "def downgrade() -> None:  # reverses upgrade()")
    repo.replace(path, "import sqlalchemy as sa\n",
                 "import sqlalchemy as sa\nfrom sqlalchemy.dialects import postgresql\n")
    repo.commit("lint the old revision")
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    assert result.check("base-migrations-unchanged")["summary"] == (
        "no base revision was edited; 1 changed in comments, docstrings, annotations, imports or formatting only")


BROKEN_DOWNGRADE_MAIN = 'op.drop_column("users", "nick")'


def _main_with_a_broken_downgrade(tmp_path) -> Repo:
    repo = make_repo(tmp_path / "svc")
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("nickname", sa.String(50)))', BROKEN_DOWNGRADE_MAIN)
    repo.replace("app/models/user.py", "full_name:",
                 "nickname: Mapped[str | None] = mapped_column(String(50))\n    full_name:")
    repo.commit("main: nickname, with a downgrade that names the wrong column")
    repo.branch("feature")
    return repo


def test_fixing_the_downgrade_of_a_base_revision_is_a_warning_and_migbot_runs_it(tmp_path) -> None:
    repo = _main_with_a_broken_downgrade(tmp_path)
    repo.replace("alembic/versions/0003.py", BROKEN_DOWNGRADE_MAIN, 'op.drop_column("users", "nickname")')
    repo.commit("fix the downgrade of 0003")
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    unchanged = result.check("base-migrations-unchanged")
    assert unchanged["status"] == "warn"
    [finding] = unchanged["findings"]
    assert finding["message"] == "0003 exists on the base branch, and the branch edits only its downgrade()"
    assert finding["line"] == line_of(repo.path / "alembic/versions/0003.py", '"nickname")')
    assert "Fixing a downgrade is legitimate" in finding["hint"]
    edited = result.check("edited-downgrades")
    assert edited["status"] == "pass"
    assert edited["summary"] == "ran with the branch's code, schema restored: 0003 (down 0003, and up again)"
    [migration] = result.project["summary"]["migrations"]
    assert migration["status"] == "downgrade edited; ran down and up again, schema restored"


def test_an_edited_downgrade_that_does_not_restore_the_schema_fails(tmp_path) -> None:
    repo = _main_with_a_broken_downgrade(tmp_path)
    repo.replace("alembic/versions/0003.py", BROKEN_DOWNGRADE_MAIN,
                 'op.drop_column("users", "nickname")\n    op.drop_column("users", "full_name")')
    repo.commit("an over-eager fix")
    result = repo.verify()
    assert result.exit_code == 1
    assert result.failed() == ["edited-downgrades"], summaries(result)
    [finding] = result.check("edited-downgrades")["findings"]
    assert finding["message"].startswith(
        "0003: after the edited downgrade and the upgrade again, the schema differs from the base")
    assert "column `public.users.full_name` missing after the second upgrade (character varying(100) NULL)" \
        in finding["details"]


# --- 11. a project's own harness -----------------------------------------------------------------------
ANYIO_ENV_GUARD = '''
import anyio.from_thread


async def _ping() -> None:
    return None


# Like the app's own harness: this only works in an AnyIO worker thread.
anyio.from_thread.run(_ping)
'''

RUNNER = '''
import anyio
import anyio.to_thread


def in_worker_thread(run, command, arguments):
    """Run one Alembic command the way the app does: in an AnyIO worker thread."""

    async def main():
        return await anyio.to_thread.run_sync(run)

    return anyio.run(main)
'''


def test_a_configured_runner_runs_every_alembic_command_in_the_projects_harness(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    repo.replace("alembic/env.py", "config = context.config\n", ANYIO_ENV_GUARD + "\nconfig = context.config\n")
    repo.write("app/db_runner.py", RUNNER)
    repo.commit("env.py needs the app's anyio worker thread")
    repo.branch("feature")
    repo.revision("0003", "0002", ADD_AGE, DROP_AGE)
    add_age_to_model(repo)
    repo.commit()
    without = repo.verify()
    assert without.exit_code == 1
    assert "AnyIO worker thread" in without.check("env-loads")["findings"][0]["message"]
    repo.write("pyproject.toml", '[tool.migbot]\nrunner = "app.db_runner:in_worker_thread"\n')
    repo.commit("tell migbot how the app runs Alembic")
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    assert [r["revision"] for r in result.project["stairway"]] == ["0003"]


def test_a_runner_that_cannot_be_imported_is_a_clear_env_loads_failure(repo: Repo) -> None:
    repo.write("pyproject.toml", '[tool.migbot]\nrunner = "app.no_such_module:run"\n')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("env-loads")["findings"]
    assert "runner 'app.no_such_module:run' from [tool.migbot] could not be loaded: ModuleNotFoundError" \
        in finding["message"]


# --- 12. the report says what the evidence says -------------------------------------------------------
def test_the_comment_is_the_same_for_two_runs_of_the_same_commit(repo: Repo, tmp_path) -> None:
    repo.revision("0003", "0002", """
        raise RuntimeError(f"refused by {object()!r} in {op.get_bind().engine.url.database}")
    """, "pass")
    repo.commit("a migration whose error names an object and the database")
    outputs = []
    for run in range(2):
        out = tmp_path / f"run{run}.md"
        result = run_migbot("verify", "--repo", str(repo.path), "--base", "main", "--output", str(out),
                            json_report=False)
        assert result.exit_code == 1, result.stderr
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1]
    assert "refused by &lt;object object at 0x…&gt; in migbot\\_…\\_p0_head" in outputs[0]  # escaped Markdown


def test_no_rows_are_claimed_when_the_data_step_did_not_run(repo: Repo) -> None:
    repo.revision("0003", "0002", 'op.add_column("nope", sa.Column("x", sa.Integer()))', 'op.drop_column("nope", "x")')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    assert result.status("upgrade-over-rows") == "skip"
    assert not any("ran over" in line for line in result.project["summary"]["seed_data"])
    assert any(line.startswith("The new revisions did not run over data:") for line in result.project["summary"]["seed_data"])


def test_a_column_moved_to_another_position_keeps_its_rows(repo: Repo) -> None:
    """Up and down move users.full_name to the end of the table, values intact: the same data, and
    no 'rows changed' finding with nothing to say."""
    move_full_name_last = """
        op.alter_column("users", "full_name", new_column_name="full_name_old")
        op.add_column("users", sa.Column("full_name", sa.String(length=100), nullable=True))
        op.execute("UPDATE users SET full_name = full_name_old")
        op.drop_column("users", "full_name_old")
    """
    repo.revision("0003", "0002", move_full_name_last, move_full_name_last)
    repo.commit("full_name moved, twice")
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    assert result.check("downgrade-keeps-data")["summary"] == "1 table kept every row through upgrade and downgrade"


# --- found on real projects (mlflow, fractal-server) -------------------------------------------------
def test_a_script_location_relative_to_the_repository_root(tmp_path) -> None:
    """Like mlflow: the ini lives in a subfolder, and its plain relative script_location is meant to
    be read from the repository root, where `alembic -c app/db/alembic.ini ...` runs."""
    repo = make_repo(tmp_path / "svc")
    repo.git("mv", "alembic.ini", "app/alembic.ini")
    repo.commit("the ini beside the app")
    repo.branch("feature")
    repo.revision("0003", "0002", ADD_AGE, DROP_AGE)
    add_age_to_model(repo)
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    assert [r["revision"] for r in result.project["stairway"]] == ["0003"]


def test_a_base_that_does_not_build_blames_no_revision_file(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    repo.revision("0003", "0002", 'op.execute("SELECT * FROM no_such_table")', 'op.execute("SELECT 1")')
    repo.commit("main is broken")
    repo.branch("feature")
    repo.revision("0004", "0003", ADD_AGE, DROP_AGE)
    repo.commit()
    result = repo.verify()
    assert result.failed() == ["base-builds"], summaries(result)
    assert result.status("revisions-loaded") == "pass"


def test_models_that_env_py_never_imports_are_not_called_drift(repo: Repo) -> None:
    repo.replace("alembic/env.py", "target_metadata = Base.metadata", "from sqlalchemy import MetaData\n"
                 "target_metadata = MetaData()  # the models are never imported here")
    repo.revision("0003", "0002", ADD_AGE, DROP_AGE)
    repo.commit()
    result = repo.verify()
    drift = result.check("model-drift")
    assert drift["status"] == "skip"
    assert drift["summary"].startswith("env.py's target_metadata holds no tables while the database has some")


NOTES_TABLE = """
    op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("body", sa.Text()),
                    sa.Column("lo", sa.Integer()), sa.Column("hi", sa.Integer()))
"""


def test_a_migrations_guard_against_made_up_rows_is_a_warning(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    repo.revision("0003", "0002", NOTES_TABLE, 'op.drop_table("notes")')
    repo.commit("main: notes, which no seed fills")
    repo.branch("feature")
    path = repo.revision("0004", "0003", """
        count = op.get_bind().execute(sa.text("SELECT count(*) FROM notes")).scalar()
        if count:
            raise RuntimeError(f"{count} notes hold bodies this migration cannot convert")
    """, "pass")
    repo.commit("a conversion that refuses data it does not know")
    result = repo.verify()
    assert result.exit_code == 0, summaries(result)
    check = result.check("upgrade-over-rows")
    assert check["status"] == "warn"
    [finding] = check["findings"]
    assert finding["message"].startswith("0004: the new revisions up over existing rows failed: RuntimeError: 300 "
                                         "notes hold bodies this migration cannot convert")
    assert (finding["file"], finding["line"]) == ("alembic/versions/0004.py", line_of(path, "raise RuntimeError"))
    assert "made up by migbot" in finding["hint"]


def test_tables_the_branch_changes_that_had_no_rows_are_said_to_be_untried(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    repo.revision("0003", "0002", NOTES_TABLE + '    op.create_check_constraint("never", "notes", "lo IS NOT NULL AND lo > 5 AND lo < 3")\n',
                  'op.drop_table("notes")')
    repo.commit("main: notes, with a check no row can meet")
    repo.branch("feature")
    repo.revision("0004", "0003", 'op.add_column("notes", sa.Column("title", sa.String(100)))',
                  'op.drop_column("notes", "title")')
    repo.commit()
    result = repo.verify()
    check = result.check("upgrade-over-rows")
    assert check["status"] == "warn", summaries(result)
    [finding] = check["findings"]
    assert finding["message"].startswith("not exercised: the new revisions change `public.notes`, which had no rows "
                                         "(it could not be filled: ")


# --- found in review ----------------------------------------------------------------------------
def test_rows_written_by_an_autocommit_env_py_are_never_taken_for_a_read_only_upgrade(repo: Repo) -> None:
    repo.replace("alembic/env.py", 'prefix="sqlalchemy.", poolclass=pool.NullPool)',
                 'prefix="sqlalchemy.", poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")')
    repo.revision("0003", "0002", """op.execute("UPDATE users SET full_name = 'x'")""", "pass")
    repo.commit("env.py in AUTOCOMMIT, and a data migration without a downgrade")
    result = repo.verify()
    check = result.check("reversible-downgrades")
    assert check["status"] == "warn", summaries(result)
    [finding] = check["findings"]
    assert "migbot could not observe whether it wrote rows" in finding["message"]


def test_a_revision_saved_beside_env_py_instead_of_in_versions_fails(repo: Repo) -> None:
    repo.revision("0003", "0002", ADD_AGE, DROP_AGE, versions="alembic")
    repo.commit("a revision one folder too high")
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("revisions-loaded")["findings"]
    assert finding["file"] == "alembic/0003.py" and finding["severity"] == "error"


def test_a_leftover_of_the_downgrade_does_not_hide_what_fails_over_rows(repo: Repo) -> None:
    """The second upgrade in one run fails because the downgrade left the enum type behind; the
    same revision also adds a NOT NULL column without a default, which only rows reveal."""
    repo.revision("0003", "0002", """
        status = postgresql.ENUM("active", "disabled", name="user_status")
        status.create(op.get_bind())
        op.add_column("users", sa.Column("status", status, nullable=False))
    """, 'op.drop_column("users", "status")')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    assert {"downgrade-restores-schema", "upgrade-over-rows"} <= set(result.failed()), summaries(result)
    [finding] = result.check("upgrade-over-rows")["findings"]
    assert 'column "status" of relation "users" contains null values' in finding["message"]
