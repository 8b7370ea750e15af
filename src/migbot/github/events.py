"""What an event asks of migbot: verify a pull request, answer a command, or nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migbot.errors import UsageError
from migbot.github.commands import Command, parse_command

PULL_REQUEST_ACTIONS = ("opened", "synchronize", "reopened", "ready_for_review")


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
class Ignore:
    reason: str


Trigger = VerifyPull | VerifyCommits | CommentCommand | Ignore


def read_trigger(event_name: str, event: dict[str, Any], repository: str) -> Trigger:
    action = event.get("action")
    if event_name == "pull_request_target":
        raise UsageError("migbot does not run on pull_request_target: that event holds a write token while "
                         "migbot would run the pull request's code.",
                         hint="Trigger it on pull_request (and issue_comment for /migbot commands) instead.")
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
                  "and merge_group")


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
