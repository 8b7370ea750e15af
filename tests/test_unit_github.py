"""The GitHub adapter's pure parts: events, commands, workflow-command escaping, size limits."""

from __future__ import annotations

import json

import pytest
from shared_data import WEBHOOKS

from migbot.github.api import Comment
from migbot.github.commands import (
    commit_pin,
    explain_reply,
    head_moved_reply,
    parse_command,
    pinned_commit_problem,
    unknown_reply,
)
from migbot.github.env import ActionEnv
from migbot.github.events import CommentCommand, Ignore, PullRequest, VerifyCommits, VerifyPull, read_trigger
from migbot.github.publish import status_line
from migbot.github.sticky import COMMENT_LIMIT, is_ours, project_marker
from migbot.github.workflow import Workflow, annotation
from migbot.errors import UsageError
from migbot.report.fit import fit_markdown, size
from migbot.report.model import Report



def payload(name: str) -> dict:
    return json.loads((WEBHOOKS / name).read_text())


# --- events ------------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["opened", "synchronize", "reopened", "ready_for_review"])
def test_pull_request_actions_that_verify(action):
    event = payload(f"pull_request/{action}.payload.json")
    trigger = read_trigger("pull_request", event, event["repository"]["full_name"])
    assert isinstance(trigger, VerifyPull)
    assert trigger.pull.head_sha == event["pull_request"]["head"]["sha"]
    assert trigger.pull.base_sha == event["pull_request"]["base"]["sha"]
    assert trigger.pull.number == event["pull_request"]["number"]
    assert trigger.pull.fork is False


def test_pull_request_from_a_fork_is_marked():
    event = payload("pull_request/opened.payload.json")
    assert read_trigger("pull_request", event, "octo-org/upstream").pull.fork is True
    event["pull_request"]["head"]["repo"] = None  # the fork was deleted
    assert read_trigger("pull_request", event, event["repository"]["full_name"]).pull.fork is True


@pytest.mark.parametrize("name", ["closed", "labeled"])
def test_other_pull_request_actions_do_nothing(name):
    event = payload(f"pull_request/{name}.payload.json")
    assert isinstance(read_trigger("pull_request", event, event["repository"]["full_name"]), Ignore)


def test_pull_request_target_is_refused():
    event = payload("pull_request/opened.payload.json")
    with pytest.raises(UsageError, match="write token"):
        read_trigger("pull_request_target", event, event["repository"]["full_name"])


def test_merge_group_verifies_the_group():
    event = payload("merge_group/checks_requested.payload.json")
    trigger = read_trigger("merge_group", event, event["repository"]["full_name"])
    assert isinstance(trigger, VerifyCommits)
    assert trigger.head_sha == event["merge_group"]["head_sha"]
    assert trigger.base_sha == event["merge_group"]["base_sha"]


@pytest.mark.parametrize("name,event_name", [("push/payload.json", "push"),
                                             ("workflow_dispatch/payload.json", "workflow_dispatch")])
def test_unsupported_events_do_nothing(name, event_name):
    assert isinstance(read_trigger(event_name, payload(name), "x/y"), Ignore)


def test_command_on_a_pull_request():
    event = payload("issue_comment-on-pull-request/created.payload.json")
    event["comment"]["body"] = "/migbot verify\nplease"
    trigger = read_trigger("issue_comment", event, event["repository"]["full_name"])
    assert isinstance(trigger, CommentCommand)
    assert trigger.command.name == "verify"
    assert trigger.number == event["issue"]["number"]
    assert trigger.author == event["comment"]["user"]["login"]


@pytest.mark.parametrize("name,body", [
    ("issue_comment/created.payload.json", "/migbot verify"),  # a plain issue, not a PR
    ("issue_comment/edited.payload.json", "/migbot verify"),
    ("issue_comment/deleted.payload.json", "/migbot verify"),
    ("issue_comment-on-pull-request/created.payload.json", "###comment body###"),
    ("issue_comment-on-pull-request/created.payload.json", "Looks good.\n/migbot verify"),  # not the first line
])
def test_comments_that_are_not_commands(name, body):
    event = payload(name)
    event["comment"]["body"] = body
    assert isinstance(read_trigger("issue_comment", event, event["repository"]["full_name"]), Ignore)


# --- commands ----------------------------------------------------------------------------
@pytest.mark.parametrize("body,name,args", [
    ("/migbot verify", "verify", []),
    ("  /MIGBOT   Verify  \nmore text", "verify", []),
    ("/migbot", "help", []),
    ("/migbot help", "help", []),
    ("/migbot explain model-drift", "explain", ["model-drift"]),
    ("/migbot verfy", "unknown", ["verfy"]),
])
def test_parse_command(body, name, args):
    command = parse_command(body)
    assert (command.name, command.args) == (name, args)


@pytest.mark.parametrize("body", ["", "/migbotverify", "please /migbot verify", "migbot verify"])
def test_not_a_command(body):
    assert parse_command(body) is None


def test_unknown_command_suggests_the_closest():
    reply = unknown_reply(parse_command("/migbot verfy"))
    assert "Did you mean `/migbot verify`?" in reply
    assert "/migbot help" in reply


def test_explain_a_check_and_a_typo():
    assert "How to fix" in explain_reply(parse_command("/migbot explain model-drift"))
    assert "Did you mean `model-drift`?" in explain_reply(parse_command("/migbot explain model-drif"))


# --- the commit a /migbot verify names ------------------------------------------------------
HEAD = "0123456789abcdef0123456789abcdef01234567"


def _pull(fork: bool) -> PullRequest:
    return PullRequest(7, "b" * 40, HEAD, "main", "feature", fork)


@pytest.mark.parametrize("args,pin", [
    ([], None), (["please"], None), (["abc12"], None),  # too short to mean a commit
    (["0123456"], "0123456"), ([f"`{HEAD.upper()}`"], HEAD), (["now", HEAD], HEAD),
])
def test_commit_pin(args, pin):
    assert commit_pin(args) == pin


@pytest.mark.parametrize("fork", [True, False])
def test_a_prefix_pin_is_refused_even_when_it_matches(fork):
    why = pinned_commit_problem(_pull(fork), [HEAD[:39]])
    assert "full 40-character SHA" in why and f"`/migbot verify {HEAD}`" in why


@pytest.mark.parametrize("fork", [True, False])
def test_only_the_exact_head_runs(fork):
    assert pinned_commit_problem(_pull(fork), [HEAD]) is None
    assert pinned_commit_problem(_pull(fork), [HEAD.upper()]) is None
    other = HEAD[:39] + "8"  # the same 39-character prefix
    assert f"head is now `{HEAD}`, not `{other}`" in pinned_commit_problem(_pull(fork), [other])


def test_a_fork_needs_a_pin_and_a_branch_does_not():
    assert f"then comment `/migbot verify {HEAD}`" in pinned_commit_problem(_pull(True), [])
    assert pinned_commit_problem(_pull(False), []) is None


def test_head_moved_replies_name_both_commits_in_full():
    newer = "f" * 40
    pinned = head_moved_reply(HEAD, newer, pinned=True, ran=True)
    assert f"from `{HEAD}` to `{newer}`" in pinned and f"`/migbot verify {newer}`" in pinned
    assert "summary comment is left as it was" in pinned
    branch = head_moved_reply(HEAD, newer, pinned=False, ran=False)
    assert "nothing was run" in branch and f"The push verifies `{newer}` by itself" in branch
    assert "could not confirm" in head_moved_reply(HEAD, "", pinned=True, ran=True)


# --- workflow commands -------------------------------------------------------------------
def test_annotation_escaping():
    line = annotation("error", "50% broke\r\nsecond line", file="alembic/versions/a,b:c.py", line=12,
                      title="migbot downgrade: Downgrade")
    assert line == ("::error file=alembic/versions/a%2Cb%3Ac.py,line=12,title=migbot downgrade%3A Downgrade"
                    "::50%25 broke%0D%0Asecond line")


def test_outputs_use_the_multiline_syntax(tmp_path):
    out = tmp_path / "output"
    Workflow(out, None).set_outputs({"result": "pass", "text": "two\nlines"})
    lines = out.read_text().splitlines()
    assert lines[0].startswith("result<<ghadelimiter_") and lines[1] == "pass" and lines[2] == lines[0][8:]
    assert lines[3].startswith("text<<") and lines[4:6] == ["two", "lines"] and lines[6] == lines[3][6:]


# --- env ---------------------------------------------------------------------------------
def _environ(tmp_path, **extra):
    event = tmp_path / "event.json"
    event.write_text("{}")
    return {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event), "GITHUB_REPOSITORY": "o/r",
            "INPUT_GITHUB-TOKEN": "ghs_secret", "GITHUB_TOKEN": "ghs_other", "ACTIONS_RUNTIME_TOKEN": "rt",
            "INPUT_DATABASE-URL": "postgresql://u:pw@h/db", **extra}


def test_env_takes_secrets_out_of_the_environment(tmp_path):
    environ = _environ(tmp_path)
    env = ActionEnv.from_environ(environ)
    assert env.token == "ghs_secret" and env.database_url == "postgresql://u:pw@h/db"
    assert not {"INPUT_GITHUB-TOKEN", "GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "INPUT_DATABASE-URL"} & set(environ)
    assert (env.fail_on, env.comment, env.api_url) == ("error", "changes", "https://api.github.com")


def test_env_rejects_a_bad_input(tmp_path):
    with pytest.raises(UsageError, match="fail-on: 'sometimes' is not one of error, warning, never"):
        ActionEnv.from_environ(_environ(tmp_path, **{"INPUT_FAIL-ON": "sometimes"}))


def test_env_outside_actions(tmp_path):
    with pytest.raises(UsageError, match="runs inside GitHub Actions"):
        ActionEnv.from_environ({})


# --- sticky comment and size -------------------------------------------------------------
def test_marker_and_ownership():
    marker = project_marker("services/a b/alembic.ini")
    assert marker == "<!-- migbot:database-task-summary project=services/a%20b/alembic.ini -->"
    assert "-->" not in project_marker("odd-->/alembic.ini")[:-3]
    ours = Comment(1, f"{marker}\n## Database Task Summary", "github-actions[bot]")
    assert is_ours(ours, marker, "github-actions[bot]")
    assert not is_ours(Comment(2, ours.body, "other-bot[bot]"), marker, "github-actions[bot]")
    assert not is_ours(Comment(3, f"> quoting\n{marker}", "github-actions[bot]"), marker, "github-actions[bot]")
    assert is_ours(Comment(4, ours.body, "My-App[bot]"), marker, "my-app[bot]")  # logins ignore case


def _report(findings: int, detail: str) -> Report:
    return Report.model_validate({
        "migbot_version": "0", "result": "fail", "database": "db", "started_at": "2026-01-01T00:00:00Z",
        "seconds": 1, "counts": {"failed": 1},
        "refs": {"base_ref": "main", "base": "a" * 40, "merge_base": "a" * 40, "head_ref": "f", "head": "b" * 40},
        "projects": [{"name": ".", "alembic_ini": "alembic.ini", "result": "fail",
                      "summary": {"verification": {"migration_up": "pass", "migration_down": "fail",
                                                   "seed_data": "not applicable"}},
                      "checks": [{"id": "downgrade", "title": "Downgrade", "status": "fail", "level": "error",
                                  "findings": [{"message": f"finding {i}", "file": "alembic/versions/x.py",
                                                "line": i, "details": [detail] * 20} for i in range(findings)]}]}],
    })


def test_fit_keeps_a_small_report_whole():
    report = _report(2, "short")
    assert fit_markdown(report, COMMENT_LIMIT, shortened_note="NOTE") == fit_markdown(report, 10**9,
                                                                                       shortened_note="NOTE")


def test_fit_shrinks_an_oversized_report():
    report = _report(300, "x" * 300 + " 🐘")
    text = fit_markdown(report, COMMENT_LIMIT, shortened_note="shortened: see the step summary")
    assert size(text) <= COMMENT_LIMIT < size(fit_markdown(report, 10**9, shortened_note=""))
    assert "shortened: see the step summary" in text
    assert "finding 0" in text and "Database Task Summary" in text
    assert text.count("```") % 2 == 0 and text.count("<details>") == text.count("</details>")


def test_status_line_names_failed_checks():
    state, description = status_line(_report(1, "d"))
    assert (state, description) == ("failure", "1 check failed: downgrade")


def test_the_report_folder_never_follows_a_committed_symlink(tmp_path):
    from migbot.github.artifact import fresh_folder

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("not migbot's")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / ".migbot").symlink_to(elsewhere)
    folder = fresh_folder(workspace / ".migbot")
    assert folder.is_dir() and not folder.is_symlink() and list(folder.iterdir()) == []
    assert (elsewhere / "keep.txt").read_text() == "not migbot's"


@pytest.mark.parametrize(("origin", "sent"), [
    ("https://github.com/octo/demo", True),
    ("https://github.com/octo/demo.git", True),
    ("https://evil.example/octo/demo", False),
    ("http://github.com/octo/demo", False),
    ("/tmp/origin.git", False),
    ("git@github.com:octo/demo.git", False),
])
def test_the_fetch_token_goes_only_to_the_workflows_github_server(origin, sent):
    from migbot.github.checkout import _same_server

    assert _same_server(origin, "https://github.com") is sent
