"""The project's code runs as its databases' owner, not as a superuser, like the owner role of
managed PostgreSQL; `superuser = true` opts back in."""

from __future__ import annotations

import pytest
from conftest import Repo

NOT_AS_SUPERUSER = """
who = op.get_bind().execute(sa.text(
    "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")).one()
if who.rolsuper or who.current_user in ("migbot", "postgres"):
    raise RuntimeError(f"ran as {who.current_user}")
leaked = [k for k, v in __import__("os").environ.items() if "hunter2" in v]
if leaked:
    raise RuntimeError(f"the URL's password reached {leaked}")
"""


def test_migrations_run_as_an_owner_that_may_create_trusted_extensions(repo: Repo) -> None:
    repo.revision("0003", "0002", NOT_AS_SUPERUSER + 'op.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")',
                  'op.execute("DROP EXTENSION pgcrypto")')
    repo.commit()
    result = repo.verify()
    assert result.status("upgrade") == "pass", result.check("upgrade")
    assert result.status("downgrade-restores-schema") == "pass"


@pytest.mark.parametrize(("upgrade", "refusal"), [
    ('op.execute("SELECT pg_read_file(\'/etc/hostname\')")', "permission denied for function pg_read_file"),
    ('with op.get_context().autocommit_block():\n    op.execute("ALTER SYSTEM SET work_mem = \'8MB\'")',
     'permission denied to set parameter "work_mem"'),
])
def test_what_an_owner_role_may_not_do_fails_with_the_key_to_set(repo: Repo, upgrade: str, refusal: str) -> None:
    repo.revision("0003", "0002", upgrade, 'op.execute("SELECT 1")')
    repo.commit()
    result = repo.verify()
    [finding] = result.check("upgrade")["findings"]
    assert refusal in finding["message"]
    assert "`superuser = true`" in finding["hint"]


def test_a_migration_that_needs_a_superuser_fails_and_names_the_key(repo: Repo) -> None:
    repo.revision("0003", "0002", 'op.execute("CREATE EXTENSION IF NOT EXISTS file_fdw")',
                  'op.execute("DROP EXTENSION file_fdw")')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    [finding] = result.check("upgrade")["findings"]
    assert "permission denied to create extension" in finding["message"]
    assert "`superuser = true`" in finding["hint"]

    repo.commit_on_main("pyproject.toml", "[tool.migbot]\nsuperuser = true\n", "this team migrates as a superuser")
    assert repo.verify().status("upgrade") == "pass"


def test_a_lent_server_gets_a_role_of_its_own_and_its_password_stays_out_of_the_projects_code(repo: Repo) -> None:
    repo.revision("0003", "0002", NOT_AS_SUPERUSER + 'op.add_column("users", sa.Column("age", sa.Integer()))',
                  'op.drop_column("users", "age")')
    repo.commit()
    result = repo.verify("--database-url", "postgresql://postgres:hunter2@127.0.0.1:5432/postgres")
    assert result.status("upgrade") == "pass", result.check("upgrade")
    assert "hunter2" not in result.stdout + result.stderr
