"""Webhook payloads the shared folder has no real copy of, built from GitHub's own description.

../shared/github/webhooks holds no workflow_run payload, so `workflow_run_completed` builds one
from the OpenAPI description's `workflow-run` example and a real payload's repository and sender,
and checks it against the description's schema of the `workflow_run` `completed` webhook.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .fake import FakeGitHub
from .payloads import EXAMPLE_API, _replace_strings

EXAMPLE_REPO = "octo-org/octo-repo"  # the workflow-run example's repository
WEB = "https://github.com"


def workflow_run_completed(fake: FakeGitHub, *, run_id: int, head_sha: str, head_branch: str,
                           event: str = "pull_request", conclusion: str | None = "success",
                           head_owner: str | None = None, pulls: list[dict[str, Any]] = (),
                           path: str = ".github/workflows/migbot-verify.yml") -> dict[str, Any]:
    """The `workflow_run` event of a finished run of the verify workflow.

    head_owner: the head repository's owner (a fork's), else this repository's. pulls: what GitHub
    puts in `workflow_run.pull_requests`, each {"number", "head_sha", "head_ref"[, "base_repo_id"]}:
    for a fork's branch GitHub lists none."""
    from shared_data import WEBHOOKS

    real = json.loads((WEBHOOKS / "pull_request" / "opened.payload.json").read_text())
    owner, repo = fake.full_name.split("/")
    repository = real["repository"]
    _replace_strings(repository, real["repository"]["full_name"], fake.full_name)
    repository.update(full_name=fake.full_name, name=repo)
    repository["owner"]["login"] = owner
    head_owner = head_owner or owner
    head_full_name = f"{head_owner}/{repo}"

    run = fake.spec.example("workflow-run")
    _replace_strings(run, EXAMPLE_API, fake.url)
    _replace_strings(run, EXAMPLE_REPO, fake.full_name)
    api = f"{fake.url}/repos/{fake.full_name}/actions/runs/{run_id}"
    run.update(
        id=run_id, name="migbot verify", path=path, head_branch=head_branch, head_sha=head_sha, event=event,
        status="completed", conclusion=conclusion, display_title="Add orders",
        url=api, html_url=f"{WEB}/{fake.full_name}/actions/runs/{run_id}", jobs_url=f"{api}/jobs",
        logs_url=f"{api}/logs", artifacts_url=f"{api}/artifacts", cancel_url=f"{api}/cancel",
        rerun_url=f"{api}/rerun", previous_attempt_url=None,
        check_suite_url=f"{fake.url}/repos/{fake.full_name}/check-suites/{run['check_suite_id']}",
        workflow_url=f"{fake.url}/repos/{fake.full_name}/actions/workflows/{run['workflow_id']}",
        head_commit={**run["head_commit"], "id": head_sha},
        pull_requests=[_pull_ref(fake, repository["id"], p) for p in pulls],
        repository=_repository_lite(repository, fake.full_name, owner, fork=False),
        head_repository=_repository_lite(repository, head_full_name, head_owner, fork=head_owner != owner),
    )
    workflow = {
        "badge_url": f"{WEB}/{fake.full_name}/workflows/migbot%20verify/badge.svg",
        "created_at": "2026-01-02T12:00:00.000Z", "html_url": f"{WEB}/{fake.full_name}/blob/main/{path}",
        "id": run["workflow_id"], "name": "migbot verify", "node_id": "MDg6V29ya2Zsb3cxNTkwMzg=", "path": path,
        "state": "active", "updated_at": "2026-01-02T12:00:00.000Z",
        "url": run["workflow_url"],
    }
    payload = {"action": "completed", "repository": repository, "sender": real["sender"], "workflow": workflow,
               "workflow_run": run}
    _check(fake, payload)
    return payload


def _pull_ref(fake: FakeGitHub, repo_id: int, pull: dict[str, Any]) -> dict[str, Any]:
    number = pull["number"]
    repo = {"id": pull.get("base_repo_id", repo_id), "url": f"{fake.url}/repos/{fake.full_name}",
            "name": fake.full_name.split("/")[1]}
    return {"url": f"{fake.url}/repos/{fake.full_name}/pulls/{number}", "id": 1_500_000_000 + number,
            "number": number, "head": {"ref": pull["head_ref"], "sha": pull["head_sha"], "repo": repo},
            "base": {"ref": "main", "sha": pull.get("base_sha", "0" * 40), "repo": repo}}


def _repository_lite(template: dict[str, Any], full_name: str, owner: str, *, fork: bool) -> dict[str, Any]:
    """The webhook's "Repository Lite": the real repository's URLs, moved to full_name."""
    data = copy.deepcopy(template)
    _replace_strings(data, template["full_name"], full_name)
    data.update(full_name=full_name, fork=fork, owner={**data["owner"], "login": owner})
    return data


def _check(fake: FakeGitHub, payload: dict[str, Any]) -> None:
    schema = fake.spec.document["components"]["schemas"]["webhook-workflow-run-completed"]
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
              for e in fake.spec.validator(schema, False).iter_errors(payload)]
    assert not errors, "the workflow_run payload breaks GitHub's description:\n" + "\n".join(errors)
