"""Monorepos on GitHub Actions: `migbot plan` makes the matrix of the Alembic projects a pull request
touches, each job of it verifies one project (`mode: verify` with `project`, or `migbot verify
--project`), and the publish run merges their artifacts: one `migbot` status, a summary per project.
Against the fake GitHub, which validates every request against the OpenAPI description."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from action_harness import (
    PR,
    VERIFY_RUN_ID,
    ActionRun,
    Scenario,
    unzip,
    upload_artifact,
    zip_of,
)
from conftest import Repo, make_monorepo, run_migbot
from fakegithub import FakeGitHub

from migbot.errors import UsageError
from migbot.github.artifact import read_artifact
from migbot.github.sticky import project_marker
from migbot.plan.monorepo import select_project

ROOT = Path(__file__).resolve().parents[1]
BOT = "github-actions[bot]"
AGE_COLUMN = ('op.add_column("users", sa.Column("age", sa.Integer()))', 'op.drop_column("users", "age")')
AGE_MODEL = ("full_name:", "age: Mapped[int | None] = mapped_column()\n    full_name:")


def add_age(repo: Repo, service: str, *, reversible: bool = True) -> None:
    """A revision 0003 of one service that adds users.age, and the model that declares it."""
    repo.replace(f"services/{service}/app/models/user.py", *AGE_MODEL)
    repo.revision("0003", "0002", AGE_COLUMN[0], AGE_COLUMN[1] if reversible else "pass",
                  versions=f"services/{service}/alembic/versions")


def plan(repo: Repo, *args: str) -> tuple[dict, str]:
    result = run_migbot("plan", "--repo", str(repo.path), "--base", "main", *args, json_report=False)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") == 1  # one line, for `echo "matrix=..." >> "$GITHUB_OUTPUT"`
    return json.loads(result.stdout), result.stderr


@dataclass
class MonorepoScenario(Scenario):
    def __post_init__(self):
        self.repo = make_monorepo(self.tmp / "author")
        self.base = self.repo.git("rev-parse", "HEAD")
        self.repo.branch("feature")
        self.head_ref = "feature"


@dataclass
class Matrix:
    """One pull request that touches both services (billing's revision is fine, accounts' cannot be
    undone), its plan, and the run of each job of the matrix: the slow part, shared by the module."""

    scenario: MonorepoScenario
    matrix: dict
    runs: dict[str, ActionRun]  # by project
    artifacts: dict[str, bytes]  # by artifact name, as upload-artifact zips .migbot/

    def artifact_of(self, project: str) -> tuple[str, bytes]:
        [name] = [e["artifact"] for e in self.matrix["include"] if e["project"] == project]
        return name, self.artifacts[name]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> Matrix:
    with FakeGitHub() as fake:
        scenario = MonorepoScenario(tmp_path_factory.mktemp("monorepo"), fake)
        add_age(scenario.repo, "billing")
        add_age(scenario.repo, "accounts", reversible=False)
        scenario.repo.commit("age in both services; accounts' cannot be undone")
        planned, _ = plan(scenario.repo)
        scenario.open_pull()
        runs, artifacts = {}, {}
        for entry in planned["include"]:
            runs[entry["project"]] = run = scenario.verify_job(inputs={"project": entry["project"]})
            artifacts[entry["artifact"]] = upload_artifact(run.workspace / ".migbot")
        assert fake.requests == []  # the verify jobs hold no GitHub client
    return Matrix(scenario, planned, runs, artifacts)


@pytest.fixture
def publisher(matrix) -> MonorepoScenario:
    """The matrix's scenario on a fresh fake GitHub, its pull request open at the verified head."""
    with FakeGitHub() as fake:
        scenario = matrix.scenario
        scenario.fake = fake
        fake.add_pull(PR, scenario.head, scenario.base, scenario.head_ref)
        yield scenario
        fake.assert_no_violations()


def publish(scenario: Scenario, artifacts: dict[str, bytes], plan_json: dict | None) -> ActionRun:
    """The publish run of a verify run that uploaded `artifacts`, and the plan job's `migbot-plan`."""
    for name, data in artifacts.items():
        scenario.fake.add_artifact(VERIFY_RUN_ID, name, data, head_sha=scenario.head)
    if plan_json is not None:
        scenario.fake.add_artifact(VERIFY_RUN_ID, "migbot-plan", zip_of({"plan.json": json.dumps(plan_json)}),
                                   head_sha=scenario.head)
    return scenario.publish_job(None)


def summaries(fake: FakeGitHub, ini: str) -> list:
    return [c for c in fake.comments(PR) if c.login == BOT and c.body.startswith(project_marker(ini))]


# --- migbot plan ------------------------------------------------------------------------------------
def test_plan_names_both_projects_when_the_pull_request_touches_both(matrix):
    assert matrix.matrix == {"include": [
        {"project": "services/accounts", "alembic_ini": "services/accounts/alembic.ini",
         "artifact": "migbot-report-services-accounts"},
        {"project": "services/billing", "alembic_ini": "services/billing/alembic.ini",
         "artifact": "migbot-report-services-billing"},
    ]}


def test_plan_names_only_the_projects_a_change_touches(tmp_path):
    repo = make_monorepo(tmp_path / "mono")
    repo.branch("feature")
    repo.write("README.md", "# two services\n")
    repo.write("docs/billing.md", "how billing works\n")
    repo.commit("documentation only")
    assert plan(repo)[0] == {"include": []}

    repo.replace("services/billing/app/models/user.py", *AGE_MODEL)  # a model, not a revision
    repo.commit("billing's model")
    touched, log = plan(repo)
    assert [e["project"] for e in touched["include"]] == ["services/billing"]
    assert "services/accounts: not touched" in log
    assert "services/billing: touched (services/billing/app/models/user.py changed)" in log

    repo.write("libs/money.py", "CENTS = 100\n")  # shared: any env.py may import it
    repo.commit("a shared library")
    assert [e["project"] for e in plan(repo)[0]["include"]] == ["services/accounts", "services/billing"]


def test_plan_of_a_repository_with_one_project_at_its_root(repo: Repo):
    repo.write("docs/setup.md", "how to set up\n")
    repo.commit("documentation")
    assert plan(repo)[0] == {"include": []}
    repo.replace("app/models/user.py", *AGE_MODEL)
    repo.commit("a model")
    assert plan(repo)[0] == {"include": [{"project": ".", "alembic_ini": "alembic.ini", "artifact": "migbot-report-root"}]}


def test_plan_output_file_and_a_bad_ref(tmp_path):
    repo = make_monorepo(tmp_path / "mono")
    repo.branch("feature")
    add_age(repo, "accounts")
    repo.commit()
    out = tmp_path / "plan.json"
    printed, _ = plan(repo, "--output", str(out))
    assert json.loads(out.read_text()) == printed and len(printed["include"]) == 1
    bad = run_migbot("plan", "--repo", str(repo.path), "--base", "nope", json_report=False)
    assert bad.exit_code == 2 and "The base ref 'nope' does not exist" in bad.stderr
    assert bad.stdout == "" and "Traceback" not in bad.stderr


# --- --project --------------------------------------------------------------------------------------
def test_verify_project_that_names_no_project_is_a_usage_error_naming_those_found(tmp_path):
    repo = make_monorepo(tmp_path / "mono")
    repo.branch("feature")
    add_age(repo, "billing")
    repo.commit()
    result = run_migbot("verify", "--repo", str(repo.path), "--base", "main", "--project", "services/payments")
    assert result.exit_code == 2 and result.report is None
    assert "--project services/payments names none of the Alembic projects migbot found: services/accounts " \
           "(services/accounts/alembic.ini), services/billing (services/billing/alembic.ini)." in result.stderr
    assert "Traceback" not in result.stderr


def test_project_is_named_by_its_folder_or_its_ini_file():
    inis = ["alembic.ini", "services/a/alembic.ini", "services/a/alembic_audit.ini", "services/b/events.ini"]
    assert select_project("services/a", inis) == ["services/a/alembic.ini"]
    assert select_project("./services/a/", inis) == ["services/a/alembic.ini"]
    assert select_project("services/a/alembic_audit.ini", inis) == ["services/a/alembic_audit.ini"]
    assert select_project("services/b", inis) == ["services/b/events.ini"]  # the folder's one project
    assert select_project(".", inis) == ["alembic.ini"]
    assert select_project("anything", []) == []  # no project at all: the plan says why
    with pytest.raises(UsageError, match="that folder holds 2 Alembic projects"):
        select_project("services/a", ["services/a/one.ini", "services/a/two.ini"])


def test_the_project_input_belongs_to_verify_mode(tmp_path):
    with FakeGitHub() as fake:
        scenario = MonorepoScenario(tmp_path, fake)
        add_age(scenario.repo, "billing")
        scenario.repo.commit()
        scenario.open_pull()
        run = scenario.pull_request(inputs={"mode": "single", "project": "services/billing"})
        assert run.exit_code == 2 and "The project input belongs to `mode: verify`" in run.stdout
        assert fake.requests == []


# --- one job per project ----------------------------------------------------------------------------
def test_each_job_verifies_its_own_project_and_its_artifact_says_which(matrix):
    assert matrix.runs["services/billing"].exit_code == 0, matrix.runs["services/billing"].log
    assert matrix.runs["services/accounts"].exit_code == 1, matrix.runs["services/accounts"].log
    read = {project: read_artifact(matrix.artifact_of(project)[1]) for project in matrix.runs}
    for project, (request, report) in read.items():
        assert request.project == project and request.head_sha == matrix.scenario.head
        assert [p.alembic_ini for p in report.projects] == [f"{project}/alembic.ini"]
    billing = read["services/billing"][1]
    # accounts' new revision is accounts' own: billing's history is not blamed for not loading it,
    # and accounts is not reported as left unverified
    assert {c.id: c.status for c in billing.projects[0].checks}["revisions-loaded"] == "pass"
    assert billing.result == "pass" and not any("services/accounts" in note for note in billing.notes)


# --- the publish run --------------------------------------------------------------------------------
def test_publish_merges_the_matrix_into_one_status_and_a_summary_per_project(publisher, matrix):
    run = publish(publisher, matrix.artifacts, matrix.matrix)

    assert run.exit_code == 0, run.log
    fake = publisher.fake
    statuses = fake.statuses(publisher.head)
    assert [s.state for s in statuses] == ["pending", "failure"]
    assert statuses[-1].description.startswith("1 check failed in services/accounts: reversible-downgrades")
    [billing] = summaries(fake, "services/billing/alembic.ini")
    [accounts] = summaries(fake, "services/accounts/alembic.ini")
    assert "`services/billing`" in billing.body and "services/accounts" not in billing.body
    assert "`services/accounts`" in accounts.body and "reversible-downgrades" in accounts.body
    # The step summary holds the whole merged report: both sections.
    assert "Database Task Summary — `services/accounts`" in run.summary
    assert "Database Task Summary — `services/billing`" in run.summary
    assert run.outputs["result"] == "fail" and run.outputs["failed"] == "1"
    assert "actions/download-artifact" in [r.operation_id for r in fake.requests]
    assert len(fake.blob_requests) == 3  # both reports and the plan


def test_a_planned_project_that_left_no_result_makes_the_status_an_error(publisher, matrix):
    name, data = matrix.artifact_of("services/billing")
    run = publish(publisher, {name: data}, matrix.matrix)

    assert run.exit_code == 0, run.log
    status = publisher.fake.statuses(publisher.head)[-1]
    assert status.state == "error"
    assert status.description.startswith("No result for services/accounts: its verify job left no artifact; all ")
    assert len(summaries(publisher.fake, "services/billing/alembic.ini")) == 1  # what ran is still published
    assert run.outputs["result"] == "error"


def test_a_job_that_could_not_run_makes_the_status_an_error_naming_its_project(publisher, matrix):
    name, data = matrix.artifact_of("services/billing")
    could_not_run = zip_of({"publish-request.json": json.dumps({
        "kind": "migbot-publish-request", "version": 1, "event": "pull_request", "pull_request": PR,
        "project": "services/accounts", "base_sha": publisher.base, "head_sha": publisher.head,
        "result": "error", "error": "The install command failed with exit code 7."})})
    run = publish(publisher, {name: data, "migbot-report-services-accounts": could_not_run}, matrix.matrix)

    assert run.exit_code == 0, run.log
    status = publisher.fake.statuses(publisher.head)[-1]
    assert status.state == "error"
    assert status.description.startswith("Could not run services/accounts: The install command failed")
    assert summaries(publisher.fake, "services/accounts/alembic.ini") == []


def test_a_change_that_touches_no_project_gets_a_success_status(publisher):
    run = publish(publisher, {}, {"include": []})

    assert run.exit_code == 0, run.log
    status = publisher.fake.statuses(publisher.head)[-1]
    assert (status.state, status.description) == ("success", "No Alembic project is touched by this change")
    assert [c for c in publisher.fake.comments(PR)] == []
    assert run.outputs["result"] == "skipped"


def test_two_results_for_one_project_are_refused(publisher, matrix):
    name, data = matrix.artifact_of("services/billing")
    run = publish(publisher, {name: data, name + "-again": data}, None)

    assert run.exit_code == 1, run.log
    status = publisher.fake.statuses(publisher.head)[-1]
    assert status.state == "error" and "more than one report holds services/billing/alembic.ini" in status.description
    assert summaries(publisher.fake, "services/billing/alembic.ini") == []


def test_every_artifact_is_checked_against_the_run(publisher, matrix):
    name, data = matrix.artifact_of("services/billing")
    other = "b" * 40
    files = {n: json.loads(d) for n, d in unzip(data).items()}
    files["report.json"]["refs"]["head"] = files["publish-request.json"]["head_sha"] = other
    tampered = zip_of({n: json.dumps(d) for n, d in files.items()})
    accounts, good = matrix.artifact_of("services/accounts")
    run = publish(publisher, {name: tampered, accounts: good}, matrix.matrix)

    assert run.exit_code == 1, run.log
    status = publisher.fake.statuses(publisher.head)[-1]
    assert status.state == "error"
    assert status.description.startswith(f"Refused the verify run's artifact: {name}: the artifact is for commit")
    assert [c for c in publisher.fake.comments(PR)] == []


# --- the example workflow ---------------------------------------------------------------------------
def test_the_example_workflow_plans_verifies_each_project_and_feeds_the_publish_workflow():
    workflow = yaml.safe_load((ROOT / ".github/workflows/migbot-monorepo-verify.yml").read_text())
    publish_workflow = yaml.safe_load((ROOT / ".github/workflows/migbot-publish.yml").read_text())
    assert workflow["name"] in publish_workflow[True]["workflow_run"]["workflows"]
    assert workflow["permissions"] == {"contents": "read"}
    plan_job, verify = workflow["jobs"]["plan"], workflow["jobs"]["verify-migrations"]
    assert "migbot plan" in plan_job["steps"][1]["run"]
    assert plan_job["steps"][2]["with"]["name"] == "migbot-plan"
    assert verify["needs"] == "plan"
    assert verify["strategy"] == {"fail-fast": False, "matrix": "${{ fromJSON(needs.plan.outputs.matrix) }}"}
    uses = [step.get("uses", "").partition("@")[0] for step in verify["steps"]]
    assert uses == ["actions/checkout", "actions/cache", "migbot/migbot", "actions/upload-artifact"]
    cache, migbot, upload = verify["steps"][1:]
    assert cache["with"]["path"] == "${{ runner.temp }}/_github_home/.cache/migbot/bases"
    assert migbot["with"]["mode"] == "verify" and migbot["with"]["project"] == "${{ matrix.project }}"
    assert upload["with"]["name"] == "${{ matrix.artifact }}" and upload["if"] == "always()"
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            action, _, ref = step.get("uses", "").partition("@")
            if action.startswith("actions/"):
                assert len(ref) == 40, f"{action} is not pinned to a full commit SHA"
