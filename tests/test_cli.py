"""The command-line contract: exit codes, clear messages, outputs, signals, secrets."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jsonschema
import pytest

from conftest import Repo, leftovers, run_migbot
from migbot.catalog import render_markdown as render_catalog
from migbot.report.jsonschema import report_schema
from test_verify_passes import add_orders

ROOT = Path(__file__).resolve().parents[1]


def test_not_a_git_repository(tmp_path) -> None:
    result = run_migbot("verify", "--repo", str(tmp_path))
    assert result.exit_code == 2
    assert "is not inside a git repository" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_base_ref(repo: Repo) -> None:
    result = run_migbot("verify", "--repo", str(repo.path), "--base", "origin/nope")
    assert result.exit_code == 2
    assert "The base ref 'origin/nope' does not exist" in result.stderr
    assert "fetch-depth: 0" in result.stderr


def test_shallow_clone_without_a_merge_base(repo: Repo, tmp_path) -> None:
    add_orders(repo)
    repo.checkout("main")
    repo.write("README.md", "main moves on\n")
    repo.commit("main")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{repo.path}", str(clone)],
                   check=True)
    subprocess.run(["git", "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main"], cwd=clone, check=True)
    result = run_migbot("verify", "--repo", str(clone), "--base", "origin/main")
    assert result.exit_code == 2
    assert "This clone is shallow" in result.stderr
    assert "fetch-depth: 0" in result.stderr


def test_default_base_is_the_default_branch(repo: Repo) -> None:
    add_orders(repo)
    result = run_migbot("verify", "--repo", str(repo.path))  # no --base: main
    assert result.exit_code == 0, result.stderr
    assert result.report["refs"]["base_ref"] == "main"
    assert result.report["refs"]["head_ref"] == "feature"


def test_invalid_config_is_a_usage_error(repo: Repo) -> None:
    repo.write("pyproject.toml", '[tool.migbot]\ntimout = 30\nchecks = { model-drif = "off" }\n')
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 2
    assert "Invalid migbot config in pyproject.toml [tool.migbot]" in result.stderr
    assert "timout: unknown key (did you mean 'timeout'?)" in result.stderr
    assert "unknown check id 'model-drif' (did you mean 'model-drift'?)" in result.stderr
    assert result.report is None


def test_toml_syntax_error_in_config(repo: Repo) -> None:
    repo.write("migbot.toml", "timeout = = 3\n")
    repo.commit()
    result = repo.verify()
    assert result.exit_code == 2
    assert "migbot.toml is not valid TOML" in result.stderr


def test_check_levels_from_config(repo: Repo) -> None:
    repo.replace("app/models/user.py", "String(100))", "String(100), index=True)")  # an index no migration made
    repo.commit()
    repo.commit_on_main("migbot.toml", '[checks]\nmodel-drift = "warning"\n')
    result = repo.verify()
    assert result.exit_code == 0
    assert result.status("model-drift") == "warn"
    assert result.report["counts"]["warnings"] == 1


def test_no_alembic_ini_is_a_usage_error(tmp_path) -> None:
    repo = Repo(tmp_path / "empty")
    repo.path.mkdir()
    repo.git("init", "-q", "-b", "main")
    repo.write("README.md", "nothing\n")
    repo.commit()
    result = run_migbot("verify", "--repo", str(repo.path), "--base", "main")
    assert result.exit_code == 2
    assert "No Alembic project found" in result.stderr


def test_postgres_that_will_not_start_is_exit_3(repo: Repo, tmp_path) -> None:
    fake = Path(tempfile.mkdtemp(prefix="migbot-fakebin-"))
    fake.chmod(0o755)  # the server runs as an unprivileged user, who must reach it
    for tool in ("initdb", "postgres"):
        script = fake / tool
        script.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "postgres (PostgreSQL) 15.99"; exit 0; fi\n'
                          'echo "FATAL:  could not create shared memory segment" >&2\nexit 1\n')
        script.chmod(0o755)
    add_orders(repo)
    try:
        result = repo.verify(env={"MIGBOT_PG_BINDIR": str(fake), "MIGBOT_CACHE_DIR": str(tmp_path / "cache")})
    finally:
        shutil.rmtree(fake)
    assert result.exit_code == 3
    assert "migbot: could not run: initdb failed" in result.stderr
    assert "could not create shared memory segment" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors() -> None:
    assert run_migbot().exit_code == 2
    bad = run_migbot("verify", "--timeout", "abc")
    assert bad.exit_code == 2 and "is not a number of seconds" in bad.stderr
    assert run_migbot("verify", "--format", "yaml").exit_code == 2


def test_markdown_and_json_outputs_and_render(repo: Repo, tmp_path) -> None:
    add_orders(repo)
    md = run_migbot("verify", "--repo", str(repo.path), "--base", "main", "--format", "markdown", "--quiet")
    assert md.exit_code == 0
    assert md.stdout.startswith("<!-- migbot:database-task-summary -->\n## Database Task Summary\n")
    for section in ("### Changes Made", "### Files Modified", "### Migrations", "### Schema Impact", "### Seed Data",
                    "### Verification"):
        assert section in md.stdout
    report_file = tmp_path / "report.json"
    js = run_migbot("verify", "--repo", str(repo.path), "--base", "main", "--format", "json", "--output",
                    str(report_file))
    assert js.exit_code == 0
    report = json.loads(report_file.read_text())
    jsonschema.validate(report, report_schema())
    assert report["schema_version"] == 1
    rendered = run_migbot("render", str(report_file), "--format", "markdown")
    assert rendered.exit_code == 0
    # Same report in, same Markdown out, apart from the timings of the two runs.
    strip = lambda text: [l for l in text.splitlines() if "| " not in l or "Seconds" in l][:20]  # noqa: E731
    assert strip(rendered.stdout) == strip(md.stdout)
    terminal = run_migbot("render", str(report_file))
    assert "Database Task Summary" in terminal.stdout and "PASS" in terminal.stdout
    assert "\x1b[" not in terminal.stdout  # no colour codes when not on a TTY


def test_render_rejects_what_is_not_a_report(tmp_path) -> None:
    bogus = tmp_path / "x.json"
    bogus.write_text('{"hello": 1}')
    result = run_migbot("render", str(bogus))
    assert result.exit_code == 2
    assert "is not a migbot report" in result.stderr
    assert run_migbot("render", str(tmp_path / "missing.json")).exit_code == 2


def test_failing_report_renders_with_exit_1(repo: Repo, tmp_path) -> None:
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer()))', "pass")
    repo.commit()
    out = tmp_path / "r.json"
    assert run_migbot("verify", "--repo", str(repo.path), "--base", "main", "--format", "json", "--output", str(out)).exit_code == 1
    assert run_migbot("render", str(out), "--format", "markdown").exit_code == 1


def test_committed_json_schema_is_current() -> None:
    committed = json.loads((ROOT / "schema" / "report.schema.json").read_text())
    assert committed == report_schema(), "run: python -m migbot.report.jsonschema > schema/report.schema.json"


def test_docs_checks_md_is_current() -> None:
    assert (ROOT / "docs" / "checks.md").read_text() == render_catalog(), \
        "run: python -m migbot.checks > docs/checks.md"


def test_secrets_never_reach_the_output(repo: Repo) -> None:
    repo.revision("0003", "0002", 'import os\nraise RuntimeError("cannot connect to " + os.environ["DATABASE_URL"])',
                  'op.execute("SELECT 1")')
    repo.commit()
    url = "postgresql://postgres:s3cr3t-pw@127.0.0.1:5432/postgres"
    result = repo.verify("--database-url", url)
    assert result.exit_code == 1
    [finding] = result.check("upgrade")["findings"]
    # The project's code gets a role of its own, whose random password is redacted too.
    assert "cannot connect to postgresql+psycopg://migbot_…_owner:********@127.0.0.1:5432/migbot_" in finding["message"]
    assert "s3cr3t-pw" not in result.stdout + result.stderr + json.dumps(result.report)
    # With superuser = true the project's code gets the URL itself: its password is redacted.
    repo.commit_on_main("pyproject.toml", "[tool.migbot]\nsuperuser = true\n", "as a superuser")
    result = repo.verify("--database-url", url)
    [finding] = result.check("upgrade")["findings"]
    assert "cannot connect to postgresql+psycopg://postgres:********@127.0.0.1:5432/migbot_" in finding["message"]
    assert "s3cr3t-pw" not in result.stdout + result.stderr + json.dumps(result.report)
    # The throwaway server's random password is redacted the same way.
    local = repo.verify()
    [finding] = local.check("upgrade")["findings"]
    assert "postgresql+psycopg://migbot:********@127.0.0.1:" in finding["message"]


@pytest.fixture
def sig_tmpdir():
    path = Path(tempfile.mkdtemp(prefix="migbot-test-sig-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _start_hanging_run(repo: Repo, tmpdir: Path) -> subprocess.Popen:
    repo.revision("0003", "0002", 'import time\ntime.sleep(600)', 'op.execute("SELECT 1")')
    repo.commit()
    return subprocess.Popen(
        [sys.executable, "-m", "migbot", "verify", "--repo", str(repo.path), "--base", "main", "--timeout", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(tmpdir), "MIGBOT_PG_TMPDIR": str(tmpdir)},
    )


def _wait_for(proc: subprocess.Popen, tmpdir: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.1)
        if ready:
            seen += os.read(proc.stderr.fileno(), 65536)
        if text.encode() in seen:
            time.sleep(0.5)
            return
    raise AssertionError(f"never saw {text!r}: {seen.decode(errors='replace')}")


def test_sigterm_mid_migration_stops_everything(repo: Repo, sig_tmpdir: Path) -> None:
    tmpdir = sig_tmpdir
    proc = _start_hanging_run(repo, tmpdir)
    _wait_for(proc, tmpdir, "0003: upgrade")
    assert leftovers(tmpdir), "the run should be in progress"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)  # a hang fails here; how fast it stops is bench material, not a test's
    assert proc.returncode == 130
    assert b"interrupted; everything it started has been stopped and removed" in proc.stderr.read()
    assert leftovers(tmpdir) == []


def test_ctrl_c_mid_migration_stops_everything(repo: Repo, sig_tmpdir: Path) -> None:
    tmpdir = sig_tmpdir
    proc = _start_hanging_run(repo, tmpdir)
    _wait_for(proc, tmpdir, "0003: upgrade")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    assert proc.returncode == 130
    assert leftovers(tmpdir) == []


def test_sigkill_leaves_nothing_running_and_the_next_run_sweeps_the_temp_dir(repo: Repo, sig_tmpdir: Path) -> None:
    tmpdir = sig_tmpdir
    proc = _start_hanging_run(repo, tmpdir)
    _wait_for(proc, tmpdir, "0003: upgrade")
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(x.startswith("process") for x in leftovers(tmpdir)):
        time.sleep(0.1)  # the kernel's parent-death signal reaches postgres and the worker
    assert not [x for x in leftovers(tmpdir) if x.startswith("process")]
    # The temp dir (and the git worktree) outlive a SIGKILL; the next run removes them.
    repo.git("worktree", "prune")
    result = run_migbot("verify", "--repo", str(repo.path), "--base", "main", "--timeout", "2",
                        env={"TMPDIR": str(tmpdir), "MIGBOT_PG_TMPDIR": str(tmpdir)}, check_leftovers=False)
    assert result.exit_code == 1
    assert leftovers(tmpdir) == []


def test_private_tmpdir_still_works_when_postgres_runs_as_another_user(repo: Repo) -> None:
    add_orders(repo)
    private = Path(tempfile.mkdtemp(prefix="migbot-test-private-"))  # mode 0700
    try:
        result = run_migbot("verify", "--repo", str(repo.path), "--base", "main",
                            env={"TMPDIR": str(private), "MIGBOT_PG_TMPDIR": ""}, check_leftovers=False)
        assert result.exit_code == 0, result.stderr
        assert leftovers(private) == []
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_server_directory_placement(tmp_path, monkeypatch) -> None:
    from migbot.provision import server

    root_server = server.RunAs(uid=65534, gid=65534, name="nobody")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.delenv("MIGBOT_PG_TMPDIR", raising=False)
    # Memory when there is room...
    shm = os.statvfs("/dev/shm") if os.path.isdir("/dev/shm") else None
    if shm and shm.f_bavail * shm.f_frsize >= server.TMPFS_MIN_FREE:
        assert server._server_parent(private, root_server) == server.TMPFS
    # ...else the temp dir, unless the server's user cannot reach it.
    monkeypatch.setattr(server, "TMPFS", tmp_path / "no-shm")
    assert server._server_parent(private, root_server) == Path("/tmp")
    assert server._server_parent(private, server.RunAs()) == private
    monkeypatch.setenv("MIGBOT_PG_TMPDIR", str(tmp_path))
    assert server._server_parent(private, root_server) == tmp_path


def test_head_that_is_the_merge_base_has_nothing_to_verify(repo: Repo) -> None:
    repo.checkout("main")
    result = run_migbot("verify", "--repo", str(repo.path), "--base", "main")
    assert result.exit_code == 0
    assert "there is nothing to verify" in result.report["notes"][0]
    assert result.report["database"] == "none (nothing to verify)"
    for check_id in ("upgrade", "downgrade", "roundtrip", "model-drift", "env-loads"):
        assert result.status(check_id) == "skip"
    assert result.project["summary"]["verification"]["migration_up"] == "skipped"


def test_default_base_is_never_the_checked_out_branch(repo: Repo, tmp_path) -> None:
    add_orders(repo)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)  # origin/HEAD -> origin/feature
    result = run_migbot("verify", "--repo", str(clone))
    assert result.exit_code == 0, result.stderr
    assert result.report["refs"]["base_ref"] == "origin/main"


def test_uncommitted_and_untracked_files_are_named(repo: Repo) -> None:
    add_orders(repo)
    repo.write("app/models/order.py", repo.read("app/models/order.py") + "# tweak\n")
    repo.write("alembic/versions/0004_forgotten.py", "revision = '0004'\n")
    result = run_migbot("verify", "--repo", str(repo.path), "--base", "main")
    assert "Uncommitted changes are not verified (app/models/order.py)" in " ".join(result.report["notes"])
    assert "Untracked files are not verified (alembic/versions/0004_forgotten.py)" in " ".join(result.report["notes"])


def test_missing_repo_and_unwritable_output_fail_fast(repo: Repo, tmp_path) -> None:
    missing = run_migbot("verify", "--repo", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "no such directory" in missing.stderr
    unwritable = run_migbot("verify", "--repo", str(repo.path), "--base", "main", "--output",
                            str(tmp_path / "no" / "dir" / "r.md"), json_report=False)
    assert unwritable.exit_code == 2 and "is not a directory" in unwritable.stderr
    assert "PostgreSQL" not in unwritable.stderr  # refused before any work: no server was started
    a_directory = run_migbot("verify", "--repo", str(repo.path), "--base", "main", "--output", str(tmp_path),
                             json_report=False)
    assert a_directory.exit_code == 2 and f"{tmp_path} is a directory" in a_directory.stderr
    assert "PostgreSQL" not in a_directory.stderr


def test_broken_pipe_keeps_the_exit_code(repo: Repo) -> None:
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer()))', "pass")
    repo.commit()
    # `| head -1` closes the pipe early; migbot's own exit code must still say "a check failed".
    proc = subprocess.run(f"{sys.executable} -m migbot verify --repo {repo.path} --base main --quiet | head -1; "
                          "exit ${PIPESTATUS[0]}", shell=True, capture_output=True, text=True, executable="/bin/bash")
    assert proc.stdout.startswith("migbot")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_render_refuses_a_newer_schema_and_infers_format(repo: Repo, tmp_path) -> None:
    add_orders(repo)
    out = tmp_path / "report.json"
    assert run_migbot("verify", "--repo", str(repo.path), "--base", "main", "--output", str(out),
                      json_report=False).exit_code == 0
    assert json.loads(out.read_text())["schema_version"] == 1  # .json inferred the format
    md = tmp_path / "summary.md"
    assert run_migbot("render", str(out), "--output", str(md)).exit_code == 0
    assert md.read_text().startswith("<!-- migbot:database-task-summary -->")
    newer = json.loads(out.read_text())
    newer["schema_version"] = 99
    out.write_text(json.dumps(newer))
    result = run_migbot("render", str(out))
    assert result.exit_code == 2 and "Upgrade migbot to render it" in result.stderr


def test_invalid_database_url_is_exit_2_without_traceback(repo: Repo) -> None:
    result = run_migbot("verify", "--repo", str(repo.path), "--base", "main", "--database-url",
                        "postgresql://u:pw@[::1/postgres")
    assert result.exit_code == 2
    assert "--database-url is not a valid URL" in result.stderr and "Traceback" not in result.stderr
