"""Rough edges a new user meets in the first hour, through the real CLI (issue 13)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from conftest import Repo, leftovers, make_repo, run_migbot

LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"


def add_points(repo: Repo, *, model: bool = True) -> None:
    """A revision 0003 that adds users.points, reversibly, and (unless `model` is False) its model."""
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("points", sa.Integer()))',
                  'op.drop_column("users", "points")')
    if model:
        repo.replace("app/models/user.py", "full_name:", "points: Mapped[int | None] = mapped_column()\n    full_name:")


def test_dash_q_is_quiet(repo: Repo) -> None:
    add_points(repo, model=False)
    repo.commit()
    loud = repo.verify()
    assert "starting a throwaway PostgreSQL" in loud.stderr
    # The report says which interpreter ran the project's code, with its SQLAlchemy and Alembic.
    import alembic
    import sqlalchemy
    ran_by = loud.check("env-loads")["summary"]
    assert f"(Python {sys.version.split()[0]}, SQLAlchemy {sqlalchemy.__version__}, Alembic {alembic.__version__})" \
        in ran_by, ran_by
    quiet = repo.verify("-q")
    assert quiet.exit_code == loud.exit_code
    assert quiet.stderr == ""


@pytest.fixture
def role_without_createdb():
    """A login role on the local server that may create roles but not databases."""
    try:
        admin = psycopg.connect(LOCAL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"these tests use the PostgreSQL server on 127.0.0.1:5432: {exc}")
    name, password = f"migbot_test_nocreatedb_{secrets.token_hex(4)}", secrets.token_hex(8)
    admin.execute(f"CREATE ROLE {name} LOGIN CREATEROLE NOCREATEDB PASSWORD '{password}'")
    try:
        yield f"postgresql://{name}:{password}@127.0.0.1:5432/postgres"
    finally:
        admin.execute(f"DROP ROLE IF EXISTS {name}")
        admin.close()


def test_a_database_url_whose_user_may_not_create_databases_is_a_usage_error(repo: Repo, role_without_createdb):
    repo.revision("0003", "0002", 'op.execute("SELECT 1")', 'op.execute("SELECT 1")')
    repo.commit()
    result = run_migbot("verify", "--repo", str(repo.path), "--base", "main", "--database-url", role_without_createdb,
                        json_report=False)
    assert result.exit_code == 2, result.stderr
    assert "may not create databases" in result.stderr and "CREATEDB" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_config_error_is_reported_at_once_unknown_check_ids_too(repo: Repo) -> None:
    text = repo.read("pyproject.toml") if (repo.path / "pyproject.toml").exists() else ""
    repo.write("pyproject.toml", text + '\n[tool.migbot]\ntimeout = "x"\npython = 3\n'
               '[tool.migbot.checks]\nnot-a-check = "error"\nupgrade = "loud"\n')
    repo.commit("a config with four mistakes")
    result = repo.verify()
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    for line in ("  - python: Input should be a valid string (got 3)",
                 "  - timeout: Input should be a valid number (got 'x')",
                 "  - checks.upgrade: Input should be 'error', 'warning' or 'off' (got 'loud')",
                 "  - checks: unknown check id 'not-a-check'"):
        assert line in result.stderr, result.stderr
    assert "starting a throwaway PostgreSQL" not in result.stderr  # found before any work


def test_control_characters_from_a_revision_file_reach_neither_the_terminal_nor_the_comment(repo: Repo, tmp_path) -> None:
    # An ANSI escape that would clear the reviewer's screen, and a bell, in the project's own error.
    repo.revision("0003", "0002", 'raise RuntimeError("boom \\x1b[2J\\x1b[31mred\\x07")', "pass")
    repo.commit()
    result = repo.verify()
    assert result.report is not None, result.stderr
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(result.report))
    for fmt in ("terminal", "markdown"):
        rendered = run_migbot("render", str(saved), "--format", fmt, json_report=False)
        assert rendered.exit_code == result.exit_code == 1, rendered.stderr
        assert "\x1b" not in rendered.stdout and "\x07" not in rendered.stdout, fmt
        assert "boom ?[2J?[31mred?" in rendered.stdout.replace("\\", ""), fmt


# Past the interpreter's own start (a Ctrl-C there is Python's to answer), in migbot's imports and set-up.
@pytest.mark.parametrize("delay", [0.4, 0.8])
def test_ctrl_c_while_migbot_starts_prints_a_line_not_a_traceback(repo: Repo, tmp_path, delay: float) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "MIGBOT_PG_TMPDIR": str(scratch)}
    proc = subprocess.Popen([sys.executable, "-m", "migbot", "verify", "--repo", str(repo.path), "--base", "main"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert "Traceback" not in stderr, stderr
    assert proc.returncode in (130, -signal.SIGINT), stderr
    assert not leftovers(scratch)


def test_a_plain_alembic_command_in_bootstrap_finds_an_ini_of_another_name(tmp_path) -> None:
    repo = make_repo(tmp_path / "service")
    repo.git("mv", "alembic.ini", "alembic.ini.example")
    repo.write("pyproject.toml", '[tool.migbot]\nalembic-ini = "alembic.ini.example"\n'
               'bootstrap = "alembic upgrade heads && test -n \\"$DATABASE_URL\\""\n')
    repo.commit("main: the ini has another name, and a bootstrap command")
    repo.branch("feature")
    add_points(repo)
    repo.commit()
    result = repo.verify()
    assert result.status("base-builds") == "pass", result.check("base-builds")
    assert result.exit_code == 0, result.failed()


def test_a_seed_that_hangs_is_the_one_blamed(repo: Repo) -> None:
    # users.py runs first and is fine; the set's second module never returns.
    repo.write("app/seeds/dev/zz_waits.py", "import time\n\n\ndef run(session) -> None:\n    time.sleep(600)\n")
    add_points(repo)
    repo.commit()
    result = repo.verify("--timeout", "3")
    assert result.status("seeds-run") == "fail"
    [finding] = result.check("seeds-run")["findings"]
    assert finding["file"] == "app/seeds/dev/zz_waits.py", finding


def test_a_single_branch_clone_says_what_it_found_and_why_it_used_none(repo: Repo, tmp_path) -> None:
    add_points(repo, model=False)
    repo.commit()
    origin, clone = tmp_path / "origin.git", tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(origin)], check=True)
    subprocess.run(["git", "clone", "-q", "--single-branch", "--branch", "feature", "--depth", "1",
                    f"file://{origin}", str(clone)], check=True)
    result = run_migbot("verify", "--repo", str(clone), json_report=False)
    assert result.exit_code == 2
    assert "origin/HEAD points at origin/feature, the branch checked out" in result.stderr
    assert "no origin/main, origin/master, main, master" in result.stderr
    assert "git fetch --depth=50 origin main" in result.stderr


def test_env_py_that_reaches_another_server_is_told_which_one_and_what_to_map(tmp_path) -> None:
    repo = make_repo(tmp_path / "service")
    # The project's settings send env.py to the machine's own PostgreSQL, as a role it does not have.
    repo.write("pyproject.toml", '[tool.migbot]\nenv = { DATABASE_URL = '
               '"postgresql+psycopg://migbot_test_nobody@127.0.0.1:5432/postgres" }\n')
    repo.commit("main: settings that point elsewhere")
    repo.branch("feature")
    repo.write("README.md", "a change\n")
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 1
    hints = [f.get("hint") or "" for c in result.project["checks"] for f in c["findings"]]
    assert any("env.py connected to 127.0.0.1:5432, not to migbot's server (127.0.0.1:" in h for h in hints), hints


SETTINGS_FROM_PARTS = '''"""Settings that build the URL from parts, as the FastAPI template does."""

from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    POSTGRES_SERVER: str = "localhost"
    POSTGRES_PORT: int = 5432
    POSTGRES_USER: str = "app"
    POSTGRES_PASSWORD: str = ""
    POSTGRES_DB: str = "app"

    @property
    def DATABASE_URL(self) -> str:
        return (f"postgresql+psycopg://{self.POSTGRES_USER}:{self.POSTGRES_PASSWORD}@{self.POSTGRES_SERVER}:"
                f"{self.POSTGRES_PORT}/{self.POSTGRES_DB}")


settings = Settings()
'''


def test_a_unix_socket_database_url_gives_projects_that_build_their_url_a_tcp_host(tmp_path) -> None:
    repo = make_repo(tmp_path / "service")
    repo.write("app/core/config.py", SETTINGS_FROM_PARTS)
    repo.commit("main: settings from parts")
    repo.branch("feature")
    add_points(repo)
    repo.commit()
    result = repo.verify("--database-url", "postgresql://postgres@/postgres?host=/var/run/postgresql")
    assert result.exit_code == 0, result.failed()
    assert any("through the socket in /var/run/postgresql" in note and "name 127.0.0.1" in note
               for note in result.report["notes"]), result.report["notes"]
