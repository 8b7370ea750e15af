"""The Action's container image: the Dockerfile lints clean, the image builds, and migbot
verifies a repository inside it when run exactly as the GitHub runner runs a Docker action:
as root, on a workspace owned by the runner's user (uid 1001).

These tests need podman (and root, for the stand-in base image): see tests/container.py.
Without it they are skipped, unless MIGBOT_REQUIRE_CONTAINER=1 (as CI sets).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from action_harness import webhook
from container import (
    DOCKERFILE,
    RUNNER_UID,
    chown_tree,
    image_size,
    leftover_containers,
    make_demo_workspace,
    migbot_image_fixture,  # noqa: F401 (the migbot_image fixture)
    podman,
    require_hadolint,
    run_like_runner,
)
from fakegithub import DEFAULT_TOKEN, FakeGitHub

# git refuses a repository owned by another user ("detected dubious ownership"), and on a
# runner the workspace belongs to the runner's user (uid 1001) while the action runs as root.
# `migbot action` trusts the workspace itself (migbot.github.checkout.trust_workspace);
# `migbot verify` does not (see test_verify_explains_a_workspace_owned_by_another_user), so
# these runs of it get git's own escape hatch for the workspace.
SAFE_WORKSPACE = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory",
                  "GIT_CONFIG_VALUE_0": "/github/workspace"}

VERIFY = ["verify", "--repo", "/github/workspace", "--base", "main",
          "--format", "json", "--output", "/github/workspace/report.json"]

# Runs migbot verify, then tells what it left in the container: processes, temp files, and the
# initialised clusters: the image's own (MIGBOT_PREBUILT_CACHE) and any made under $HOME
# (/github/home, empty at every run on GitHub).
INSPECT = r"""
migbot "$@"
status=$?
echo "::inspect:: user $(id -un)"
for dir in /tmp /var/tmp /dev/shm; do
  for path in "$dir"/* "$dir"/.[!.]*; do
    [ -e "$path" ] && echo "::inspect:: leftover-file $path"
  done
done
for proc in /proc/[0-9]*; do
  pid=${proc#/proc/}
  [ "$pid" = "$$" ] && continue
  read -r comm < "$proc/comm" 2>/dev/null && echo "::inspect:: process $pid $comm"
done
for cluster in "$MIGBOT_PREBUILT_CACHE"/clusters/* "$HOME"/.cache/migbot/clusters/*; do
  [ -e "$cluster" ] && echo "::inspect:: cluster $(stat -c %U "$cluster") $(cat "$cluster/PG_VERSION") $cluster"
done
exit $status
"""


def git_head(workspace: Path, ref: str) -> str:
    return subprocess.run(["git", "-c", "safe.directory=*", "rev-parse", ref], cwd=workspace,
                          capture_output=True, text=True, check=True).stdout.strip()


def pull_request_event(workspace: Path) -> tuple[dict, dict]:
    """A pull_request event payload for the demo's feature/orders -> main, and its GITHUB_* env."""
    base, head = git_head(workspace, "main"), git_head(workspace, "feature/orders")
    payload = {
        "action": "synchronize",
        "number": 7,
        "pull_request": {"number": 7, "base": {"ref": "main", "sha": base},
                         "head": {"ref": "feature/orders", "sha": head}},
        "repository": {"full_name": "acme/shop-service", "default_branch": "main"},
    }
    env = {"GITHUB_REPOSITORY": "acme/shop-service", "GITHUB_SHA": head, "GITHUB_REF": "refs/pull/7/merge",
           "GITHUB_HEAD_REF": "feature/orders", "GITHUB_BASE_REF": "main", "GITHUB_RUN_ID": "1",
           "GITHUB_ACTOR": "octocat", "GITHUB_WORKFLOW": "migrations", "GITHUB_JOB": "migbot"}
    return payload, env


def files_in(workspace: Path) -> dict[str, tuple[int, int]]:
    """Every file of the workspace (.git too) with its size and owner."""
    found = {}
    for root, dirs, files in os.walk(workspace):
        for name in dirs + files:
            path = Path(root, name)
            stat = path.lstat()
            found[str(path.relative_to(workspace))] = (stat.st_size if path.is_file() else 0, stat.st_uid)
    return found


def test_a_prebuilt_cluster_is_used_only_by_the_server_build_it_was_made_for(tmp_path, monkeypatch):
    """MIGBOT_PREBUILT_CACHE, as the image sets it (no podman needed): its cluster is used when
    its name matches this server build and user, and it is never written to."""
    from migbot.provision import server

    monkeypatch.setenv("MIGBOT_CACHE_DIR", str(tmp_path / "prebuilt"))
    prebuilt = server.prepare_cluster()  # what the Dockerfile's build step runs
    assert prebuilt.parent == tmp_path / "prebuilt" / "clusters"
    monkeypatch.setenv("MIGBOT_PREBUILT_CACHE", str(tmp_path / "prebuilt"))
    monkeypatch.setenv("MIGBOT_CACHE_DIR", str(tmp_path / "cache"))
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "prebuilt").rglob("*"))

    bindir = server.find_bindir()
    run_as = server.RunAs.for_current_process()
    version = server._server_version(bindir)
    assert server._cached_cluster(bindir, version, run_as) == prebuilt
    assert not (tmp_path / "cache").exists()
    # Another build (here: another version) gets a cluster of its own, in the writable cache.
    other = server._cached_cluster(bindir, version + ".1", run_as)
    assert other.parent == tmp_path / "cache" / "clusters" and (other / "PG_VERSION").is_file()
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "prebuilt").rglob("*")) == before


def test_dockerfile_passes_hadolint():
    hadolint = require_hadolint()
    proc = subprocess.run([hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
                          check=False, capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stdout.strip(), f"hadolint:\n{proc.stdout}{proc.stderr}"


def test_the_image_is_at_most_350_mb(migbot_image):
    # As `podman images` counts it (10^6 bytes a MB): the layers, uncompressed.
    assert image_size(migbot_image) <= 350 * 1000**2, f"{image_size(migbot_image) / 1000**2:.0f} MB"


def test_image_runs_migbot_as_root_with_postgres_unprivileged(migbot_image):
    config = podman("image", "inspect", "--format", "{{json .Config}}", migbot_image).stdout
    config = json.loads(config)
    assert config["Entrypoint"] == ["migbot", "action"]
    assert config.get("User", "") in ("", "root", "0")  # GitHub runs Docker actions as root anyway
    proc = podman("run", "--rm", "--network=host", "--entrypoint", "sh", migbot_image, "-c",
                  "id -u; id -un postgres; command -v git; command -v migbot; ls /usr/lib/postgresql/*/bin/initdb; "
                  "command -v pg_dump; ls /usr/lib/postgresql/*/lib/llvmjit.so /usr/lib/*/libLLVM* 2>/dev/null; "
                  "ls -A /root; ls -A /etc/pip.conf /etc/xdg/pip 2>/dev/null; echo context; ls -A /usr/src/migbot; "
                  "echo end")
    lines = proc.stdout.split()
    assert lines[0] == "0" and lines[1] == "postgres", proc.stdout
    assert "/usr/bin/git" in lines and "/usr/local/bin/migbot" in lines, proc.stdout
    assert "/usr/lib/postgresql/15/bin/initdb" in lines and "/usr/lib/postgresql/15/bin/pg_dump" in lines, proc.stdout
    assert not [line for line in lines if "llvm" in line.lower()], proc.stdout  # no JIT: 100+ MB migbot never uses
    # The build's pip settings, CA bundle and package indexes (mounted for RUN steps) left nothing.
    assert not {".config", ".host", "pip.conf", "ca-certificates.crt"} & set(lines), proc.stdout
    assert lines[-1] == "end", proc.stdout
    # .dockerignore lets in only what `pip install .` needs (no .git, .venv, tests, caches).
    assert lines[lines.index("context") + 1:-1] == ["README.md", "pyproject.toml", "src"], proc.stdout


# The server migbot starts in the image, with what projects' migrations use: contrib's trusted
# extensions, XML (libxml2), ICU collations, and pg_dump on a database.
SERVER_FEATURES = """
import subprocess, tempfile
from pathlib import Path
import psycopg
from migbot.provision.server import launch_server
server = launch_server(Path(tempfile.mkdtemp()))
try:
    server.wait_ready()
    with psycopg.connect(**server.info.admin_kwargs(), autocommit=True) as conn:
        for extension in ("pgcrypto", "citext", "uuid-ossp", "pg_trgm", "hstore", "btree_gist"):
            conn.execute(f'CREATE EXTENSION "{extension}"')
        conn.execute("CREATE COLLATION german (provider = icu, locale = 'de')")
        print("xml", conn.execute("SELECT xmlparse(document '<a>1</a>')::text").fetchone()[0])
        print("uuid", conn.execute("SELECT length(gen_random_uuid()::text)").fetchone()[0])
        print("jit", conn.execute("SELECT pg_jit_available()").fetchone()[0])
    dump = subprocess.run(["pg_dump", "--schema-only", "-h", server.info.socket_dir, "-p", str(server.info.port),
                           "-U", server.info.user, server.info.maintenance_db], capture_output=True, text=True)
    print("dump", dump.returncode, "CREATE EXTENSION IF NOT EXISTS citext" in dump.stdout, dump.stderr.strip())
finally:
    server.stop()
"""


def test_the_servers_extensions_collations_and_pg_dump_work_in_the_image(migbot_image):
    proc = podman("run", "--rm", "--network=host", "--entrypoint", "python3", migbot_image, "-c", SERVER_FEATURES)
    assert proc.stdout.split("\n")[:4] == ["xml <a>1</a>", "uuid 36", "jit False", "dump 0 True "], proc.stdout


def test_verify_passes_in_the_container_like_the_runner_runs_it(migbot_image, tmp_path):
    workspace = make_demo_workspace(tmp_path)
    assert workspace.stat().st_uid == RUNNER_UID
    before = files_in(workspace)
    payload, env = pull_request_event(workspace)

    result = run_like_runner(migbot_image, workspace, event_name="pull_request", event_payload=payload,
                             env={**env, **SAFE_WORKSPACE}, inputs={"github-token": "ghs_test"},
                             entrypoint="/bin/sh", entrypoint_args=["-c", INSPECT, "inspect", *VERIFY])

    detail = f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.exit_code == 0, detail
    report_path = workspace / "report.json"
    assert report_path.is_file(), detail
    report = json.loads(report_path.read_text())
    assert report["result"] == "pass", detail
    assert report["counts"]["failed"] == 0 and report["counts"]["passed"] > 0, report["counts"]
    checks = {check["id"]: check for project in report["projects"] for check in project["checks"]}
    # squawk's 20 MB binary does not fit the image's 350 MB yet: the check says so instead of passing.
    assert checks.pop("squawk")["summary"].startswith("squawk is not installed"), report
    assert all(check["status"] == "pass" for check in checks.values()), report
    assert report["refs"]["head_ref"] == "feature/orders"
    assert report["database"].startswith("throwaway PostgreSQL 15"), report["database"]

    inspected = [line.split()[1:] for line in result.stdout.splitlines() if line.startswith("::inspect::")]
    assert ["user", "root"] in inspected, detail
    # PostgreSQL ran in the container, as the unprivileged `postgres` user, from the cluster
    # initialised when the image was built: no initdb at run time, nothing cached under $HOME.
    [cluster] = [entry for entry in inspected if entry[0] == "cluster"]
    assert cluster[1:3] == ["postgres", "15"] and cluster[3].startswith("/usr/local/share/migbot/clusters/"), detail
    # Nothing of migbot's is left in the container: no server, no temp dirs.
    leftovers = [entry for entry in inspected if entry[0] == "leftover-file"]
    processes = [entry for entry in inspected if entry[0] == "process"]  # the script itself is left out
    assert not leftovers and not processes, detail

    # Nor on the host: no container, and the workspace holds only the report that was asked for.
    assert result.container_name not in leftover_containers()
    after = files_in(workspace)
    assert set(after) - set(before) == {"report.json"}, sorted(set(after) ^ set(before))
    # Not even .git/index: migbot's `git status` would refresh a stale one if it took optional locks.
    assert {path: after[path] for path in before} == before


NOT_AS_ROOT = '''"""check who runs the migrations

Revision ID: 0004
Revises: 0003
"""
import os

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if os.geteuid() == 0 or os.access("/github/workspace/.git/config", os.W_OK):
        raise RuntimeError(f"the project's code runs as uid {os.geteuid()}, with write access to the workspace")


def downgrade() -> None:
    pass
'''


@pytest.mark.parametrize(("extra_env", "expected"), [
    ({}, "pass"),
    ({"MIGBOT_PROJECT_USER": ""}, "fail"),  # the proof that the revision's check can fail
])
def test_the_projects_code_runs_as_an_unprivileged_user_in_the_container(migbot_image, tmp_path, extra_env,
                                                                           expected):
    workspace = make_demo_workspace(tmp_path, owner_uid=None)
    (workspace / "alembic" / "versions" / "0004_not_as_root.py").write_text(NOT_AS_ROOT)
    git_env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
               "GIT_COMMITTER_EMAIL": "t@e"}
    subprocess.run(["git", "add", "-A"], cwd=workspace, check=True, env=git_env)
    subprocess.run(["git", "commit", "-qm", "who runs the migrations"], cwd=workspace, check=True, env=git_env)
    if os.geteuid() == 0:
        chown_tree(workspace, RUNNER_UID)
    payload, env = pull_request_event(workspace)
    result = run_like_runner(migbot_image, workspace, event_name="pull_request", event_payload=payload,
                             env={**env, **SAFE_WORKSPACE, **extra_env},
                             inputs={"github-token": "ghs_test", "mode": "verify"})  # the verify job, as the runner runs it
    detail = f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    report = json.loads((workspace / ".migbot" / "report.json").read_text())
    upgrade = next(c for c in report["projects"][0]["checks"] if c["id"] == "upgrade")
    assert upgrade["status"] == expected, (upgrade, detail)


def test_verify_fails_in_the_container_on_the_broken_demo(migbot_image, tmp_path):
    workspace = make_demo_workspace(tmp_path, broken=True)
    payload, env = pull_request_event(workspace)

    result = run_like_runner(migbot_image, workspace, event_name="pull_request", event_payload=payload,
                             env={**env, **SAFE_WORKSPACE}, entrypoint="migbot", entrypoint_args=VERIFY)

    detail = f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.exit_code == 1, detail
    report = json.loads((workspace / "report.json").read_text())
    assert report["result"] == "fail"
    failed = {check["id"] for check in report["projects"][0]["checks"] if check["status"] == "fail"}
    assert {"reversible-downgrades", "downgrade-restores-schema", "model-drift"} <= failed, failed
    assert result.container_name not in leftover_containers()


def test_verify_explains_a_workspace_owned_by_another_user(migbot_image, tmp_path):
    """`migbot verify` leaves git's ownership check alone (only `migbot action` trusts the runner's
    workspace), and says what is wrong instead of "not a git repository"."""
    workspace = make_demo_workspace(tmp_path)
    payload, env = pull_request_event(workspace)

    result = run_like_runner(migbot_image, workspace, event_name="pull_request", event_payload=payload,
                             env=env, entrypoint="migbot", entrypoint_args=VERIFY)

    assert result.exit_code == 2, f"exit {result.exit_code}\nstderr:\n{result.stderr}"
    assert "dubious ownership" in result.stderr
    assert "git config --global --add safe.directory /github/workspace" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_action_in_its_container_publishes_to_github(migbot_image, tmp_path):
    """The image's own entrypoint (`migbot action`) on a real pull_request payload, as root on the
    runner-owned workspace, talking to the fake GitHub API on the host."""
    workspace = make_demo_workspace(tmp_path)
    base, head = git_head(workspace, "main"), git_head(workspace, "feature/orders")
    with FakeGitHub() as fake:
        fake.add_pull(7, head, base, "feature/orders", "main")
        payload = webhook("pull_request/synchronize.payload.json", fake.full_name, number=7,
                          base=(base, "main"), head=(head, "feature/orders"))
        env = {"GITHUB_REPOSITORY": fake.full_name, "GITHUB_API_URL": fake.url, "GITHUB_SHA": "e" * 40,
               "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "77"}
        result = run_like_runner(migbot_image, workspace, event_name="pull_request", event_payload=payload,
                                 env=env, inputs={"github-token": DEFAULT_TOKEN, "fail-on": "error",
                                                  "comment": "changes"})

        detail = f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        assert result.exit_code == 0, detail
        assert [s.state for s in fake.statuses(head)] == ["pending", "success"], detail
        [comment] = fake.comments(7)
        assert comment.login == "github-actions[bot]"
        assert comment.body.startswith("<!-- migbot:database-task-summary project=alembic.ini -->")
        assert result.outputs["result"] == "pass" and result.outputs["failed"] == "0"
        assert "## Database Task Summary" in result.summary
        assert json.loads((workspace / result.outputs["report"]).read_text())["refs"]["head"] == head
        fake.assert_no_violations()
    assert result.container_name not in leftover_containers()
