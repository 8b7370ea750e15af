"""Branches that must fail, each caught by the check that claims to catch it,
with the revision, file and line where migbot can know them."""

from __future__ import annotations

from conftest import Repo, line_of
from test_verify_passes import add_orders

ENUM_UPGRADE = """
    op.create_table(
        "user_flags",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("status", sa.Enum("active", "disabled", name="user_status"), nullable=False),
    )
"""


def test_pass_downgrade_is_irreversible(repo: Repo) -> None:
    path = repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer()))', "pass")
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    check = result.check("reversible-downgrades")
    assert check["status"] == "fail"
    [finding] = check["findings"]
    assert finding["file"] == "alembic/versions/0003.py"
    assert finding["line"] == line_of(path, "def downgrade()")
    assert ("0003: downgrade() does nothing (it is empty), but its upgrade changed the schema (column "
            "`public.users.age` added (integer NULL))") == finding["message"]
    # The live down steps are skipped with the reason, not run into a cascade of failures.
    assert result.status("downgrade") == "skip"
    assert result.status("roundtrip") == "skip"
    assert result.check("roundtrip")["summary"] == "revision 0003 cannot be undone: its downgrade does nothing"
    assert result.project["summary"]["verification"]["migration_down"] == "fail"


def test_irreversible_downgrade_allowed_by_config_with_reason(repo: Repo) -> None:
    repo.revision("0003", "0002", 'op.execute("UPDATE users SET full_name = upper(full_name)")',
                  'raise NotImplementedError("lossy")')
    repo.write("pyproject.toml", """
        [tool.migbot]
        allow-irreversible = [{revision = "0003", reason = "upper-casing cannot be undone"}]
    """)
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 0, result.failed()
    check = result.check("reversible-downgrades")
    assert check["status"] == "pass"
    assert "0003 (upper-casing cannot be undone)" in check["summary"]
    assert result.project["stairway"][0]["downgrade"]["note"] == "raises on purpose (NotImplementedError)"
    assert result.status("downgrade") == "skip"  # nothing to judge: the revision is allowed to be irreversible
    assert "allowed to be irreversible (upper-casing cannot be undone)" in result.check("downgrade")["summary"]


def test_downgrade_that_raises(repo: Repo) -> None:
    path = repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer()))',
                         'op.drop_column("users", "agee")')
    repo.replace("app/models/user.py", "full_name:", "age: Mapped[int | None] = mapped_column()\n    full_name:")
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    assert result.failed() == ["downgrade"]
    # The round trip cannot go down through it: skipped with that reason, not a second failure.
    assert result.check("roundtrip")["summary"] == "revision 0003 cannot be undone: its downgrade fails"
    [finding] = result.check("downgrade")["findings"]
    assert finding["revision"] == "0003"
    assert finding["file"] == "alembic/versions/0003.py"
    assert finding["line"] == line_of(path, '"agee"')
    assert 'column "agee" of relation "users" does not exist' in finding["message"]
    assert result.project["stairway"][0]["reupgrade"]["status"] == "skip"  # not "pass"
    assert result.project["stairway"][0]["schema_restored"]["note"] == "the downgrade failed"


def test_downgrade_leaving_an_enum_type_behind(repo: Repo) -> None:
    # The classic: create_table creates the enum type, drop_table leaves it behind.
    repo.revision("0003", "0002", ENUM_UPGRADE, 'op.drop_table("user_flags")')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    restore = result.check("downgrade-restores-schema")
    assert restore["status"] == "fail"
    [finding] = restore["findings"]
    assert finding["revision"] == "0003"
    assert "enum type `public.user_status` left behind by the downgrade ('active', 'disabled')" in finding["details"]
    # The upgrades worked; it is the down path that is broken.
    assert result.project["summary"]["verification"]["migration_up"] == "pass"
    assert result.project["summary"]["verification"]["migration_down"] == "fail"
    # ...and that leftover is exactly what breaks the second upgrade.
    reup = result.check("reupgrade")
    assert reup["status"] == "fail"
    assert 'type "user_status" already exists' in reup["findings"][0]["message"]


def test_downgrade_dropping_a_column_an_earlier_revision_created(repo: Repo) -> None:
    repo.replace("app/models/user.py", "full_name:", "nickname: Mapped[str | None] = mapped_column(String(50))\n    full_name:")
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("nickname", sa.String(50)))',
                  'op.drop_column("users", "nickname")\nop.drop_column("users", "full_name")')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("downgrade-restores-schema")["findings"]
    assert ("column `public.users.full_name` dropped by the downgrade, but it existed before the upgrade "
            "(character varying(100) NULL)") in finding["details"]
    # Up, down and up again all "succeed": only the schema comparison sees the loss.
    assert result.status("downgrade") == "pass"
    assert result.status("upgrade") == "pass"


def test_two_heads(repo: Repo) -> None:
    repo.revision("0003a", "0002", 'op.add_column("users", sa.Column("a", sa.Integer()))', 'op.drop_column("users", "a")')
    repo.revision("0003b", "0002", 'op.add_column("users", sa.Column("b", sa.Integer()))', 'op.drop_column("users", "b")')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    check = result.check("single-head")
    assert check["status"] == "fail"
    assert "2 heads (0003a, 0003b)" in check["summary"]
    assert {f["file"] for f in check["findings"]} == {"alembic/versions/0003a.py", "alembic/versions/0003b.py"}
    # Both branches are still walked, each up, down and up.
    assert sorted(r["revision"] for r in result.project["stairway"]) == ["0003a", "0003b"]
    assert all(r["reupgrade"]["status"] == "pass" for r in result.project["stairway"])


def test_branch_behind_base_creates_a_second_head_after_merge(repo: Repo) -> None:
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer()))', 'op.drop_column("users", "age")')
    repo.replace("app/models/user.py", "full_name:", "age: Mapped[int | None] = mapped_column()\n    full_name:")
    repo.commit("feature revision")
    repo.checkout("main")  # main moves on after the branch was cut
    repo.revision("0003main", "0002", 'op.create_index("ix_users_full_name", "users", ["full_name"])',
                  'op.drop_index("ix_users_full_name", table_name="users")')
    repo.commit("main revision")
    repo.checkout("feature")
    result = repo.verify()
    assert result.exit_code == 1
    assert result.failed() == ["single-head-after-merge"]  # the branch alone is fine
    check = result.check("single-head-after-merge")
    assert "would leave 2 heads (0003, 0003main)" in check["summary"]
    assert result.project["heads"]["after_merge"] == ["0003", "0003main"]
    assert result.project["heads"]["head"] == ["0003"]


def test_edited_base_migration(repo: Repo) -> None:
    repo.replace("alembic/versions/0002_add_user_full_name.py", "length=100", "length=120")
    repo.commit("edit an applied migration")
    result = repo.verify()
    assert result.exit_code == 1
    check = result.check("base-migrations-unchanged")
    [finding] = check["findings"]
    assert finding["file"] == "alembic/versions/0002_add_user_full_name.py"
    assert finding["line"] == line_of(repo.path / finding["file"], "length=120")  # where the edit is
    assert finding["revision"] == "0002"
    assert finding["message"] == "0002 exists on the base branch, and the branch changes upgrade()"
    assert "write a new revision" in finding["hint"] or "in a new revision" in finding["hint"]
    assert result.project["summary"]["migrations"][0]["status"] == "edited after it was on the base branch"


def test_reformatting_a_base_migration_is_not_an_edit(repo: Repo) -> None:
    repo.replace("alembic/versions/0002_add_user_full_name.py", '"""add users.full_name',
                 '"""Add users.full_name (docstring reworded)')
    repo.replace("alembic/versions/0002_add_user_full_name.py", "def upgrade() -> None:",
                 "# a comment\ndef upgrade() -> None:")
    repo.commit("cosmetic")
    result = repo.verify()
    assert result.exit_code == 0, result.failed()
    assert result.check("base-migrations-unchanged")["summary"] == (
        "no base revision was edited; 1 changed in comments, docstrings, annotations, imports or formatting only")


def test_drift_introduced(repo: Repo) -> None:
    repo.replace("app/models/user.py", "full_name:", "age: Mapped[int | None] = mapped_column()\n    full_name:")
    repo.commit("model change without a migration")
    result = repo.verify()
    assert result.exit_code == 1
    # The dev seed selects users through the model, so it breaks the same way on a real database.
    assert result.failed() == ["model-drift", "seeds-run"]
    assert "column users.age does not exist" in result.check("seeds-run")["findings"][0]["message"]
    drift = result.project["drift"]
    assert [d["text"] for d in drift["introduced"]] == [
        "column `users.age` (INTEGER) is in the models but not in the database"]
    assert drift["existing"] == []


def test_drift_already_at_base_passes(tmp_path) -> None:
    from conftest import make_repo

    repo = make_repo(tmp_path / "svc")
    repo.checkout("main")
    repo.replace("app/models/user.py", "full_name:", "age: Mapped[int | None] = mapped_column()\n    full_name:")
    repo.commit("main already drifts")
    repo.branch("feature")
    add_orders(repo)
    result = repo.verify()
    assert result.exit_code == 0, result.failed()
    drift = result.project["drift"]
    assert drift["introduced"] == []
    assert [d["text"] for d in drift["existing"]] == [
        "column `users.age` (INTEGER) is in the models but not in the database"]
    assert "1 already at base" in result.check("model-drift")["summary"]
    # The dev seed breaks on that drift on main too: not this branch's failure either.
    assert result.status("seeds-run") == "skip"
    assert "fails the same way on the base branch" in result.check("seeds-run")["summary"]


def test_drift_fixed_by_the_branch(tmp_path) -> None:
    from conftest import make_repo

    repo = make_repo(tmp_path / "svc")
    repo.replace("app/models/user.py", "full_name:", "age: Mapped[int | None] = mapped_column()\n    full_name:")
    repo.commit("main already drifts")
    repo.branch("feature")
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer()))', 'op.drop_column("users", "age")')
    repo.commit("fix the drift")
    result = repo.verify()
    assert result.exit_code == 0, result.failed()
    assert len(result.project["drift"]["fixed"]) == 1
    assert "1 fixed by this branch" in result.check("model-drift")["summary"]


def test_migration_that_raises(repo: Repo) -> None:
    path = repo.revision("0003", "0002", 'op.execute("SELECT 1")\nop.add_column("nope", sa.Column("x", sa.Integer()))',
                         'op.drop_column("nope", "x")')
    repo.revision("0004", "0003", 'op.execute("SELECT 2")', 'op.execute("SELECT 2")')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("upgrade")["findings"]
    assert finding["revision"] == "0003"
    assert (finding["file"], finding["line"]) == ("alembic/versions/0003.py", line_of(path, 'op.add_column("nope"'))
    assert 'relation "nope" does not exist' in finding["message"]
    assert "(1 later revision not tried)" in result.check("upgrade")["summary"]
    stair = {r["revision"]: r for r in result.project["stairway"]}
    assert stair["0004"]["upgrade"] == {"status": "skip", "seconds": 0.0, "note": "revision 0003 failed to upgrade"}
    assert result.status("model-drift") == "skip"
    assert result.project["summary"]["verification"]["migration_up"] == "fail"
    # Nothing is said of downgrades that never ran.
    assert result.check("reversible-downgrades")["summary"] == (
        "no new revision's downgrade ran: 0003 (the upgrade failed); 0004 (revision 0003 failed to upgrade)")


def test_syntax_error_in_a_revision(repo: Repo) -> None:
    repo.write("alembic/versions/0003.py", '''
        """broken"""
        from alembic import op

        revision = "0003"
        down_revision = "0002"

        def upgrade() -> None:
            op.execute("SELECT 1"
        def downgrade() -> None:
            pass
    ''')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("revision-syntax")["findings"]
    assert finding["file"] == "alembic/versions/0003.py"
    assert finding["line"] == 8
    env = result.check("env-loads")
    assert env["status"] == "fail"
    assert env["findings"][0]["file"] == "alembic/versions/0003.py"
    assert result.status("upgrade") == "skip"
    # Checks that need every file parsed say so instead of passing on a partial graph.
    for check_id in ("single-head", "down-revisions-exist"):
        check = result.check(check_id)
        assert check["status"] == "skip"
        assert check["summary"] == "alembic/versions/0003.py cannot be parsed (see revision-syntax)"
    assert result.check("reversible-downgrades")["summary"] == "env.py or the models failed to load at head"
    [migration] = result.project["summary"]["migrations"]
    assert migration["description"] == "cannot be read: syntax error on line 8"


def test_env_py_import_error(repo: Repo) -> None:
    repo.replace("alembic/env.py", "from app.models import Base", "from app.models import Base\nfrom app.models.missing import Thing")
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("env-loads")["findings"]
    assert (finding["file"], finding["line"]) == ("alembic/env.py", 8)
    assert "ModuleNotFoundError: No module named 'app.models.missing'" in finding["message"]
    assert result.status("base-builds") == "pass"
    for check_id in ("upgrade", "downgrade", "roundtrip", "model-drift"):
        assert result.status(check_id) == "skip"
    # Nothing ran, so the summary must not say "pass" for anything.
    assert result.project["summary"]["verification"]["migration_up"] == "skipped"
    assert result.project["summary"]["verification"]["migration_down"] == "skipped"
    assert result.project["summary"]["schema_impact"]["known"] is False
    assert "could not be imported" in finding["hint"]


def test_hanging_migration_is_stopped_by_the_timeout(repo: Repo) -> None:
    repo.revision("0003", "0002", 'import time\ntime.sleep(600)', "pass")
    repo.revision("0004", "0003", 'op.execute("SELECT pg_sleep(600)")', 'op.execute("SELECT 1")')
    repo.commit()
    result = repo.verify("--timeout", "3")  # run_migbot also asserts no process or temp dir outlives it
    assert result.exit_code == 1
    [finding] = result.check("upgrade")["findings"]
    assert finding["revision"] == "0003"
    assert "did not finish within 3 s" in finding["message"]
    # 0004 (pg_sleep(600)) was stopped by the same limit: the run ended (run_migbot's own timeout is 300 s).


def test_sql_that_hangs_hits_statement_timeout(repo: Repo) -> None:
    repo.revision("0003", "0002", 'op.execute("SELECT pg_sleep(600)")', 'op.execute("SELECT 1")')
    repo.commit()
    result = repo.verify("--timeout", "3")
    assert result.exit_code == 1
    [finding] = result.check("upgrade")["findings"]
    assert "statement timeout" in finding["message"] or "did not finish within 3 s" in finding["message"]


def test_roundtrip_catches_what_only_shows_when_revisions_run_together(repo: Repo) -> None:
    # ALTER TYPE ... ADD VALUE may not be used in the transaction that added it: one
    # revision at a time works, `upgrade head` over both in one transaction does not.
    repo.revision("0003", "0002", """
        status = postgresql.ENUM("active", "disabled", name="user_status")
        status.create(op.get_bind())
        op.add_column("users", sa.Column("status", status, nullable=True))
    """, 'op.drop_column("users", "status")\nop.execute("DROP TYPE user_status")')
    repo.replace("app/models/user.py", "full_name:", "status = mapped_column(Enum('active', 'disabled', 'banned', name='user_status'))\n    full_name:")
    repo.replace("app/models/user.py", "from sqlalchemy import String", "from sqlalchemy import Enum, String")
    repo.revision("0004", "0003", """op.execute("ALTER TYPE user_status ADD VALUE 'banned'")""", """
        op.execute("ALTER TYPE user_status RENAME TO user_status_old")
        op.execute("CREATE TYPE user_status AS ENUM ('active', 'disabled')")
        op.execute("ALTER TABLE users ALTER COLUMN status TYPE user_status USING status::text::user_status")
        op.execute("DROP TYPE user_status_old")
    """)
    repo.revision("0005", "0004", """op.execute("UPDATE users SET status = 'banned' WHERE email LIKE '%spam%'")""",
                  """op.execute("UPDATE users SET status = NULL WHERE status = 'banned'")""")
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    assert result.failed() == ["roundtrip"], [(c["id"], c["summary"]) for c in result.project["checks"]]
    [finding] = result.check("roundtrip")["findings"]
    assert 'unsafe use of new value "banned"' in finding["message"]


def test_duplicate_revision_ids(repo: Repo) -> None:
    first = repo.revision("0003", "0002", 'op.execute("SELECT 1")', 'op.execute("SELECT 1")')
    first.rename(first.with_name("0003_copy.py"))
    repo.revision("0003", "0002", 'op.execute("SELECT 2")', 'op.execute("SELECT 2")')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    check = result.check("unique-revision-ids")
    assert check["status"] == "fail"
    assert "revision id 0003 is declared by 2 files" in check["findings"][0]["message"]


def test_missing_down_revision(repo: Repo) -> None:
    path = repo.revision("0003", "0002x", 'op.execute("SELECT 1")', 'op.execute("SELECT 1")')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("down-revisions-exist")["findings"]
    assert (finding["file"], finding["line"]) == ("alembic/versions/0003.py", line_of(path, "down_revision ="))
    assert "down_revision '0002x' is not the id of any revision" in finding["message"]
    assert result.status("env-loads") == "fail"  # Alembic cannot build the graph either


def test_broken_base_is_reported_not_blamed_on_the_branch(tmp_path) -> None:
    from conftest import make_repo

    repo = make_repo(tmp_path / "svc")
    repo.revision("0003", "0002", 'op.execute("SELECT * FROM no_such_table")', 'op.execute("SELECT 1")')
    repo.commit("main is broken")
    repo.branch("feature")
    repo.write("README.md", "x\n")
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("base-builds")["findings"]
    assert finding["file"] == "alembic/versions/0003.py"
    assert 'relation "no_such_table" does not exist' in finding["message"]
    assert result.status("upgrade") == "skip"
    assert result.check("upgrade")["summary"] == "the base state could not be built"


def test_duplicate_revision_id_only_after_merge(repo: Repo) -> None:
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer()))', 'op.drop_column("users", "age")')
    repo.replace("app/models/user.py", "full_name:", "age: Mapped[int | None] = mapped_column()\n    full_name:")
    repo.commit("feature: 0003")
    repo.checkout("main")
    main_rev = repo.revision("0003", "0002", 'op.execute("SELECT 1")', 'op.execute("SELECT 1")')
    main_rev.rename(main_rev.with_name("0003_main_cleanup.py"))
    repo.commit("main: another 0003")
    repo.checkout("feature")
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("unique-revision-ids")["findings"]
    assert "is also used by alembic/versions/0003_main_cleanup.py on the base branch" in finding["message"]
    assert finding["file"] == "alembic/versions/0003.py"


def test_deleted_base_migration(repo: Repo) -> None:
    repo.remove("alembic/versions/0002_add_user_full_name.py")
    repo.replace("app/models/user.py", "    full_name: Mapped[str | None] = mapped_column(String(100))\n", "")
    repo.commit("squash away 0002")
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("base-migrations-unchanged")["findings"]
    assert finding["message"] == "0002 exists on the base branch and was deleted"
    # The base database is at 0002, which the branch no longer has: nothing can be walked,
    # and the live checks say why instead of failing a second time for the same cause.
    upgrade = result.check("upgrade")
    assert upgrade["status"] == "skip"
    assert "0002, which the head branch no longer has" in upgrade["summary"]
    assert result.project["stairway"] == []  # base revisions are never taken for new ones


def test_not_implemented_and_missing_downgrades_of_revisions_that_change_the_schema(repo: Repo) -> None:
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("a", sa.Integer()))', 'raise NotImplementedError()')
    path = repo.revision("0004", "0003", 'op.add_column("users", sa.Column("b", sa.Integer()))', "pass")
    path.write_text(path.read_text().split("\n\ndef downgrade()")[0] + "\n")
    repo.replace("app/models/user.py", "full_name:", "a: Mapped[int | None] = mapped_column()\n    "
                 "b: Mapped[int | None] = mapped_column()\n    full_name:")
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    messages = [f["message"] for f in result.check("reversible-downgrades")["findings"]]
    assert messages == [
        "0003: downgrade() refuses (NotImplementedError), but its upgrade changed the schema "
        "(column `public.users.a` added (integer NULL))",
        "0004: downgrade() is missing, but its upgrade changed the schema (column `public.users.b` added (integer NULL))",
    ]
    # Neither is a failure of `downgrade`: they refuse by design, and that is this check's to say.
    assert result.status("downgrade") == "skip"


def test_a_downgrade_that_refuses_although_nothing_changed_is_a_warning(repo: Repo) -> None:
    repo.revision("0003", "0002", 'op.execute("SELECT 1")', 'raise NotImplementedError()')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 0, result.failed()
    check = result.check("reversible-downgrades")
    assert check["status"] == "warn"
    [finding] = check["findings"]
    assert finding["message"] == ("0003: downgrade() refuses (NotImplementedError) although the upgrade changes "
                                  "nothing: every rollback stops here; `pass` would do")
    assert finding["severity"] == "warning"


def test_failing_bootstrap_command(repo: Repo) -> None:
    repo.write("migbot.toml", 'bootstrap = "echo preparing && python -c \'import sys; sys.exit(7)\'"\n')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("base-builds")["findings"]
    assert "exited with code 7" in finding["message"] and "preparing" in finding["message"]


def test_downgrade_leaving_a_sequence_behind(repo: Repo) -> None:
    repo.revision("0003", "0002", """
        op.execute("CREATE SEQUENCE invoice_number_seq START 1000")
        op.add_column("users", sa.Column("invoice_prefix", sa.String(10)))
    """, 'op.drop_column("users", "invoice_prefix")')
    repo.replace("app/models/user.py", "full_name:", "invoice_prefix: Mapped[str | None] = mapped_column(String(10))\n    full_name:")
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("downgrade-restores-schema")["findings"]
    assert finding["details"] == ["sequence `public.invoice_number_seq` left behind by the downgrade"]
    assert "already exists" in result.check("reupgrade")["findings"][0]["message"]


def test_second_upgrade_gives_a_different_schema(repo: Repo) -> None:
    # The upgrade looks at what the (broken) downgrade left behind and behaves differently.
    repo.revision("0003", "0002", """
        bind = op.get_bind()
        seen = bind.execute(sa.text("SELECT count(*) FROM pg_class WHERE relname = 'upgrade_marker'")).scalar()
        op.execute("CREATE TABLE IF NOT EXISTS upgrade_marker (id int)")
        op.add_column("users", sa.Column("flag", sa.Integer(), server_default=str(seen)))
    """, 'op.drop_column("users", "flag")')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    reup = result.check("reupgrade")
    assert reup["status"] == "fail"
    [finding] = reup["findings"]
    assert finding["message"] == "0003: the second upgrade gives a different schema than the first (1 difference)"
    assert finding["details"] == ["column `public.users.flag` different after the second upgrade: default `0` → `1`"]


def test_depends_on_is_not_a_parent(repo: Repo) -> None:
    # Two new siblings, one of which depends_on an old revision, merged by a third: each
    # sibling's downgrade must take back only itself.
    repo.revision("0003a", "0002", 'op.add_column("users", sa.Column("a", sa.Integer()))', 'op.drop_column("users", "a")')
    path = repo.revision("0003b", "0002", 'op.add_column("users", sa.Column("b", sa.Integer()))',
                         'op.drop_column("users", "b")')
    path.write_text(path.read_text().replace("depends_on = None", 'depends_on = "0001"'))
    repo.revision("0004", None, "pass", "pass").write_text(
        repo.read("alembic/versions/0004.py").replace("down_revision = None", 'down_revision = ("0003a", "0003b")'))
    repo.replace("app/models/user.py", "full_name:", "a: Mapped[int | None] = mapped_column()\n    "
                 "b: Mapped[int | None] = mapped_column()\n    full_name:")
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 0, [(c["id"], c["summary"]) for c in result.project["checks"]]
    order = [r["revision"] for r in result.project["stairway"]]
    assert sorted(order[:2]) == ["0003a", "0003b"] and order[2] == "0004"  # Alembic's order: the merge last


def test_roundtrip_covers_a_new_independent_branch(repo: Repo) -> None:
    """A branch that starts a history of its own (a root revision with a branch label): going down
    to the base heads is exactly that branch's downgrades, so the round trip runs."""
    path = repo.revision("x001", None, 'op.create_table("audit", sa.Column("id", sa.Integer(), primary_key=True))',
                         'op.drop_table("audit")')
    path.write_text(path.read_text().replace("branch_labels = None", 'branch_labels = ("audit",)'))
    repo.commit()
    result = repo.verify()
    assert result.status("roundtrip") == "pass", result.check("roundtrip")
    assert result.check("roundtrip")["summary"] == \
        "head → base heads (0002) → head in one run each way, schema identical"
    assert result.status("downgrade-restores-schema") == "pass"


def test_a_warning_level_shows_as_a_warning_in_the_summary(repo: Repo) -> None:
    repo.replace("app/models/user.py", "full_name:", "nickname: Mapped[str | None] = mapped_column(String(50))\n    full_name:")
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("nickname", sa.String(50)))',
                  'op.drop_column("users", "nickname")\nop.drop_column("users", "full_name")')
    repo.commit()
    repo.commit_on_main("migbot.toml", '[checks]\ndowngrade-restores-schema = "warning"\nreupgrade = "warning"\n'
                                      'roundtrip = "warning"\n')
    result = repo.verify()
    assert result.exit_code == 0
    assert result.status("downgrade-restores-schema") == "warn"
    assert result.project["summary"]["verification"]["migration_down"] == "warning"


def test_an_index_built_concurrently_inside_the_transaction_fails_with_the_way_around_it(repo: Repo) -> None:
    repo.revision("0003", "0002", 'op.create_index("ix_users_email_c", "users", ["email"], postgresql_concurrently=True)',
                  'op.drop_index("ix_users_email_c", table_name="users")')
    repo.commit()
    result = repo.verify()
    assert result.status("upgrade") == "fail"
    [finding] = result.check("upgrade")["findings"]
    assert "CREATE INDEX CONCURRENTLY cannot run inside a transaction block" in finding["message"]
    assert finding["line"] == line_of(repo.path / "alembic/versions/0003.py", "op.create_index")
    assert "`with op.get_context().autocommit_block():`" in finding["hint"]
