"""What runs killed outright (kill -9) left on a lent server (--database-url): the next run
drops it, and nothing else.

Each test names its databases and roles with random hex of its own, so parallel tests
(xdist) never share them.
"""

from __future__ import annotations

import secrets
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from conftest import Repo
from migbot.provision.leftovers import LEFTOVER_AGE, birth_comment, born
from migbot.provision.server import launch_server
from migbot.provision.tempdirs import claim_temp_dir, remove_temp_dir

SHARED = "postgresql://postgres@127.0.0.1:5432/postgres"
OLD = birth_comment(datetime.now(timezone.utc) - timedelta(seconds=LEFTOVER_AGE + 3600))


def a_change(repo: Repo) -> None:
    """Something for the run to verify, so that it provisions databases."""
    repo.revision("0003", "0002", "op.execute('SELECT 1')", "op.execute('SELECT 1')", doc="a no-op")
    repo.commit("a no-op revision")


def comment(admin: psycopg.Connection, kind: str, name: str, text: str) -> None:
    admin.execute(sql.SQL("COMMENT ON {} {} IS {}").format(sql.SQL(kind), sql.Identifier(name), sql.Literal(text)))


def drop(admin: psycopg.Connection, databases: list[str], roles: list[str]) -> None:
    for name in databases:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    for name in roles:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture
def private_server():
    """A server lent to this test's run alone: on the shared one, any other test's
    --database-url run (xdist) may sweep the leftovers first, as it should."""
    parent = claim_temp_dir("migbot-leftovers-", Path(tempfile.gettempdir()))
    server = launch_server(parent)
    try:
        server.wait_ready()
        info = server.info
        with psycopg.connect(**info.admin_kwargs(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE postgres")
        yield f"postgresql://{info.user}:{info.password}@127.0.0.1:{info.port}"
    finally:
        server.stop()
        remove_temp_dir(parent)


def test_birth_comment_reads_back() -> None:
    when = datetime(2026, 12, 1, 5, 0, tzinfo=timezone.utc)
    text = birth_comment(when)
    assert text.startswith("migbot: created 2026-12-01T05:00:00+00:00 by a run (pid ")
    assert born(text) == when
    assert born(None) is None and born("") is None and born("the app's scratch database") is None
    assert born("migbot: created yesterday by a run (pid 1 on host x)") is None


def test_a_killed_runs_database_role_and_connections_are_dropped(repo: Repo, private_server: str) -> None:
    a_change(repo)
    prefix = f"migbot_{secrets.token_hex(4)}"
    database, role, password = f"{prefix}_p0_head", f"{prefix}_owner", secrets.token_hex(8)
    with psycopg.connect(f"{private_server}/postgres", autocommit=True) as admin:
        try:
            # As a killed run leaves them: its owner role, its database, a worker's idle connection.
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role),
                                                                              sql.Literal(password)))
            comment(admin, "ROLE", role, OLD)
            admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(role)))
            comment(admin, "DATABASE", database, OLD)
            port = admin.info.port
            idle = psycopg.connect(host="127.0.0.1", port=port, dbname=database, user=role, password=password,
                                   autocommit=True)
            try:
                idle_pid = idle.info.backend_pid
                result = repo.verify("--database-url", f"{private_server}/postgres")
                assert result.exit_code == 0, (result.stderr, result.failed())
                with pytest.raises(psycopg.OperationalError):
                    idle.execute("SELECT 1")
            finally:
                idle.close()
            assert not admin.execute("SELECT FROM pg_database WHERE datname = %s", (database,)).fetchall()
            assert not admin.execute("SELECT FROM pg_roles WHERE rolname = %s", (role,)).fetchall()
            assert not admin.execute("SELECT FROM pg_stat_activity WHERE pid = %s", (idle_pid,)).fetchall()
            # The run says what it dropped, on its progress output and in the report.
            created = born(OLD).isoformat()
            said = f"dropped database {database} and closed its 1 connection, left by a run that created it {created}"
            assert said in result.stderr, result.stderr
            assert f"dropped role {role}, left by a run that created it {created}" in result.stderr, result.stderr
            notes = result.report["notes"]
            assert any(note.startswith("D" + said[1:]) for note in notes), notes
            assert any(note.startswith(f"Dropped role {role}") for note in notes), notes
            # Only those: the run's own databases, dropped as always, left nothing either.
            left = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'migbot%'").fetchall()
            assert not left, left
        finally:
            drop(admin, [database], [role])


def test_what_is_not_a_killed_runs_survives(repo: Repo) -> None:
    a_change(repo)
    hex8 = secrets.token_hex(4)
    fresh, uncommented = f"migbot_{hex8}_p0_head", f"migbot_{hex8}_p0_base"
    not_migbots = f"migbot_{hex8[:7]}_p0_head"  # an old birth comment, but not migbot's name
    owner = f"migbot_{hex8}_owner"  # an old birth comment, but it still owns `fresh`
    lonely = f"migbot_{secrets.token_hex(4)}_owner_of_nothing"  # an old birth comment, not an owner role's name
    databases, roles = [fresh, uncommented, not_migbots], [owner, lonely]
    with psycopg.connect(SHARED, autocommit=True) as admin:
        try:
            for role in roles:
                admin.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
                comment(admin, "ROLE", role, OLD)
            admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(fresh), sql.Identifier(owner)))
            comment(admin, "DATABASE", fresh, birth_comment())
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(uncommented)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(not_migbots)))
            comment(admin, "DATABASE", not_migbots, OLD)

            result = repo.verify("--database-url", SHARED)
            assert result.exit_code == 0, (result.stderr, result.failed())
            names = databases + roles
            assert not [n for n in result.report["notes"] if any(name in n for name in names)], result.report["notes"]
            assert not [line for line in result.stderr.splitlines() if any(name in line for name in names)]
            found = {r[0] for r in admin.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)",
                                                 (databases,))}
            assert found == set(databases)
            found = {r[0] for r in admin.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (roles,))}
            assert found == set(roles)
        finally:
            drop(admin, databases, roles)
