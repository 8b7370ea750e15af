"""What the pull request's code can reach in the Action: an allowlisted environment (no job
secret), and never the workflow's workspace, whose .git later steps trust."""

from __future__ import annotations

import subprocess
import sys

from action_harness import PR
from markdown_text import prose
from test_action import fake, scenario  # noqa: F401 - fixtures
from test_verify_passes import add_orders

CANARY = "job-secret-canary-6c1f"

DUMP_ENVIRONMENT = '''
import os
with open({path!r}, "a") as out:
    out.write("\\n".join(f"{{k}}={{v}}" for k, v in os.environ.items()) + "\\n")
'''


def test_a_job_secret_never_reaches_the_projects_code(scenario, fake, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_JOB_SECRET", CANARY)  # a job-level `env:` secret
    seen_by_env_py, seen_by_install = tmp_path / "env-py-environ", tmp_path / "install-environ"
    migbots_own = tmp_path / "migbot-proc-environ"
    add_orders(scenario.repo)
    env_py = scenario.repo.read("alembic/env.py")
    scenario.repo.write("alembic/env.py", DUMP_ENVIRONMENT.format(path=str(seen_by_env_py)) + env_py)
    # The project's dependencies are migbot's own here: no install needed beyond writing down its environment.
    scenario.repo.write("migbot.toml", f'python = "{sys.executable}"\n')
    scenario.repo.commit("env.py that writes down its environment")
    scenario.open_pull()
    # What the install command sees, and what migbot's own process shows in /proc (to root, or its user).
    install = f"env > {seen_by_install}; tr '\\0' '\\n' < /proc/$PPID/environ > {migbots_own}"
    run = scenario.pull_request("opened", inputs={"install": install})
    assert run.exit_code == 0, run.log
    for seen in (seen_by_env_py, seen_by_install):
        text = seen.read_text()
        assert "PATH=" in text  # it did write its environment down
        assert CANARY not in text and "GITHUB_REPOSITORY=" not in text, seen.name
    assert "DATABASE_URL=postgresql" in seen_by_env_py.read_text()  # what migbot gives it is there
    assert "GITHUB_REPOSITORY=" in migbots_own.read_text()  # migbot's process, as /proc shows it
    assert CANARY not in migbots_own.read_text()


def test_the_install_command_never_writes_into_the_workspace(scenario, fake):
    add_orders(scenario.repo)
    scenario.open_pull()
    run = scenario.pull_request("opened", inputs={"install": "touch planted.txt; git init -q . 2>/dev/null; true"})
    workspace = run.workspace
    assert not (workspace / "planted.txt").exists()
    status = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=workspace, capture_output=True,
                            text=True, check=True).stdout
    assert status == "", status


def test_migbots_own_git_never_runs_a_planted_hook(scenario, fake, tmp_path):
    add_orders(scenario.repo)
    head = scenario.open_pull()
    ran = tmp_path / "hook-ran"
    workspace = scenario.checkout("main")  # what the comment's workflow checks out, then a planted hook
    hook = workspace / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch {ran}\n")
    hook.chmod(0o755)
    body = f"/migbot verify {head}"
    payload = scenario.event("issue_comment-on-pull-request/created.payload.json", body=body, author="maintainer")
    payload["comment"]["id"] = scenario.comment_id = fake.add_comment(PR, body, login="maintainer")
    run = scenario.run("issue_comment", payload, workspace)
    assert run.exit_code in (0, 1), run.log
    assert not ran.exists(), "a post-checkout hook ran inside migbot's git"
    # The workspace is as the workflow checked it out: the default branch, nothing added.
    status = subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "status", "--porcelain", "--ignored"],
                            cwd=workspace, capture_output=True, text=True, check=True).stdout
    assert status == "?? .migbot/\n", status  # only migbot's report, for the workflow to upload
    assert scenario.git_head(workspace) == scenario.base


def test_an_error_message_that_mentions_a_team_does_not_ping_it_in_the_comment(scenario, fake):
    scenario.repo.revision("0003", "0002", 'raise RuntimeError("ping @octo-org/admins, see #1 '
                           '![x](https://evil.example/p.png)")', "pass")
    scenario.repo.commit("a migration whose error tries to ping, link and track")
    scenario.open_pull()
    run = scenario.pull_request("opened")
    assert run.exit_code == 1, run.log
    [comment] = [c for c in fake.comments(PR) if "Database Task Summary" in c.body]
    assert "octo-org/admins" in comment.body, comment.body  # the reader still sees what the error says
    text = prose(comment.body)  # GitHub resolves nothing inside code spans and blocks
    assert "octo-org/admins" in text
    assert "@octo-org/admins" not in text  # a zero-width space after the @: no notification
    assert "![x](" not in text and "see #1" not in text
