"""Seeds and migrations over data, end to end (the real CLI, real PostgreSQL)."""

from __future__ import annotations

from conftest import Repo, line_of, make_repo
from test_verify_passes import add_orders

DUPLICATING_SEED = '''
from app.models import User


def run(session) -> None:
    # Not idempotent: inserts without looking first, under a fresh email each time.
    count = session.query(User).count()
    session.add(User(email=f"user{count}@example.com", full_name="New"))
'''

TOUCHING_SEED = '''
from datetime import datetime, timezone

from sqlalchemy import select, update

from app.models import User


def run(session) -> None:
    if session.scalar(select(User).where(User.email == "carol@example.com")) is None:
        session.add(User(email="carol@example.com", full_name="Carol"))
    # Rewrites a timestamp on every run.
    session.execute(update(User).values(updated_at=datetime.now(timezone.utc)))
'''

RAISING_SEED = '''
def run(session) -> None:
    rows = {"alice": 1}
    print(rows["mallory"])
'''


def test_idempotent_seed_passes(repo: Repo) -> None:
    add_orders(repo)
    result = repo.verify()
    assert result.exit_code == 0, result.failed()
    assert result.status("seeds-run") == "pass"
    assert result.status("seeds-idempotent") == "pass"
    assert "a second run changed nothing in 2 tables (2 rows)" == result.check("seeds-idempotent")["summary"]
    assert result.project["summary"]["seed_data"][:3] == [
        "Seeds ran at head: `dev` (pass)",
        "Rows after seeding: `public.users` 2",
        "Second run: nothing changed (idempotent)",
    ]


def test_seed_that_inserts_duplicates_on_its_second_run(repo: Repo) -> None:
    repo.write("app/seeds/dev/users.py", DUPLICATING_SEED)
    add_orders(repo)
    result = repo.verify()
    assert result.exit_code == 1
    assert result.failed() == ["seeds-idempotent"]
    [finding] = result.check("seeds-idempotent")["findings"]
    assert finding["message"].startswith("`public.users`: 1 row added (e.g. ")
    assert result.project["seeds"]["idempotent"] is False
    assert result.project["summary"]["verification"]["seed_data"] == "fail"


def test_seed_that_updates_rows_on_every_run(repo: Repo) -> None:
    repo.write("app/seeds/dev/users.py", TOUCHING_SEED)
    add_orders(repo)
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("seeds-idempotent")["findings"]
    assert finding["message"].startswith("`public.users`: 1 row changed (e.g. ")
    # updated_at legitimately changes on every run: say so, and the seed is idempotent.
    repo.write("pyproject.toml", '[tool.migbot.seeds]\nignore-columns = ["updated_at"]\n')
    repo.commit("ignore updated_at")
    assert repo.verify().exit_code == 0


def test_seed_that_raises(repo: Repo) -> None:
    path = repo.write("app/seeds/dev/users.py", RAISING_SEED)
    add_orders(repo)
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("seeds-run")["findings"]
    assert finding["message"] == "seed set dev: failed: KeyError: 'mallory'"
    assert (finding["file"], finding["line"]) == ("app/seeds/dev/users.py", line_of(path, 'rows["mallory"]'))
    assert result.status("seeds-idempotent") == "skip"


def test_seed_that_uses_a_column_the_branch_drops(repo: Repo) -> None:
    repo.revision("0003", "0002", 'op.drop_column("users", "full_name")',
                  'op.add_column("users", sa.Column("full_name", sa.String(length=100), nullable=True))')
    repo.replace("app/models/user.py", "    full_name: Mapped[str | None] = mapped_column(String(100))\n", "")
    repo.commit("drop full_name")
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("seeds-run")["findings"]
    assert "full_name" in finding["message"]
    assert finding["file"] == "app/seeds/dev/users.py"
    # Dropping a column with data in it is also data loss on the way back down.
    assert result.status("downgrade-keeps-data") == "warn"


def test_not_null_column_without_default_on_a_table_with_rows(repo: Repo) -> None:
    path = repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer(), nullable=False))',
                         'op.drop_column("users", "age")')
    repo.replace("app/models/user.py", "full_name:", "age: Mapped[int] = mapped_column()\n    full_name:")
    repo.write("app/seeds/dev/users.py", repo.read("app/seeds/dev/users.py").replace(
        "User(email=email, full_name=full_name)", "User(email=email, full_name=full_name, age=30)"))
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    assert result.failed() == ["upgrade-over-rows"]  # on an empty database it passes
    [finding] = result.check("upgrade-over-rows")["findings"]
    assert 'column "age" of relation "users" contains null values' in finding["message"]
    assert "table `users`" in finding["message"] and "column `age`" in finding["message"]
    assert (finding["file"], finding["line"]) == ("alembic/versions/0003.py", line_of(path, "op.add_column"))


def test_unique_constraint_over_duplicated_seed_data(repo: Repo) -> None:
    repo.write("app/seeds/dev/users.py", repo.read("app/seeds/dev/users.py").replace(
        '("bob@example.com", "Bob Builder"),', '("bob@example.com", "Bob Builder"),\n    ("bob2@example.com", "Bob Builder"),'))
    repo.commit("main seeds two Bobs")
    repo.checkout("main")
    repo.git("merge", "-q", "feature")
    repo.checkout("feature")
    repo.revision("0003", "0002", 'op.create_unique_constraint("uq_users_full_name", "users", ["full_name"])',
                  'op.drop_constraint("uq_users_full_name", "users", type_="unique")')
    repo.replace("app/models/user.py", "mapped_column(String(100))", "mapped_column(String(100), unique=True)")
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("upgrade-over-rows")["findings"]
    assert "could not create unique index" in finding["message"]
    assert "constraint `uq_users_full_name`" in finding["message"] or "table `users`" in finding["message"]


def test_type_change_whose_cast_fails(repo: Repo) -> None:
    repo.revision("0003", "0002",
                  'op.alter_column("users", "full_name", type_=sa.Integer(), existing_type=sa.String(100), '
                  'postgresql_using="full_name::integer")',
                  'op.alter_column("users", "full_name", type_=sa.String(100), existing_type=sa.Integer())')
    repo.replace("app/models/user.py", "full_name: Mapped[str | None] = mapped_column(String(100))",
                 "full_name: Mapped[int | None] = mapped_column()")
    repo.write("app/seeds/dev/users.py", repo.read("app/seeds/dev/users.py").replace(
        "User(email=email, full_name=full_name)", "User(email=email)"))
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    assert result.failed() == ["upgrade-over-rows"]
    [finding] = result.check("upgrade-over-rows")["findings"]
    assert "invalid input syntax for type integer" in finding["message"]


def test_new_foreign_key_that_existing_rows_violate(repo: Repo) -> None:
    repo.revision("0003", "0002", """
        op.create_table("teams", sa.Column("id", sa.Integer(), primary_key=True))
        op.add_column("users", sa.Column("team_id", sa.Integer(), nullable=True, server_default="1"))
        op.create_foreign_key("fk_users_team_id_teams", "users", "teams", ["team_id"], ["id"])
    """, """
        op.drop_constraint("fk_users_team_id_teams", "users", type_="foreignkey")
        op.drop_column("users", "team_id")
        op.drop_table("teams")
    """)
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("upgrade-over-rows")["findings"]
    assert "violates foreign key constraint" in finding["message"]
    assert "constraint `fk_users_team_id_teams`" in finding["message"]


def test_downgrade_that_loses_data(repo: Repo) -> None:
    repo.revision("0003", "0002", """
        op.add_column("users", sa.Column("name", sa.String(100), nullable=True))
        op.execute("UPDATE users SET name = full_name")
        op.drop_column("users", "full_name")
    """, """
        op.add_column("users", sa.Column("full_name", sa.String(100), nullable=True))
        op.drop_column("users", "name")
    """)
    repo.replace("app/models/user.py", "full_name: Mapped[str | None] = mapped_column(String(100))",
                 "name: Mapped[str | None] = mapped_column(String(100))")
    repo.write("app/seeds/dev/users.py", repo.read("app/seeds/dev/users.py").replace("full_name=full_name",
                                                                                     "name=full_name"))
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 0  # a warning by default
    check = result.check("downgrade-keeps-data")
    assert check["status"] == "warn"
    [finding] = check["findings"]
    # Which rows, which column, and the revision to look at.
    assert finding["message"].startswith("0003: `public.users`: 2 rows changed (e.g. ")
    assert finding["message"].endswith("): `full_name` in 2 rows")
    assert (finding["revision"], finding["file"]) == ("0003", "alembic/versions/0003.py")
    repo.commit_on_main("migbot.toml", '[checks]\ndowngrade-keeps-data = "error"\n', "data loss is an error here")
    assert repo.verify().exit_code == 1


def test_project_without_seeds_is_not_applicable(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    repo.remove("app/seeds/dev/users.py")
    repo.commit("no seeds")
    repo.branch("feature")
    add_orders(repo)
    result = repo.verify()
    assert result.exit_code == 0, result.failed()
    assert result.status("seeds-run") == "skip" and result.status("seeds-idempotent") == "skip"
    assert result.project["summary"]["verification"]["seed_data"] == "not applicable"
    assert result.project["summary"]["seed_data"][0].startswith("Seeds: none ran (the project has no seeds")
    # The new revisions still run over rows: synthetic ones.
    assert result.status("upgrade-over-rows") == "pass"
    assert result.project["seeds"]["synthetic_rows"] == {"public.users": 300}


def test_seed_sets_named_in_config_and_entry_points(repo: Repo) -> None:
    repo.write("app/seeds/reference.py", '''
        import asyncio
        import os

        import psycopg


        async def main() -> None:  # async main(): the module manages its own connection
            url = os.environ["DATABASE_URL"].replace("+psycopg", "")
            with psycopg.connect(url) as conn:
                conn.execute("INSERT INTO users (email) VALUES ('ref@example.com') ON CONFLICT DO NOTHING")
            await asyncio.sleep(0)
    ''')
    repo.write("scripts/seed_more.py", '''
        import os
        import psycopg

        with psycopg.connect(os.environ["DATABASE_URL"].replace("+psycopg", "")) as conn:
            conn.execute("INSERT INTO users (email) VALUES ('script@example.com') ON CONFLICT DO NOTHING")
    ''')
    repo.write("pyproject.toml", '''
        [tool.migbot.seeds]
        sets = [
            { name = "reference", modules = ["app.seeds.reference"] },
            { name = "dev", modules = ["app.seeds.dev.users"] },
            { name = "scripted", command = "python scripts/seed_more.py" },
        ]
    ''')
    add_orders(repo)
    result = repo.verify()
    assert result.exit_code == 0, result.failed()
    assert [(s["name"], s["source"]) for s in result.project["seeds"]["sets"]] == [
        ("reference", "config"), ("dev", "config"), ("scripted", "config")]
    assert result.project["seeds"]["rows"]["public.users"] == 4


def test_async_seed_with_an_async_session(async_repo: Repo) -> None:
    async_repo.write("app/seeds/dev/users.py", '''
        from sqlalchemy import select

        from app.models import User


        async def run(session) -> None:
            if await session.scalar(select(User).where(User.email == "async@example.com")) is None:
                session.add(User(email="async@example.com"))
    ''')
    add_orders(async_repo)
    result = async_repo.verify()
    assert result.exit_code == 0, result.failed()
    assert result.project["seeds"]["rows"]["public.users"] == 1
    assert result.project["seeds"]["idempotent"] is True


def test_base_seeds_that_fail_leave_synthetic_rows(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    repo.write("app/seeds/dev/users.py", RAISING_SEED)
    repo.commit("main's seed is broken")
    repo.branch("feature")
    repo.write("app/seeds/dev/users.py", repo.read("app/seeds/dev/users.py").replace('rows["mallory"]', 'rows["alice"]'))
    add_orders(repo)
    result = repo.verify()
    assert result.exit_code == 0, result.failed()
    seeds = result.project["seeds"]
    assert [(s["name"], s["status"]) for s in seeds["base_sets"]] == [("dev", "fail")]
    assert seeds["synthetic_rows"] == {"public.users": 300}
    assert "the base's seeds `dev` (fail)" in result.project["summary"]["seed_data"][-1]
