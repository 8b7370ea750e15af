"""The owner role's cheap SCRAM verifier, and migbot's kept reader connections, on a real server."""

from __future__ import annotations

import psycopg
import pytest

from migbot.provision.roles import SCRAM_ITERATIONS, create_owner_role


def _login(server, role: str, password: str, dbname: str) -> psycopg.Connection:
    info = server.server
    return psycopg.connect(host=info.host, port=info.port, user=role, password=password, dbname=dbname,
                           connect_timeout=10)


def test_owner_role_logs_in_over_scram_with_its_password_only(server):
    role = create_owner_role(server.admin(), f"{server.prefix}_scram", lent=False)
    stored = server.admin().execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                                    (role.name,)).fetchone()[0]
    assert stored.startswith(f"SCRAM-SHA-256${SCRAM_ITERATIONS}:")
    assert role.password not in stored
    with _login(server, role.name, role.password, server.server.maintenance_db) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == role.name
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _login(server, role.name, role.password + "x", server.server.maintenance_db)
    server.admin().execute(f'DROP ROLE "{role.name}"')


def test_database_read_through_a_kept_reader_can_still_be_cloned_swapped_and_dropped(server):
    source = server.create("reader_source")
    server.reader(source).execute("SELECT 1")
    clone = server.create("reader_clone", template=source)  # a template with a session fails to clone
    assert server.reader(clone).execute("SELECT current_database()").fetchone()[0] == clone
    server.reader(source).execute("SELECT 1")
    server.swap(source, clone)
    server.reader(source).execute("SELECT 1")
    server.drop(source)
    server.drop(clone)
    assert not server._readers
