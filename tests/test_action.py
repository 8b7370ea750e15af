"""`migbot action` end to end: real webhook payloads, a real repository and PostgreSQL, and a fake
GitHub API that validates every request against GitHub's OpenAPI description."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from action_harness import PR, RUN_ID, Scenario, git
from fakegithub import FakeGitHub
from test_verify_passes import ORDER_MODEL, ORDER_UPGRADE, add_orders

from migbot.catalog import CHECKS
from migbot.github.sticky import project_marker

MARKER = project_marker("alembic.ini")
BOT = "github-actions[bot]"


@pytest.fixture
def fake():
    with FakeGitHub() as gh:
        gh.set_permission("maintainer", "maintain")
        gh.set_permission("reader", "read")
        yield gh
        gh.assert_no_violations()


@pytest.fixture
def scenario(tmp_path, fake) -> Scenario:
    return Scenario(tmp_path, fake)


def ours(fake: FakeGitHub, login: str = BOT):
    return [c for c in fake.comments(PR) if c.login == login and c.body.startswith(MARKER)]


def replies(scenario: Scenario, fake: FakeGitHub):
    """The bot's answers to the last command: every comment after it."""
    return [c for c in fake.comments(PR) if c.id > scenario.comment_id]


def when(condition, then, timeout: float = 120) -> threading.Thread:
    """Do `then` on GitHub's side (in a thread) as soon as `condition` holds, while a run goes on."""
    def watch():
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return
            time.sleep(0.005)
        then()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def push_elsewhere(scenario: Scenario, fake: FakeGitHub, *, fork: bool = False) -> str:
    """The author pushes another commit to the pull request (on GitHub's side); returns its SHA."""
    newer = "e" * 40
    fake.add_pull(PR, newer, scenario.base, scenario.head_ref, fork=fork)
    return newer


def add_orders_without_downgrade(scenario: Scenario) -> None:
    """A PR whose downgrade forgets the table: fails downgrade-restores-schema at the revision."""
    repo = scenario.repo
    repo.write("app/models/order.py", ORDER_MODEL)
    repo.replace("app/models/__init__.py", "from app.models.user import User",
                 "from app.models.order import Order\nfrom app.models.user import User")
    repo.revision("0003", "0002", ORDER_UPGRADE, 'op.drop_index(op.f("ix_orders_user_id"), table_name="orders")',
                  doc="create orders table")
    repo.commit("add orders, downgrade forgets the table")


# --- pull_request ----------------------------------------------------------------------------
def test_pull_request_publishes_comment_status_summary_and_outputs(scenario, fake):
    add_orders(scenario.repo)
    head = scenario.open_pull()
    run = scenario.pull_request("opened", sha="f" * 40)  # GITHUB_SHA is the merge commit, not the head

    assert run.exit_code == 0, run.log
    states = [(s.state, s.context) for s in fake.statuses(head)]
    assert states == [("pending", "migbot"), ("success", "migbot")]
    final = fake.statuses(head)[-1]
    assert final.description == f"All {len(CHECKS)} checks passed"  # every check in the catalogue ran
    assert final.target_url == f"https://github.example.com/{fake.full_name}/actions/runs/{RUN_ID}"
    assert fake.statuses("f" * 40) == []

    [comment] = ours(fake)
    assert "## Database Task Summary" in comment.body and "`orders`" in comment.body
    assert f"https://github.example.com/{fake.full_name}/blob/{head}/alembic/versions/0003.py" in comment.body
    assert "## Database Task Summary" in run.summary and "`orders`" in run.summary
    assert run.outputs["result"] == "pass"
    assert (run.outputs["failed"], run.outputs["passed"]) == ("0", str(len(CHECKS)))
    assert run.report()["refs"]["head"] == head and run.report()["refs"]["head_ref"] == "feature"
    assert "Database Task Summary comment for alembic.ini: created" in run.log


def test_synchronize_edits_the_same_comment(scenario, fake):
    add_orders(scenario.repo)
    scenario.open_pull()
    assert scenario.pull_request("opened").exit_code == 0
    [first] = ours(fake)

    scenario.repo.revision("0004", "0003", "op.create_index('ix_orders_note', 'orders', ['note'])",
                           "op.drop_index('ix_orders_note', table_name='orders')", doc="index order notes")
    scenario.repo.replace("app/models/order.py", "note: Mapped[str | None] = mapped_column(String(200))",
                          "note: Mapped[str | None] = mapped_column(String(200), index=True)")
    scenario.repo.commit("index notes")
    head = scenario.open_pull()
    run = scenario.pull_request("synchronize")

    assert run.exit_code == 0, run.log
    [second] = ours(fake)
    assert second.id == first.id and "ix_orders_note" in second.body
    assert [r.method for r in fake.writes() if "/comments" in r.path] == ["POST", "PATCH"]
    assert fake.statuses(head)[-1].state == "success"

    rerun = scenario.pull_request("synchronize")  # a re-run of the same commit
    assert rerun.exit_code == 0, rerun.log
    assert [c.id for c in ours(fake)] == [first.id]
    # The same commit gives the same comment, word for word: nothing to edit.
    assert [r.method for r in fake.writes() if "/comments" in r.path] == ["POST", "PATCH"]


def test_failing_pull_request(scenario, fake):
    add_orders_without_downgrade(scenario)
    head = scenario.open_pull()
    run = scenario.pull_request("opened")

    assert run.exit_code == 1, run.log
    status = fake.statuses(head)[-1]
    failed = run.report()["projects"][0]["checks"]
    failed_ids = [c["id"] for c in failed if c["status"] == "fail"]
    assert "downgrade-restores-schema" in failed_ids
    assert (status.state, status.description) == ("failure", f"{len(failed_ids)} check{'s' * (len(failed_ids) > 1)} "
                                                  f"failed: {', '.join(failed_ids)}")
    annotation = re.search(r"^::error file=alembic/versions/0003.py(,line=\d+)?,title=migbot "
                           r"downgrade-restores-schema%3A [^:]*::(.*)$", run.stdout, re.M)
    assert annotation, run.stdout
    assert annotation.group(2).startswith("0003: after downgrade the schema differs")
    [comment] = ours(fake)
    assert "❌" in comment.body and "downgrade-restores-schema" in comment.body
    assert run.outputs["result"] == "fail" and run.outputs["failed"] == str(len(failed_ids))


def test_fail_on_never_passes_the_job_but_the_status_tells_the_truth(scenario, fake):
    add_orders_without_downgrade(scenario)
    head = scenario.open_pull()
    run = scenario.pull_request("opened", inputs={"fail-on": "never"})
    assert run.exit_code == 0, run.log
    assert fake.statuses(head)[-1].state == "failure"
    assert "checks failed: downgrade-restores-schema" in fake.statuses(head)[-1].description


def test_check_levels_of_the_config_input_come_from_the_base_branch(scenario, fake):
    add_orders_without_downgrade(scenario)
    scenario.repo.write("ci/migbot.toml", '[checks]\ndowngrade-restores-schema = "off"\n')
    scenario.repo.commit("relax migbot in the file the workflow names")
    head = scenario.open_pull()
    run = scenario.pull_request("opened", inputs={"config": "ci/migbot.toml"})
    assert run.exit_code == 1, run.log
    assert fake.statuses(head)[-1].state == "failure"
    report = run.report()
    assert [c["status"] for c in report["projects"][0]["checks"] if c["id"] == "downgrade-restores-schema"] == ["fail"]
    assert any("changes migbot's policy" in note and "`downgrade-restores-schema` error → off" in note
               for note in report["notes"])


def test_pull_request_without_migration_changes_gets_a_status_but_no_comment(scenario, fake):
    scenario.repo.write("README.md", "docs only\n")
    scenario.repo.commit("docs")
    head = scenario.open_pull()
    run = scenario.pull_request("opened")
    assert run.exit_code == 0, run.log
    assert fake.statuses(head)[-1].state == "success"
    assert fake.statuses(head)[-1].description.startswith("No migration changes")
    assert fake.comments(PR) == []
    assert "no comment for alembic.ini" in run.log

    always = scenario.pull_request("synchronize", inputs={"comment": "always"})
    assert always.exit_code == 0 and len(ours(fake)) == 1


def test_other_comments_are_left_alone_and_every_page_is_read(scenario, fake):
    add_orders(scenario.repo)
    scenario.open_pull()
    lookalike = f"{MARKER}\n## Database Task Summary\nfrom another bot"
    other_bot = fake.add_comment(PR, lookalike, login="other-bot[bot]", user_type="Bot")
    for i in range(130):
        fake.add_comment(PR, f"review comment {i}")
    mine_but_not_summary = fake.add_comment(PR, "a help reply", login=BOT, user_type="Bot")
    stale = fake.add_comment(PR, f"{MARKER}\nan old summary", login=BOT, user_type="Bot")

    run = scenario.pull_request("opened")

    assert run.exit_code == 0, run.log
    comments = {c.id: c for c in fake.comments(PR)}
    assert comments[other_bot].body == lookalike
    assert comments[mine_but_not_summary].body == "a help reply"
    assert "`orders`" in comments[stale].body
    assert len(comments) == 133
    assert [r.method for r in fake.writes() if "/comments" in r.path] == ["PATCH"]
    pages = [r for r in fake.requests if r.method == "GET" and r.path.endswith(f"/issues/{PR}/comments")]
    assert len(pages) >= 2


def test_a_fork_pull_request_with_a_read_only_token(scenario, fake):
    fake.add_token("ghs_fork_token", BOT, read_only=True)
    add_orders(scenario.repo)
    head = scenario.open_pull(fork=True)
    run = scenario.pull_request("opened", head_repo="someone/demo", token="ghs_fork_token")

    assert run.exit_code == 0, run.log
    assert [(w.method, w.status) for w in fake.writes()] == [("POST", 403)]  # the pending status, refused
    assert fake.statuses(head) == [] and fake.comments(PR) == []
    assert "comes from a fork" in run.summary and "## Database Task Summary" in run.summary
    assert re.search(r"^::warning::.*comes from a fork", run.stdout, re.M)
    assert "Database Task Summary" in run.stdout  # the log has the summary too
    assert run.outputs["result"] == "pass"


def test_oversized_report_is_shortened_in_the_comment_only(scenario, fake):
    tables = "\n".join(f"op.create_table('t_{i:03}_{'x' * 40}', sa.Column('id', sa.Integer(), primary_key=True),"
                       f" sa.Column('a_rather_long_column_name_{i}', sa.Text()))" for i in range(600))
    scenario.repo.revision("0003", "0002", tables, "pass", doc="six hundred tables, no downgrade")
    scenario.repo.commit("many tables")
    scenario.open_pull()
    run = scenario.pull_request("opened")

    assert run.exit_code == 1, run.log
    [comment] = ours(fake)
    assert len(comment.body) <= 65_536 < len(run.summary)
    assert "shortened to fit GitHub's size limit" in comment.body
    assert f"actions/runs/{RUN_ID}" in comment.body
    assert "t_599_" in run.summary


def test_server_errors_and_rate_limits_are_retried(scenario, fake):
    add_orders(scenario.repo)
    head = scenario.open_pull()
    fake.fail_next("POST", "/repos/*/statuses/*", status=502)
    fake.fail_next("GET", f"/repos/*/issues/{PR}/comments", status=503)
    fake.secondary_rate_limit_next("POST", f"/repos/*/issues/{PR}/comments", retry_after=1)
    run = scenario.pull_request("opened")

    assert run.exit_code == 0, run.log
    assert [s.state for s in fake.statuses(head)] == ["pending", "success"]
    assert len(ours(fake)) == 1
    answers = [(r.method, r.status) for r in fake.requests if r.status >= 400]
    assert ("POST", 502) in answers and ("GET", 503) in answers and ("POST", 403) in answers


def test_primary_rate_limit_waits_for_the_reset(scenario, fake):
    add_orders(scenario.repo)
    scenario.open_pull()
    fake.rate_limit_next("GET", "/repos/*/collaborators/*/permission", reset_in=1)
    run = scenario.comment("/migbot verify")
    assert run.exit_code == 0, run.log
    assert [r.status for r in fake.requests if r.path.endswith("/permission")] == [403, 200]


def test_a_comment_post_that_failed_after_storing_is_not_duplicated(scenario, fake):
    add_orders(scenario.repo)
    scenario.open_pull()
    fake.fail_next("POST", f"/repos/*/issues/{PR}/comments", status=502, after_handling=True)
    run = scenario.pull_request("opened")
    assert run.exit_code == 0, run.log
    assert len(ours(fake)) == 1


def test_missing_history_is_explained(scenario, fake):
    add_orders(scenario.repo)
    head = scenario.open_pull()
    workspace = scenario.checkout(f"refs/pull/{PR}/head", depth=1)
    run = scenario.run("pull_request", scenario.event("pull_request/opened.payload.json"), workspace)

    assert run.exit_code == 2, run.log
    assert "fetch-depth: 0" in run.log and "shallow" in run.log
    assert "Traceback" not in run.log
    assert fake.statuses(head)[-1].state == "error"
    assert run.outputs["result"] == "error"


# --- merge queue ---------------------------------------------------------------------------------
def test_merge_group_sets_the_status_and_never_comments(scenario, fake):
    add_orders(scenario.repo)
    head = scenario.open_pull()
    fake.add_commit(head)
    payload = scenario.event("merge_group/checks_requested.payload.json")
    payload["merge_group"].update(head_sha=head, base_sha=scenario.base,
                                  head_ref="refs/heads/gh-readonly-queue/main/pr-7")
    run = scenario.run("merge_group", payload, scenario.checkout(f"refs/pull/{PR}/head"))
    assert run.exit_code == 0, run.log
    assert [s.state for s in fake.statuses(head)] == ["pending", "success"]
    assert fake.comments(PR) == []


# --- comment commands ------------------------------------------------------------------------------
def test_verify_command_from_a_writer(scenario, fake):
    add_orders(scenario.repo)
    head = scenario.open_pull()
    run = scenario.comment("/migbot verify", author="maintainer")

    assert run.exit_code == 0, run.log
    assert [r.content for r in fake.reactions(scenario.comment_id)] == ["eyes"]
    main_sha = scenario.base
    assert fake.statuses(main_sha) == []  # GITHUB_SHA is main's tip for comment events
    assert [s.state for s in fake.statuses(head)] == ["pending", "success"]
    [comment] = ours(fake)
    assert "maintainer's request" in comment.body and "`orders`" in comment.body
    assert f"on commit `{head}`" in comment.body  # which commit was verified, in full
    assert run.report()["refs"]["head"] == head
    # The PR head was checked out for the run, and the workspace put back for the job's later steps.
    assert not (run.workspace / "app/models/order.py").exists()
    assert scenario.git_head(run.workspace) == main_sha


def test_commands_from_a_reader_are_refused_politely(scenario, fake):
    add_orders(scenario.repo)
    head = scenario.open_pull()
    run = scenario.comment("/migbot verify", author="reader")

    assert run.exit_code == 0, run.log
    [reply] = [c for c in fake.comments(PR) if c.id != scenario.comment_id]
    assert reply.body.startswith("@reader Sorry, only people with write access")
    assert fake.statuses(head) == []
    assert [(w.method, w.path.split("/")[-1]) for w in fake.writes()] == [("POST", "comments")]
    assert run.outputs["result"] == "refused"


def test_a_fork_runs_only_at_the_commit_a_writer_named(scenario, fake):
    add_orders(scenario.repo)
    head = scenario.open_pull(fork=True)

    unpinned = scenario.comment("/migbot verify", author="maintainer")
    assert unpinned.exit_code == 0 and unpinned.outputs["result"] == "refused"
    assert f"then comment `/migbot verify {head}`" in fake.comments(PR)[-1].body
    assert fake.statuses(head) == []

    other = "0123456789ab" * 3 + "cdef"
    stale = scenario.comment(f"/migbot verify {other}", author="maintainer")
    assert stale.outputs["result"] == "refused" and f"not `{other}`" in fake.comments(PR)[-1].body
    assert fake.statuses(head) == [] and ours(fake) == []


def test_a_twelve_character_pin_is_refused_with_the_full_sha_to_paste(scenario, fake):
    add_orders(scenario.repo)
    head = scenario.open_pull(fork=True)
    run = scenario.comment(f"/migbot verify {head[:12]}", author="maintainer")

    assert run.exit_code == 0, run.log
    assert run.outputs["result"] == "refused"
    [reply] = replies(scenario, fake)
    assert "full 40-character SHA" in reply.body
    assert f"comment `/migbot verify {head}`" in reply.body
    assert fake.statuses(head) == [] and ours(fake) == []
    assert not (run.workspace / ".migbot/report.json").exists()  # nothing ran


def test_a_full_sha_pin_runs_and_names_the_commit(scenario, fake):
    add_orders(scenario.repo)
    head = scenario.open_pull(fork=True)
    run = scenario.comment(f"/migbot verify {head.upper()}", author="maintainer")

    assert run.exit_code == 0, run.log
    assert [s.state for s in fake.statuses(head)] == ["pending", "success"]
    [summary] = ours(fake)
    assert f"on the fork's commit `{head}`" in summary.body
    assert run.report()["refs"]["head"] == head


def test_a_head_moved_between_comment_and_run_is_refused_and_publishes_nothing(scenario, fake):
    add_orders(scenario.repo)
    head = scenario.open_pull(fork=True)
    newer = push_elsewhere(scenario, fake, fork=True)  # after the maintainer wrote the comment below
    run = scenario.comment(f"/migbot verify {head}", author="maintainer")

    assert run.exit_code == 0, run.log
    assert run.outputs["result"] == "refused"
    [reply] = replies(scenario, fake)
    assert f"head is now `{newer}`, not `{head}`: nothing was run" in reply.body
    assert fake.statuses(head) == fake.statuses(newer) == [] and ours(fake) == []
    assert [w.path.rsplit("/", 1)[-1] for w in fake.writes()] == ["reactions", "comments"]


def test_a_head_moved_while_migbot_fetched_it_is_refused_before_the_code_runs(scenario, fake):
    """The pull request is read again after `git fetch`, right before its code would run.

    The author pushes right after migbot's first read of the pull request (on GitHub's side, before
    that answer even leaves): git ignores hooks in migbot's calls, so the fake sequences it."""
    add_orders(scenario.repo)
    head = scenario.open_pull(fork=True)
    workspace = scenario.checkout("main")
    newer = "e" * 40
    fake.after("pulls/get", lambda: push_elsewhere(scenario, fake, fork=True))

    body = f"/migbot verify {head}"
    payload = scenario.event("issue_comment-on-pull-request/created.payload.json", body=body, author="maintainer")
    payload["comment"]["id"] = scenario.comment_id = fake.add_comment(PR, body, login="maintainer")
    run = scenario.run("issue_comment", payload, workspace)

    assert run.exit_code == 0, run.log
    assert run.outputs["result"] == "refused"
    assert git(workspace, "rev-parse", f"refs/remotes/origin/pull/{PR}/head") == head  # it had fetched
    assert [r.operation_id for r in fake.requests].count("pulls/get") == 2
    [reply] = replies(scenario, fake)
    assert f"moved from `{head}` to `{newer}` while migbot was preparing" in reply.body
    assert "nothing was run" in reply.body and f"`/migbot verify {newer}`" in reply.body
    assert fake.statuses(head) == fake.statuses(newer) == [] and ours(fake) == []
    assert not (workspace / ".migbot/report.json").exists()
    assert scenario.git_head(workspace) == scenario.base  # the default branch is checked out again


def test_a_head_moved_during_the_run_leaves_the_newer_summary_alone(scenario, fake):
    add_orders(scenario.repo)
    head = scenario.open_pull()
    newer_summary = f"{MARKER}\n## Database Task Summary\nthe newer commit's result"
    newer = "e" * 40

    def newer_run_publishes():
        push_elsewhere(scenario, fake)
        fake.add_comment(PR, newer_summary, login=BOT, user_type="Bot")

    watcher = when(lambda: bool(fake.statuses(head)), newer_run_publishes)  # once the run set its pending status
    run = scenario.pull_request("opened")
    watcher.join(5)

    assert run.exit_code == 0, run.log
    assert [c.body for c in ours(fake)] == [newer_summary]
    assert not [w for w in fake.writes() if "/comments" in w.path]
    assert [s.state for s in fake.statuses(head)] == ["pending", "success"]  # the verified commit's own status
    assert fake.statuses(newer) == []
    assert f"moved to `{newer}` while migbot verified `{head}`" in run.summary
    assert "`orders`" in run.summary and run.outputs["result"] == "pass"


def test_a_pinned_verify_whose_head_moved_during_the_run_replies_and_publishes_no_summary(scenario, fake):
    add_orders(scenario.repo)
    head = scenario.open_pull(fork=True)
    newer = "e" * 40
    watcher = when(lambda: bool(fake.statuses(head)), lambda: push_elsewhere(scenario, fake, fork=True))
    run = scenario.comment(f"/migbot verify {head}", author="maintainer")
    watcher.join(5)

    assert run.exit_code == 0, run.log
    [reply] = replies(scenario, fake)
    assert f"moved from `{head}` to `{newer}` while migbot was verifying" in reply.body
    assert f"comment `/migbot verify {newer}`" in reply.body
    assert ours(fake) == [] and fake.statuses(newer) == []
    assert [s.state for s in fake.statuses(head)] == ["pending", "success"]


# --- the bot's own login -----------------------------------------------------------------------------
APP_TOKEN, APP_BOT = "ghs_app_installation_token", "migbot-app[bot]"


def add_an_index(scenario: Scenario) -> str:
    scenario.repo.revision("0004", "0003", "op.create_index('ix_orders_note', 'orders', ['note'])",
                           "op.drop_index('ix_orders_note', table_name='orders')", doc="index order notes")
    scenario.repo.replace("app/models/order.py", "note: Mapped[str | None] = mapped_column(String(200))",
                          "note: Mapped[str | None] = mapped_column(String(200), index=True)")
    scenario.repo.commit("index notes")
    return scenario.open_pull()


def test_an_app_token_without_bot_login_edits_its_own_comment_on_the_next_run(scenario, fake):
    fake.add_token(APP_TOKEN, APP_BOT)  # an installation token: GET /user answers 403
    add_orders(scenario.repo)
    scenario.open_pull()
    assert scenario.pull_request("opened", token=APP_TOKEN).exit_code == 0
    [first] = ours(fake, APP_BOT)

    add_an_index(scenario)
    run = scenario.pull_request("synchronize", token=APP_TOKEN)

    assert run.exit_code == 0, run.log
    [second] = ours(fake, APP_BOT)
    assert second.id == first.id and "ix_orders_note" in second.body
    assert [r.method for r in fake.writes() if "/comments" in r.path] == ["POST", "PATCH"]


def test_an_app_token_leaves_a_summary_by_another_login_alone(scenario, fake):
    """The repository used github.token before: that comment has the marker but is not the App's."""
    fake.add_token(APP_TOKEN, APP_BOT)
    add_orders(scenario.repo)
    scenario.open_pull()
    old = fake.add_comment(PR, f"{MARKER}\nan older summary", login=BOT, user_type="Bot")
    run = scenario.pull_request("opened", token=APP_TOKEN)

    assert run.exit_code == 0, run.log
    assert {c.id: c.body for c in fake.comments(PR)}[old] == f"{MARKER}\nan older summary"
    assert len(ours(fake, APP_BOT)) == 1


def test_help_and_explain_need_no_permission(scenario, fake):
    scenario.open_pull()
    run = scenario.comment("/migbot help", author="reader")
    assert run.exit_code == 0 and run.outputs["result"] == "answered"
    assert not any(r.path.endswith("/permission") for r in fake.requests)


@pytest.mark.parametrize("body,expected", [
    ("/migbot help", "| `/migbot verify` |"),
    ("/migbot verfy", "Did you mean `/migbot verify`?"),
    ("/migbot explain model-drift", "### `model-drift`"),
])
def test_help_unknown_and_explain_replies(scenario, fake, body, expected):
    scenario.open_pull()
    run = scenario.comment(body, author="maintainer")
    assert run.exit_code == 0, run.log
    [reply] = [c for c in fake.comments(PR) if c.id != scenario.comment_id]
    assert expected in reply.body
    assert run.outputs["result"] == "answered"


@pytest.mark.parametrize("name,body", [
    ("issue_comment/created.payload.json", "/migbot verify"),  # on a plain issue
    ("issue_comment/edited.payload.json", "/migbot verify"),
    ("issue_comment/deleted.payload.json", "/migbot verify"),
    ("issue_comment-on-pull-request/created.payload.json", "LGTM, thanks!"),
])
def test_unrelated_comments_make_no_api_calls(scenario, fake, name, body):
    scenario.open_pull()
    workspace = scenario.checkout("main")
    run = scenario.run("issue_comment", scenario.event(name, body=body), workspace)
    assert run.exit_code == 0, run.log
    assert "nothing to do" in run.log
    assert fake.requests == []
    assert run.outputs == {"result": "skipped"}


@pytest.mark.parametrize("action", ["closed", "labeled"])
def test_other_pull_request_actions_make_no_api_calls(scenario, fake, action):
    scenario.open_pull()
    run = scenario.pull_request(action)
    assert run.exit_code == 0 and fake.requests == []


# --- hostile input and secrets -----------------------------------------------------------------------
def test_no_shell_injection_through_titles_branches_or_comments(scenario, fake, tmp_path):
    canary = tmp_path / "pwned"
    evil = f"$(touch${{IFS}}{canary})`touch {canary}`"
    scenario.repo.git("checkout", "-q", "-b", f"feat-{evil.replace(' ', '')}")
    add_orders(scenario.repo)
    scenario.open_pull(title=evil)
    run = scenario.comment(f"/migbot verify {evil}", author="maintainer")
    assert run.exit_code == 0, run.log
    run = scenario.pull_request("opened", title=evil)
    assert run.exit_code == 0, run.log
    assert not canary.exists()


def test_secrets_never_reach_the_log_comment_or_summary(scenario, fake):
    fake.add_token("ghs_s3cr3t_token_value", BOT)
    add_orders(scenario.repo)
    scenario.open_pull()
    password = "p4ss-w0rd-n0t-f0r-l0gs"
    url = f"postgresql://postgres:{password}@127.0.0.1:5432/postgres"
    run = scenario.pull_request("opened", token="ghs_s3cr3t_token_value", inputs={"database-url": url})
    assert run.exit_code == 0, run.log
    published = run.log + run.summary + "".join(c.body for c in fake.comments(PR)) + str(run.report())
    assert password not in published and "ghs_s3cr3t_token_value" not in published
    assert "127.0.0.1:5432" in run.summary  # it did use that server


def test_the_projects_code_cannot_read_the_token_from_migbots_environment(scenario, fake, tmp_path):
    """os.environ.pop leaves a variable in /proc/<pid>/environ; migbot re-executes itself without it."""
    fake.add_token("ghs_environ_canary_token", BOT)
    add_orders(scenario.repo)
    scenario.open_pull()
    seen = tmp_path / "parent-environ"
    run = scenario.pull_request("opened", token="ghs_environ_canary_token",
                                inputs={"install": f"tr '\\0' '\\n' < /proc/$PPID/environ > {seen}; env >> {seen}"})
    assert "GITHUB_REPOSITORY=" in seen.read_text()  # it did read migbot's environment
    assert "ghs_environ_canary_token" not in seen.read_text()
    assert "No module named 'alembic'" in run.log  # the install put nothing in the virtualenv


def test_install_command_failure_is_an_error_not_a_check_failure(scenario, fake):
    add_orders(scenario.repo)
    head = scenario.open_pull()
    run = scenario.pull_request("opened", inputs={"install": "echo resolving deps; exit 7"})
    assert run.exit_code == 3, run.log
    assert "The install command failed with exit code 7" in run.log and "resolving deps" in run.log
    assert fake.statuses(head)[-1].state == "error"


def test_bad_input_is_a_clear_error(scenario, fake):
    scenario.open_pull()
    run = scenario.pull_request("opened", inputs={"comment": "sometimes"})
    assert run.exit_code == 2
    assert "::error::migbot: The input comment: 'sometimes' is not one of changes, always, never." in run.stdout
    assert fake.requests == []


def test_workflow_command_lookalikes_in_project_output_are_not_obeyed(scenario, fake):
    """The PR's files reach the log (here through the install command's output): a line in them
    that looks like a workflow command must be printed, not obeyed."""
    add_orders(scenario.repo)
    scenario.repo.write("NOTICE.txt", "::error file=x.py::injected\n::add-mask::injected too\n")
    scenario.repo.commit("a file that looks like workflow commands")
    scenario.open_pull()
    run = scenario.pull_request("opened", inputs={"install": "cat NOTICE.txt"})

    lines = run.stdout.splitlines()
    stopped, token = set(), None
    for i, line in enumerate(lines):
        if token is None and line.startswith("::stop-commands::"):
            token = line.split("::")[2]
        elif token is not None and line == f"::{token}::":
            token = None
        elif token is not None:
            stopped.add(i)
    injected = [i for i, line in enumerate(lines) if "injected" in line]
    assert injected, run.stdout
    assert set(injected) <= stopped, [lines[i] for i in injected]


def test_report_is_written_under_the_workspace(scenario):
    """The report goes under the workspace, where later steps (upload-artifact) find it."""
    add_orders(scenario.repo)
    scenario.open_pull()
    run = scenario.pull_request("opened")
    assert run.outputs["report"] == ".migbot/report.json"
    assert Path(run.workspace, run.outputs["report"]).is_file()


def test_install_puts_the_projects_dependencies_in_a_virtualenv_of_their_own(scenario, fake):
    """The app imports a package migbot itself does not have: env.py loads only if migbot runs
    the project's code in the virtualenv the install command filled."""
    add_orders(scenario.repo)
    scenario.repo.replace("app/core/config.py", "from pydantic_settings",
                          "import humanize  # noqa: F401\nfrom pydantic_settings")
    scenario.repo.commit("the app needs humanize")
    head = scenario.open_pull()
    install = "pip install -q alembic sqlalchemy 'psycopg[binary]' pydantic-settings humanize"
    run = scenario.pull_request("opened", inputs={"install": install}, timeout=600)
    assert run.exit_code == 0, run.log
    assert fake.statuses(head)[-1].state == "success"
    assert "::group::install: pip install" in run.stdout
