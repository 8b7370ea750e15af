"""The connection guard beyond SQLAlchemy: code that connects with psycopg, psycopg2 or asyncpg
directly, to a database other than migbot's throwaway one, is refused before anything runs
there, and the refusal names the project's file and line that connected.

The end-to-end tests lend migbot the server on 127.0.0.1:5432 (`--database-url`) and put a
"victim" table on it, outside migbot's databases, that the branch's code tries to empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from conftest import Repo, line_of
from psycopg import sql
from test_verify_passes import add_orders

SERVER = "postgresql://postgres@127.0.0.1:5432/"
ADMIN = SERVER + "postgres"
WORKER_DIR = Path(__file__).resolve().parents[1] / "src" / "migbot" / "run" / "worker"
NAMES = ["alice", "bob", "carol"]


@dataclass
class Victim:
    """A table with three rows, in a database migbot did not create."""

    database: str
    table: str

    @property
    def url(self) -> str:
        return SERVER + self.database

    def rows(self) -> list[str]:
        with psycopg.connect(self.url) as conn:
            query = sql.SQL("SELECT name FROM {} ORDER BY id").format(sql.Identifier(self.table))
            return [name for (name,) in conn.execute(query)]


def _victim_table(url: str, table: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (id serial PRIMARY KEY, name text NOT NULL)").format(
            sql.Identifier(table)))
        for name in NAMES:
            conn.execute(sql.SQL("INSERT INTO {} (name) VALUES (%s)").format(sql.Identifier(table)), (name,))


@pytest.fixture
def victim_database():
    """A database of its own on the lent server."""
    name = f"guardtest_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        _victim_table(SERVER + name, "accounts")
        yield Victim(name, "accounts")
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def victim_in_postgres():
    """A table of its own in the server's `postgres` maintenance database."""
    table = f"guardtest_{uuid.uuid4().hex[:10]}"
    _victim_table(ADMIN, table)
    try:
        yield Victim("postgres", table)
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


# The seeds reach the victim the way a careless script would: migbot's own URL (host, port,
# user, password), another database name.
PSYCOPG_SEED = '''
import os

import psycopg
from sqlalchemy.engine import make_url

OTHER = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql", database="{database}")


def run() -> None:
    with psycopg.connect(OTHER.render_as_string(hide_password=False)) as conn:
        conn.execute('DELETE FROM "{table}"')
        conn.execute("""INSERT INTO "{table}" (name) VALUES ('mallory')""")
'''

PSYCOPG2_SEED = '''
import os

import psycopg2
from sqlalchemy.engine import make_url

OTHER = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql", database="{database}")


def run() -> None:
    conn = psycopg2.connect(OTHER.render_as_string(hide_password=False))
    with conn, conn.cursor() as cursor:
        cursor.execute('DELETE FROM "{table}"')
        cursor.execute("""INSERT INTO "{table}" (name) VALUES ('mallory')""")
    conn.close()
'''

ASYNCPG_POOL_SEED = '''
import os

import asyncpg
from sqlalchemy.engine import make_url

OTHER = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql", database="{database}")


async def run() -> None:
    async with asyncpg.create_pool(OTHER.render_as_string(hide_password=False), min_size=1) as pool:
        await pool.execute('DELETE FROM "{table}"')
        await pool.execute("""INSERT INTO "{table}" (name) VALUES ('mallory')""")
'''

CATCHING_SEED = '''
import os

import psycopg
from sqlalchemy.engine import make_url

OTHER = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql", database="{database}")


def run() -> None:
    try:
        conn = psycopg.connect(OTHER.render_as_string(hide_password=False))
    except Exception:
        return  # "the audit database is optional"
    with conn:
        conn.execute('DELETE FROM "{table}"')
'''


def _seed_refused(repo: Repo, victim: Victim, seed: str, connect_call: str) -> None:
    """The seed at app/seeds/dev/purge.py is refused: seeds-run fails naming the line that
    connected, and the victim's rows are as they were."""
    path = repo.write("app/seeds/dev/purge.py", seed.format(database=victim.database, table=victim.table))
    add_orders(repo)
    result = repo.verify("--database-url", ADMIN)
    assert result.exit_code == 1, result.stderr
    assert result.status("seeds-run") == "fail"
    [finding] = result.check("seeds-run")["findings"]
    line = line_of(path, connect_call)
    assert finding["message"].startswith(
        f"seed set dev: failed: app/seeds/dev/purge.py:{line} connected to database {victim.database!r}, "
        "not to migbot's throwaway database 'migbot_"), finding["message"]
    assert "closed that connection before anything ran on it" in finding["message"]
    assert (finding["file"], finding["line"]) == ("app/seeds/dev/purge.py", line)
    assert result.status("seeds-idempotent") == "skip"
    assert victim.rows() == NAMES


def test_psycopg_seed_emptying_a_table_in_the_postgres_database_is_refused(
        repo: Repo, victim_in_postgres: Victim) -> None:
    _seed_refused(repo, victim_in_postgres, PSYCOPG_SEED, "psycopg.connect(")


def test_psycopg2_seed_emptying_a_table_in_another_database_is_refused(repo: Repo, victim_database: Victim) -> None:
    _seed_refused(repo, victim_database, PSYCOPG2_SEED, "psycopg2.connect(")


def test_asyncpg_pool_seed_emptying_a_table_in_another_database_is_refused(
        repo: Repo, victim_database: Victim) -> None:
    _seed_refused(repo, victim_database, ASYNCPG_POOL_SEED, "asyncpg.create_pool(")


def test_seed_that_catches_the_refusal_still_fails(repo: Repo, victim_database: Victim) -> None:
    _seed_refused(repo, victim_database, CATCHING_SEED, "psycopg.connect(")


def test_model_module_connecting_elsewhere_at_import_is_refused_and_named(
        repo: Repo, victim_database: Victim) -> None:
    # A hard-coded URL in a module env.py imports: env-loads fails, naming that module, not env.py.
    path = repo.write("app/models/audit.py", f'''
        import psycopg

        with psycopg.connect("{victim_database.url}", autocommit=True) as _conn:
            _conn.execute("DELETE FROM accounts")
    ''')
    repo.replace("app/models/__init__.py", "from app.models.user import User",
                 "from app.models import audit  # noqa: F401\nfrom app.models.user import User")
    repo.commit("audit")
    result = repo.verify("--database-url", ADMIN)
    assert result.exit_code == 1
    [finding] = result.check("env-loads")["findings"]
    line = line_of(path, "psycopg.connect(")
    assert f"app/models/audit.py:{line} connected to database {victim_database.database!r}, not to migbot's " \
           "throwaway database" in finding["message"], finding["message"]
    assert (finding["file"], finding["line"]) == ("app/models/audit.py", line)
    assert victim_database.rows() == NAMES


def test_seeds_using_each_driver_directly_on_migbots_database_work(repo: Repo) -> None:
    # The right database through DATABASE_URL: psycopg, psycopg2 and asyncpg, sync and async.
    repo.write("app/seeds/dev/reference.py", '''
        import asyncio
        import os

        import asyncpg
        import psycopg
        import psycopg2
        from sqlalchemy.engine import make_url

        URL = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql").render_as_string(hide_password=False)
        INSERT = "INSERT INTO users (email) VALUES ('{}') ON CONFLICT DO NOTHING"


        async def _async() -> None:
            conn = await asyncpg.connect(URL)
            try:
                await conn.execute(INSERT.format("asyncpg@example.com"))
            finally:
                await conn.close()
            async with await psycopg.AsyncConnection.connect(URL) as aconn:
                await aconn.execute(INSERT.format("psycopg-async@example.com"))


        def run() -> None:
            with psycopg.connect(URL) as conn:
                conn.execute(INSERT.format("psycopg@example.com"))
            conn2 = psycopg2.connect(URL)
            with conn2, conn2.cursor() as cursor:
                cursor.execute(INSERT.format("psycopg2@example.com"))
            conn2.close()
            asyncio.run(_async())
    ''')
    add_orders(repo)
    result = repo.verify()
    assert result.exit_code == 0, (result.failed(), result.stderr)
    assert result.status("seeds-run") == "pass" and result.status("seeds-idempotent") == "pass"
    assert result.project["seeds"]["rows"]["public.users"] == 2 + 4


# --- the guard in a fresh interpreter, every connection path, no migbot around it ----------------
GUARD_SCRIPT = r'''
import asyncio
import json
import sys

from migbot_worker import guard

guard.install_driver_guards()  # before any driver is imported, as in the worker
guard.expect_database(sys.argv[1], root=sys.argv[3])
assert not {"psycopg", "psycopg2", "asyncpg"} & set(sys.modules)

from psycopg import connect as bound_early  # bound by an import after the guard: patched
import asyncpg
import psycopg
import psycopg2
import psycopg2.extras
import psycopg2.pool
import sqlalchemy as sa
from psycopg.rows import dict_row
from sqlalchemy.ext.asyncio import create_async_engine

RIGHT, WRONG = sys.argv[2] + sys.argv[1], sys.argv[2] + "postgres"
results = []


def attempt(label, call):
    try:
        value = call()
    except guard.WrongDatabase as exc:
        results.append((label, "refused", exc.line, str(exc).split(" connected to ")[0]))
    else:
        results.append((label, "ok", value))


async def psycopg_async(url):
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return (await (await conn.execute("select current_database()")).fetchone())[0]


async def asyncpg_connect(url):
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("select current_database()")
    finally:
        await conn.close()


async def asyncpg_pool(url):
    async with asyncpg.create_pool(url, min_size=1, max_size=1) as pool:
        return await pool.fetchval("select current_database()")


async def sa_async(driver, url):
    engine = create_async_engine(url.replace("postgresql://", "postgresql+%s://" % driver))
    try:
        async with engine.connect() as conn:
            return (await conn.execute(sa.text("select current_database()"))).scalar()
    finally:
        await engine.dispose()


def sa_sync(driver, url):
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+%s://" % driver))
    with engine.connect() as conn:
        return conn.execute(sa.text("select current_database()")).scalar()


for label, url in (("right", RIGHT), ("wrong", WRONG)):
    attempt("psycopg.connect " + label, lambda: psycopg.connect(url).execute("select current_database()").fetchone()[0])
    attempt("bound early " + label, lambda: bound_early(url, row_factory=dict_row).execute("select 1 as x").fetchone()["x"])
    attempt("Connection.connect " + label, lambda: psycopg.Connection.connect(url, autocommit=True).closed)
    attempt("AsyncConnection.connect " + label, lambda: asyncio.run(psycopg_async(url)))
    attempt("psycopg2.connect " + label, lambda: psycopg2.connect(url).get_transaction_status())
    attempt("psycopg2 factory " + label, lambda: psycopg2.connect(url, connection_factory=psycopg2.extras.RealDictConnection).closed)
    attempt("psycopg2 pool " + label, lambda: psycopg2.pool.SimpleConnectionPool(1, 1, url).closed)
    attempt("asyncpg.connect " + label, lambda: asyncio.run(asyncpg_connect(url)))
    attempt("asyncpg pool " + label, lambda: asyncio.run(asyncpg_pool(url)))
    for driver in ("psycopg", "psycopg2"):
        attempt("sqlalchemy %s %s" % (driver, label), lambda: sa_sync(driver, url))
    for driver in ("psycopg", "asyncpg"):
        attempt("sqlalchemy async %s %s" % (driver, label), lambda: asyncio.run(sa_async(driver, url)))
print(json.dumps(results))
'''


def test_every_driver_path_is_checked_even_when_imported_after_the_guard(tmp_path: Path) -> None:
    script = tmp_path / "connects.py"
    script.write_text(textwrap.dedent(GUARD_SCRIPT))
    proc = subprocess.run([sys.executable, str(script), "test", SERVER, str(tmp_path)], check=False,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(WORKER_DIR)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    right = {r[0]: tuple(r[1:]) for r in results if r[0].endswith(" right")}
    wrong = {r[0]: tuple(r[1:]) for r in results if r[0].endswith(" wrong")}
    assert len(right) == len(wrong) == 13
    expected_right = {"psycopg.connect": "test", "bound early": 1, "Connection.connect": False,
                      "AsyncConnection.connect": "test", "psycopg2.connect": 0, "psycopg2 factory": 0,
                      "psycopg2 pool": 0, "asyncpg.connect": "test", "asyncpg pool": "test"}
    for label, value in expected_right.items():
        assert right[label + " right"] == ("ok", value), label
    assert all(value == ("ok", "test") for label, value in right.items() if label.startswith("sqlalchemy"))
    # Refused, naming this script's line that connected (the lambda's line in the loop).
    lines = script.read_text().splitlines()
    for label, (status, line, who) in wrong.items():
        assert status == "refused", label
        assert who == f"connects.py:{line}", (label, who)
        assert "attempt(" in lines[line - 1] or "connect(" in lines[line - 1] or "create_pool" in lines[line - 1], \
            (label, lines[line - 1])
