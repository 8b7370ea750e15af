"""Layouts and wiring seen on real public FastAPI projects, and the config that covers them."""

from __future__ import annotations

import shutil

import psycopg

from conftest import FIXTURES, Repo, make_repo, run_migbot
from test_verify_passes import add_orders

FULLSTACK_CONFIG = '''
from pydantic import computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file="../.env", env_ignore_empty=True, extra="ignore")

    PROJECT_NAME: str
    SECRET_KEY: str
    POSTGRES_SERVER: str
    POSTGRES_PORT: int = 5432
    POSTGRES_USER: str
    POSTGRES_PASSWORD: str = ""
    POSTGRES_DB: str = ""

    @computed_field
    @property
    def SQLALCHEMY_DATABASE_URI(self) -> str:
        return (f"postgresql+psycopg://{self.POSTGRES_USER}:{self.POSTGRES_PASSWORD}"
                f"@{self.POSTGRES_SERVER}:{self.POSTGRES_PORT}/{self.POSTGRES_DB}")


settings = Settings()
'''


def fullstack_repo(tmp_path) -> Repo:
    """Like full-stack-fastapi-template: backend/alembic.ini, script_location = app/alembic,
    settings built from POSTGRES_* parts, and settings that demand unrelated secrets."""
    root = tmp_path / "fullstack"
    backend = root / "backend"
    backend.mkdir(parents=True)
    shutil.copytree(FIXTURES / "service" / "app", backend / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(FIXTURES / "service" / "alembic", backend / "app" / "alembic", ignore=shutil.ignore_patterns("__pycache__"))
    ini = (FIXTURES / "service" / "alembic.ini").read_text().replace("script_location = alembic", "script_location = app/alembic")
    (backend / "alembic.ini").write_text(ini)
    (backend / "app" / "core" / "config.py").write_text(FULLSTACK_CONFIG)
    env_py = backend / "app" / "alembic" / "env.py"
    env_py.write_text(env_py.read_text().replace("settings.DATABASE_URL", "settings.SQLALCHEMY_DATABASE_URI"))
    (root / ".env").write_text("PROJECT_NAME=demo\nPOSTGRES_SERVER=db.internal\nPOSTGRES_USER=app\n")
    repo = Repo(root)
    repo.git("init", "-q", "-b", "main")
    repo.commit("base")
    repo.branch("feature")
    return repo


def add_orders_fullstack(repo: Repo) -> None:
    from test_verify_passes import ORDER_DOWNGRADE, ORDER_MODEL, ORDER_UPGRADE

    repo.write("backend/app/models/order.py", ORDER_MODEL)
    repo.replace("backend/app/models/__init__.py", "from app.models.user import User",
                 "from app.models.order import Order\nfrom app.models.user import User")
    repo.revision("0003", "0002", ORDER_UPGRADE, ORDER_DOWNGRADE, versions="backend/app/alembic/versions")
    repo.commit("orders")


def test_settings_that_demand_unrelated_secrets_get_a_clear_failure(tmp_path) -> None:
    repo = fullstack_repo(tmp_path)
    add_orders_fullstack(repo)
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("env-loads")["findings"]
    assert "SECRET_KEY" in finding["message"] and "Field required" in finding["message"]
    assert finding["file"] == "backend/app/core/config.py"
    assert "`env` table in [tool.migbot]" in finding["hint"]
    # The base fails the same way: one failure, not two with different advice.
    assert result.check("base-builds")["status"] == "skip"


def test_config_env_gives_settings_what_they_need(tmp_path) -> None:
    repo = fullstack_repo(tmp_path)
    repo.write("pyproject.toml", """
        [tool.migbot]
        env = { SECRET_KEY = "not-a-secret", PROJECT_NAME = "migbot-check" }
    """)
    repo.commit("configure migbot")
    add_orders_fullstack(repo)
    result = repo.verify()
    assert result.exit_code == 0, (result.stderr, [(c["id"], c["summary"]) for c in result.project["checks"]])
    assert result.project["alembic_ini"] == "backend/alembic.ini"
    assert result.project["name"] == "backend"
    # The POSTGRES_* parts from .env (db.internal) lost to migbot's environment.
    assert result.project["summary"]["schema_impact"]["new_tables"] == ["public.orders"]


def test_package_relative_script_location_and_two_version_locations(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    repo.git("mv", "alembic", "app/migrations")
    repo.replace("alembic.ini", "script_location = alembic",
                 "script_location = app:migrations\nversion_locations = %(here)s/app/migrations/versions %(here)s/app/migrations/data_versions\n"
                 "path_separator = space")
    (repo.path / "app/migrations/__init__.py").write_text("")
    repo.commit("move migrations into the package")
    repo.branch("feature")
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer()))', 'op.drop_column("users", "age")',
                  versions="app/migrations/versions")
    repo.revision("0004", "0003", 'op.execute("UPDATE users SET age = 0")', 'op.execute("UPDATE users SET age = NULL")',
                  versions="app/migrations/data_versions")
    repo.replace("app/models/user.py", "full_name:", "age: Mapped[int | None] = mapped_column()\n    full_name:")
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 0, [(c["id"], c["summary"]) for c in result.project["checks"]]
    assert [m["file"] for m in result.project["summary"]["migrations"]] == [  # in the order Alembic applies them
        "app/migrations/versions/0003.py", "app/migrations/data_versions/0004.py"]
    assert [r["revision"] for r in result.project["stairway"]] == ["0003", "0004"]


def test_create_all_and_stamp_bootstrap(tmp_path) -> None:
    """A project whose history starts with create_all + `alembic stamp head`: revision 0001 is
    a placeholder, so `upgrade head` alone cannot build the base."""
    repo = make_repo(tmp_path / "svc")
    repo.write("alembic/versions/0001_create_users.py", '''
        """baseline: the schema was created with create_all"""
        revision = "0001"
        down_revision = None


        def upgrade() -> None:
            raise RuntimeError("create the schema with scripts/create_db.py, then stamp")


        def downgrade() -> None:
            pass
    ''')
    repo.write("scripts/create_db.py", '''
        from app.core.database import engine
        from app.models import Base

        Base.metadata.create_all(engine)
    ''')
    repo.commit("baseline")
    repo.branch("feature")
    repo.write("migbot.toml", 'bootstrap = "python scripts/create_db.py && alembic stamp head"\n')
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer()))', 'op.drop_column("users", "age")')
    repo.replace("app/models/user.py", "full_name:", "age: Mapped[int | None] = mapped_column()\n    full_name:")
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 0, [(c["id"], c["summary"]) for c in result.project["checks"]]
    assert result.project["heads"]["database_at_base"] == ["0002"]
    assert result.status("roundtrip") == "pass"


def test_monorepo_with_two_alembic_projects(tmp_path) -> None:
    root = tmp_path / "mono"
    for name in ("billing", "accounts"):
        shutil.copytree(FIXTURES / "service", root / "services" / name, ignore=shutil.ignore_patterns("__pycache__"))
    repo = Repo(root)
    repo.git("init", "-q", "-b", "main")
    repo.commit("two services")
    repo.branch("feature")
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer()))', "pass",
                  versions="services/billing/alembic/versions")
    repo.commit("billing: irreversible revision")
    result = repo.verify()
    assert result.exit_code == 1
    names = [p["name"] for p in result.report["projects"]]
    assert names == ["services/accounts", "services/billing"]
    assert [p["result"] for p in result.report["projects"]] == ["pass", "fail"]
    assert result.status("reversible-downgrades", project=1) == "fail"
    assert result.report["projects"][0]["summary"]["migrations"] == []


def test_env_py_that_connects_elsewhere_is_refused_before_any_ddl(repo: Repo) -> None:
    repo.replace("alembic/env.py", 'config.set_main_option("sqlalchemy.url", settings.DATABASE_URL)',
                 'config.set_main_option("sqlalchemy.url", "postgresql+psycopg://postgres@127.0.0.1:5432/test")')
    add_orders(repo)
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test") as conn:
        before = conn.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace").fetchone()
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("env-loads")["findings"]
    assert "env.py connected to database 'test', not to migbot's throwaway database" in finding["message"]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test") as conn:
        after = conn.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace").fetchone()
    assert before == after


def test_committed_env_file_does_not_redirect_migbot(repo: Repo) -> None:
    repo.write(".env", "DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test\n")
    add_orders(repo)
    result = repo.verify()
    assert result.exit_code == 0, result.failed()


def test_project_python_from_config_that_does_not_exist(repo: Repo) -> None:
    repo.write("pyproject.toml", '[tool.migbot]\npython = ".venv-missing/bin/python"\n')
    repo.commit()
    result = run_migbot("verify", "--repo", str(repo.path), "--base", "main")
    assert result.exit_code == 2
    assert "Could not start the project's Python interpreter" in result.stderr
    assert "Traceback" not in result.stderr


POOLED_ASYNC_ENV = '''
import asyncio

from alembic import context

from app.core.database import engine
from app.models import Base

target_metadata = Base.metadata


def do_run_migrations(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def main() -> None:
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)


asyncio.run(main())
'''


def test_env_py_using_the_apps_pooled_async_engine(async_repo: Repo) -> None:
    """env.py reuses the app's engine (a pool, bound to one event loop): each Alembic command
    in the long-lived worker must still get a fresh connection."""
    async_repo.write("alembic/env.py", POOLED_ASYNC_ENV)
    async_repo.replace("app/core/database.py", ", pool_pre_ping=True", "")
    async_repo.commit("env.py uses the app engine")
    add_orders(async_repo)
    result = async_repo.verify()
    assert result.exit_code == 0, [(c["id"], c["summary"]) for c in result.project["checks"]]


def test_guard_refuses_an_autocommit_engine_to_another_database(repo: Repo) -> None:
    """In AUTOCOMMIT, Alembic would create alembic_version before running anything: the
    connection itself must be refused."""
    repo.replace("alembic/env.py", 'config.set_main_option("sqlalchemy.url", settings.DATABASE_URL)',
                 'config.set_main_option("sqlalchemy.url", "postgresql+psycopg://postgres@127.0.0.1:5432/test")')
    repo.replace("alembic/env.py", "prefix=\"sqlalchemy.\", poolclass=pool.NullPool)",
                 "prefix=\"sqlalchemy.\", poolclass=pool.NullPool, isolation_level=\"AUTOCOMMIT\")")
    add_orders(repo)
    result = repo.verify()
    assert result.exit_code == 1
    assert "connected to database 'test'" in result.check("env-loads")["findings"][0]["message"]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test") as conn:
        assert conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()[0] is None


def test_bootstrap_alembic_commands_reach_only_migbots_database(tmp_path) -> None:
    """alembic.ini names a real database; `alembic stamp head` in the bootstrap must not touch it."""
    repo = make_repo(tmp_path / "svc")
    repo.replace("alembic.ini", "sqlalchemy.url = driver://user:pass@localhost/dbname",
                 "sqlalchemy.url = postgresql+psycopg://postgres@127.0.0.1:5432/test")
    repo.replace("alembic/env.py", 'config.set_main_option("sqlalchemy.url", settings.DATABASE_URL)\n', "")
    repo.write("scripts/create_db.py", '''
        import os
        from sqlalchemy import create_engine
        from app.models import Base

        Base.metadata.create_all(create_engine(os.environ["DATABASE_URL"]))
    ''')
    repo.write("migbot.toml", 'bootstrap = "python scripts/create_db.py && alembic stamp head"\n')
    repo.commit("ini points at a real database")
    repo.branch("feature")
    add_orders(repo)
    result = repo.verify()
    assert result.exit_code == 0, [(c["id"], c["summary"]) for c in result.project["checks"]]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test") as conn:
        assert conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()[0] is None
        assert conn.execute("SELECT to_regclass('public.users')").fetchone()[0] is None
