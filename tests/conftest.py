"""Test helpers: git histories built from the fixture project, and the real CLI.

Every end-to-end test builds a repository in a temp dir (base commits on main,
then a PR branch) and runs `python -m migbot verify` in a subprocess, exactly as
a user would, against the throwaway PostgreSQL migbot starts itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

# `server` and `conn`: a throwaway PostgreSQL for unit tests of what runs in SQL.
pytest_plugins = ["pg_unit"]

FIXTURES = Path(__file__).parent / "fixtures"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
}


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    report: dict | None

    def check(self, check_id: str, project: int = 0) -> dict:
        assert self.report is not None, f"no report; exit {self.exit_code}\nstderr:\n{self.stderr}"
        for check in self.report["projects"][project]["checks"]:
            if check["id"] == check_id:
                return check
        raise AssertionError(f"no check {check_id}")

    def status(self, check_id: str, project: int = 0) -> str:
        return self.check(check_id, project)["status"]

    def failed(self, project: int = 0) -> list[str]:
        assert self.report is not None, self.stderr
        return [c["id"] for c in self.report["projects"][project]["checks"] if c["status"] == "fail"]

    @property
    def project(self) -> dict:
        assert self.report is not None, self.stderr
        return self.report["projects"][0]


class Repo:
    """A git repository under test, built from a fixture project."""

    def __init__(self, path: Path):
        self.path = path

    def git(self, *args: str) -> str:
        result = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True,
                                env={**os.environ, **GIT_ENV})
        assert result.returncode == 0, f"git {args}: {result.stderr}"
        return result.stdout.strip()

    def write(self, rel: str, text: str) -> Path:
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()

    def replace(self, rel: str, old: str, new: str) -> None:
        text = self.read(rel)
        assert old in text, f"{old!r} not in {rel}"
        (self.path / rel).write_text(text.replace(old, new))

    def remove(self, rel: str) -> None:
        (self.path / rel).unlink()

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def commit_on_main(self, rel: str, text: str, message: str = "main: migbot config") -> None:
        """Commit one file on main without leaving the current branch (or touching its work
        tree): migbot reads check levels from the base branch."""
        env = {**os.environ, **GIT_ENV, "GIT_INDEX_FILE": str(self.path / ".git" / "migbot-test-index")}

        def git(*args: str, stdin: str | None = None) -> str:
            done = subprocess.run(["git", *args], cwd=self.path, env=env, input=stdin, capture_output=True,
                                  text=True, check=True)
            return done.stdout.strip()

        git("read-tree", "main")
        blob = git("hash-object", "-w", "--stdin", stdin=textwrap.dedent(text).lstrip("\n"))
        git("update-index", "--add", "--cacheinfo", f"100644,{blob},{rel}")
        commit = git("commit-tree", git("write-tree"), "-p", "main", "-m", message)
        git("update-ref", "refs/heads/main", commit)
        os.unlink(env["GIT_INDEX_FILE"])

    def branch(self, name: str, start: str | None = None) -> None:
        self.git("checkout", "-q", "-b", name, *([start] if start else []))

    def checkout(self, name: str) -> None:
        self.git("checkout", "-q", name)

    def revision(self, rev: str, down: str | None, upgrade: str, downgrade: str, *, doc: str | None = None,
                 versions: str = "alembic/versions", imports: str = "") -> Path:
        """Write a revision file; upgrade/downgrade are function bodies."""
        body = [
            f'"""{doc or "revision " + rev}\n\nRevision ID: {rev}\nRevises: {down or ""}\n"""',
            "import sqlalchemy as sa",
            "from alembic import op",
            "from sqlalchemy.dialects import postgresql",
            imports,
            "",
            f"revision = {rev!r}",
            f"down_revision = {down!r}",
            "branch_labels = None",
            "depends_on = None",
            "",
            "",
            "def upgrade() -> None:",
            textwrap.indent(textwrap.dedent(upgrade).strip("\n") or "pass", "    "),
            "",
            "",
            "def downgrade() -> None:",
            textwrap.indent(textwrap.dedent(downgrade).strip("\n") or "pass", "    "),
            "",
        ]
        return self.write(f"{versions}/{rev}.py", "\n".join(body))

    def verify(self, *args: str, env: dict | None = None, timeout: float = 300) -> Result:
        return run_migbot("verify", "--repo", str(self.path), "--base", "main", *args, env=env, timeout=timeout)


def leftovers(tmpdir: Path) -> list[str]:
    """Files in migbot's TMPDIR, and processes running from or pointing into it."""
    found = [f"file {p}" for p in tmpdir.iterdir()] if tmpdir.exists() else []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(tmpdir)) or str(tmpdir) in cmdline:
            found.append(f"process {proc.name}: {cmdline.strip()}")
    return found


def run_migbot(*args: str, env: dict | None = None, timeout: float = 300, json_report: bool = True,
               check_leftovers: bool = True) -> Result:
    """Run the CLI with a private TMPDIR, and assert it leaves nothing behind there."""
    tmpdir = Path(tempfile.mkdtemp(prefix="migbot-test-tmp-"))
    os.chmod(tmpdir, 0o755)
    # The server's data directory goes to memory (/dev/shm) when there is room; keep each
    # run's in a directory of its own, so that leftovers can be told apart.
    pgdir = Path(tempfile.mkdtemp(prefix="migbot-test-pg-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    os.chmod(pgdir, 0o755)
    # Each run builds its base state (tests/test_base_cache.py turns the cache on).
    env = {"TMPDIR": str(tmpdir), "MIGBOT_PG_TMPDIR": str(pgdir), "MIGBOT_BASE_CACHE": "off", **(env or {})}
    report_path = None
    argv = [sys.executable, "-m", "migbot", *args]
    if json_report and args and args[0] == "verify" and "--format" not in args:
        handle, name = tempfile.mkstemp(prefix="migbot-test-report-", suffix=".json")
        os.close(handle)
        os.unlink(name)  # migbot writes it; its absence means no report was written
        report_path = Path(name)
        argv += ["--format", "json", "--output", name]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env={**os.environ, **env})
    report = None
    if report_path is not None and report_path.exists():
        report = json.loads(report_path.read_text())
        if os.environ.get("MIGBOT_TEST_KEEP_REPORT"):  # a path: keep the last report there, to read a failure
            shutil.copy(report_path, os.environ["MIGBOT_TEST_KEEP_REPORT"])
        report_path.unlink()
    if check_leftovers:
        left = leftovers(tmpdir) + leftovers(pgdir)
        assert not left, f"migbot left things behind: {left}"
    shutil.rmtree(tmpdir, ignore_errors=True)
    shutil.rmtree(pgdir, ignore_errors=True)
    return Result(proc.returncode, proc.stdout, proc.stderr, report)


def line_of(path: Path, text: str) -> int:
    """1-based number of the first line of `path` containing `text`."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def make_repo(path: Path, overlay: str | None = None) -> Repo:
    """The `service` fixture at main, with an overlay fixture's files laid over it."""
    shutil.copytree(FIXTURES / "service", path, ignore=shutil.ignore_patterns("__pycache__"))
    if overlay:
        shutil.copytree(FIXTURES / overlay, path, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    repo = Repo(path)
    repo.git("init", "-q", "-b", "main")
    repo.commit("base")
    return repo


def make_monorepo(path: Path) -> Repo:
    """Two services, each the fixture service with its own alembic.ini, models and history (0001, 0002)."""
    for name in ("accounts", "billing"):
        shutil.copytree(FIXTURES / "service", path / "services" / name, ignore=shutil.ignore_patterns("__pycache__"))
    repo = Repo(path)
    repo.git("init", "-q", "-b", "main")
    repo.commit("two services")
    return repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """The fixture service at main (revisions 0001, 0002), checked out on a new branch `feature`."""
    r = make_repo(tmp_path / "service")
    r.branch("feature")
    return r


@pytest.fixture
def async_repo(tmp_path: Path) -> Repo:
    """The same service with an async env.py (asyncpg, asyncio.run) and async settings."""
    r = make_repo(tmp_path / "service", overlay="service_async")
    r.branch("feature")
    return r
