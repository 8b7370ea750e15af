"""What an event asks of migbot: verify a pull request, answer a command, or nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migbot.errors import UsageError
from migbot.github.commands import Command, parse_command

PULL_REQUEST_ACTIONS = ("opened", "synchronize", "reopened", "ready_for_review")
# single: verify and publish in one job (the token can write while the pull request's code runs);
# verify: run the code with a read-only token and write the result to a folder, for an artifact;
# publish: on workflow_run, publish a verify run's artifact, running no code of the project.
MODES = ("single", "verify", "publish")
VERIFY_EVENTS = ("pull_request", "merge_group")  # the events a verify run can come from


@dataclass
class PullRequest:
    number: int
    base_sha: str
    head_sha: str
    base_ref: str
    head_ref: str
    fork: bool
    title: str = ""

    @classmethod
    def from_payload(cls, pr: dict[str, Any], repository: str) -> PullRequest:
        head_repo = (pr.get("head") or {}).get("repo") or {}
        return cls(
            number=pr["number"],
            base_sha=pr["base"]["sha"],
            head_sha=pr["head"]["sha"],
            base_ref=pr["base"]["ref"],
            head_ref=pr["head"]["ref"],
            # A deleted fork leaves head.repo null: still not this repository.
            fork=head_repo.get("full_name") != repository,
            title=pr.get("title") or "",
        )


@dataclass
class VerifyPull:
    pull: PullRequest


@dataclass
class VerifyCommits:
    """A merge queue's group: base and head commits, no PR to comment on."""

    base_sha: str
    head_sha: str
    head_ref: str


@dataclass
class CommentCommand:
    number: int
    comment_id: int
    author: str
    command: Command


@dataclass
class VerifyRun:
    """A finished run of the verify workflow (workflow_run completed), as GitHub describes it.

    Where to publish comes from here, never from the run's artifact: the head commit, and the
    pull requests GitHub links to the run (this repository's only, with that head)."""

    run_id: int
    html_url: str
    event: str  # pull_request or merge_group
    conclusion: str | None
    head_sha: str
    head_branch: str
    head_owner: str  # the head repository's owner: a fork's, for a pull request from a fork
    pull_numbers: list[int]


@dataclass
class Ignore:
    reason: str


Trigger = VerifyPull | VerifyCommits | CommentCommand | VerifyRun | Ignore


def read_trigger(event_name: str, event: dict[str, Any], repository: str, mode: str = "single") -> Trigger:
    action = event.get("action")
    if event_name == "pull_request_target":
        raise UsageError("migbot does not run on pull_request_target: that event holds a write token while "
                         "migbot would run the pull request's code.",
                         hint="Trigger it on pull_request (and issue_comment for /migbot commands) instead, or "
                         "split it into a verify and a publish workflow (see docs/action.md).")
    if event_name == "workflow_run":
        if mode != "publish":
            raise UsageError(f"migbot runs on workflow_run only as `mode: publish`, not `mode: {mode}`.",
                             hint="Set `mode: publish` in the publish workflow's `with:` block (see docs/action.md).")
        return _workflow_run_trigger(event, repository)
    if mode == "publish" and event_name in VERIFY_EVENTS:
        raise UsageError(f"`mode: publish` runs no verification, so it does nothing on {event_name}.",
                         hint="Run `mode: verify` on pull_request and merge_group, and `mode: publish` on "
                         "workflow_run (see docs/action.md).")
    if mode == "verify" and event_name == "issue_comment":
        return Ignore("`mode: verify` answers no comments: the publish workflow answers /migbot commands")
    if event_name == "pull_request":
        if action not in PULL_REQUEST_ACTIONS:
            return Ignore(f"pull_request {action}: migbot verifies on {', '.join(PULL_REQUEST_ACTIONS)}")
        return VerifyPull(PullRequest.from_payload(event["pull_request"], repository))
    if event_name == "merge_group":
        group = event.get("merge_group") or {}
        if action != "checks_requested" or not group.get("head_sha"):
            return Ignore(f"merge_group {action}: nothing to verify")
        return VerifyCommits(group["base_sha"], group["head_sha"], group.get("head_ref") or group["head_sha"])
    if event_name == "issue_comment":
        return _comment_trigger(event)
    return Ignore(f"migbot does nothing on {event_name} events; it runs on pull_request, issue_comment "
                  "and merge_group, and on workflow_run as `mode: publish`")


def _workflow_run_trigger(event: dict[str, Any], repository: str) -> Trigger:
    if event.get("action") != "completed":
        return Ignore(f"workflow_run {event.get('action')}: migbot publishes a run once it has completed")
    run = event.get("workflow_run") or {}
    if run.get("event") not in VERIFY_EVENTS:
        return Ignore(f"the workflow run was triggered by {run.get('event')}, not by {' or '.join(VERIFY_EVENTS)}")
    this = event.get("repository") or {}
    if ((run.get("repository") or {}).get("full_name") or "").lower() != repository.lower():
        return Ignore("the workflow run belongs to another repository")
    head_sha = run.get("head_sha") or ""
    head_repo = run.get("head_repository") or {}
    # GitHub lists the pull requests whose head is the run's branch: for a fork's branch none, and
    # sometimes pull requests of other repositories (a fork's own, with this branch as its head).
    numbers = sorted({p["number"] for p in run.get("pull_requests") or []
                      if ((p.get("base") or {}).get("repo") or {}).get("id") == this.get("id")
                      and (p.get("head") or {}).get("sha") == head_sha})
    return VerifyRun(run_id=int(run["id"]), html_url=run.get("html_url") or "", event=run["event"],
                     conclusion=run.get("conclusion"), head_sha=head_sha, head_branch=run.get("head_branch") or "",
                     head_owner=(head_repo.get("owner") or {}).get("login") or "", pull_numbers=numbers)


def _comment_trigger(event: dict[str, Any]) -> Trigger:
    if event.get("action") != "created":
        return Ignore(f"issue_comment {event.get('action')}: only new comments can hold a command")
    issue = event.get("issue") or {}
    if not issue.get("pull_request"):
        return Ignore("a comment on an issue, not on a pull request")
    comment = event.get("comment") or {}
    command = parse_command(comment.get("body") or "")
    if command is None:
        return Ignore("the comment's first line is not a /migbot command")
    return CommentCommand(number=issue["number"], comment_id=comment["id"],
                          author=(comment.get("user") or {}).get("login", ""), command=command)
