"""The REST operations the fake implements, keyed by GitHub's operationId, with GitHub's rules."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from .payloads import Payloads
from .reply import ApiError, Reply
from .state import (
    PERMISSION_OF_ROLE,
    Artifact,
    Comment,
    Pull,
    Reaction,
    State,
    Status,
    Token,
)

MAX_COMMENT_LENGTH = 65536
MAX_STATUS_DESCRIPTION = 140
MAX_STATUSES_PER_CONTEXT = 1000
NOT_ACCESSIBLE = "Resource not accessible by integration"


@dataclass
class Call:
    state: State
    payloads: Payloads
    token: Token
    path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any


def get_repository(call: Call) -> Reply:
    if call.state.users[call.token.login].type == "Bot":
        role = "read" if call.token.read_only else "write"  # what the installation token may do
    else:
        role = call.state.role(call.token.login)
    return Reply(200, call.payloads.repository(role))


def get_pull(call: Call) -> Reply:
    pull = call.state.pulls.get(int(call.params["pull_number"]))
    if pull is None:
        raise ApiError(404, "Not Found")
    return Reply(200, call.payloads.pull(pull))


def list_pulls(call: Call) -> Reply:
    """GET /pulls: `state` (open by default), `head` as "owner:branch" (a fork's owner for its branch),
    `base`; newest first, as GitHub sorts by creation."""
    state, head, base = (call.query.get(name, [default])[-1] for name, default in
                         (("state", "open"), ("head", None), ("base", None)))
    pulls = sorted(call.state.pulls.values(), key=lambda p: p.number, reverse=True)
    if state != "all":
        pulls = [p for p in pulls if p.state == state]
    if head is not None:
        owner, _, ref = head.partition(":")
        if not ref:  # GitHub wants owner:ref; a bare ref matches nothing
            pulls = []
        pulls = [p for p in pulls if _head_owner(call.state, p).lower() == owner.lower() and p.head_ref == ref]
    if base is not None:
        pulls = [p for p in pulls if p.base_ref == base]
    page, link = _paginate(call, pulls)
    return Reply(200, [call.payloads.pull_simple(p) for p in page], {"link": link} if link else {})


def list_run_artifacts(call: Call) -> Reply:
    run_id = int(call.params["run_id"])
    if run_id not in call.state.runs:
        raise ApiError(404, "Not Found")
    artifacts = sorted((a for a in call.state.artifacts.values() if a.run_id == run_id), key=lambda a: a.id)
    if "name" in call.query:
        artifacts = [a for a in artifacts if a.name == call.query["name"][-1]]
    page, link = _paginate(call, artifacts)
    return Reply(200, {"total_count": len(artifacts), "artifacts": [call.payloads.artifact(a) for a in page]},
                 {"link": link} if link else {})


def download_artifact(call: Call) -> Reply:
    """A 302 to a signed link on another host (GitHub's is blob storage, valid for a minute); the
    link itself is the authorization there."""
    artifact = _artifact(call)
    if call.params["archive_format"] != "zip":
        raise ApiError(404, "Not Found")
    if artifact.expired:
        raise ApiError(410, "Artifact has expired")
    key = secrets.token_urlsafe(16)
    call.state.blob_links[key] = artifact.id
    return Reply(302, None, {"location": f"{call.state.blob_base}/artifacts/{artifact.id}/{key}.zip"})


def list_comments(call: Call) -> Reply:
    number = _issue_number(call)
    comments = sorted((c for c in call.state.comments.values() if c.issue_number == number), key=lambda c: c.id)
    if "since" in call.query:
        since = datetime.fromisoformat(call.query["since"][-1])
        comments = [c for c in comments if datetime.fromisoformat(c.updated_at) >= since]
    page, link = _paginate(call, comments)
    return Reply(200, [call.payloads.comment(c) for c in page], {"link": link} if link else {})


def create_comment(call: Call) -> Reply:
    number = _issue_number(call)
    _check_comment_length(call.body["body"])
    now = call.state.now()
    comment = Comment(call.state.new_id(), number, call.body["body"], call.token.login, now, now)
    call.state.comments[comment.id] = comment
    data = call.payloads.comment(comment)
    return Reply(201, data, {"location": data["url"]})


def get_comment(call: Call) -> Reply:
    return Reply(200, call.payloads.comment(_comment(call)))


def update_comment(call: Call) -> Reply:
    comment = _comment(call)
    _check_comment_length(call.body["body"])
    comment = dataclasses.replace(comment, body=call.body["body"], updated_at=call.state.now(after=comment.updated_at))
    call.state.comments[comment.id] = comment
    return Reply(200, call.payloads.comment(comment))


def create_comment_reaction(call: Call) -> Reply:
    comment = _comment(call)
    content = call.body["content"]
    for reaction in call.state.reactions:
        if (reaction.comment_id, reaction.login, reaction.content) == (comment.id, call.token.login, content):
            return Reply(200, call.payloads.reaction(reaction))
    reaction = Reaction(call.state.new_id(), comment.id, call.token.login, content, call.state.now())
    call.state.reactions.append(reaction)
    return Reply(201, call.payloads.reaction(reaction))


def get_collaborator_permission(call: Call) -> Reply:
    caller = call.state.users[call.token.login]
    if caller.type == "User" and PERMISSION_OF_ROLE[call.state.role(caller.login)] not in ("admin", "write"):
        raise ApiError(403, "Must have push access to view collaborator permission.")
    return Reply(200, call.payloads.permission(call.params["username"]))


def create_status(call: Call) -> Reply:
    sha, body = call.params["sha"], call.body
    description = body.get("description")
    if description is not None and len(description) > MAX_STATUS_DESCRIPTION:
        raise ApiError(422, "Validation Failed", [{
            "resource": "Status", "code": "custom", "field": "description",
            "message": f"description is too long (maximum is {MAX_STATUS_DESCRIPTION} characters)",
        }])
    if sha not in call.state.commits:
        raise ApiError(422, f"No commit found for SHA: {sha}")
    context = body.get("context", "default")
    if sum((s.sha, s.context.lower()) == (sha, context.lower()) for s in call.state.statuses) >= \
            MAX_STATUSES_PER_CONTEXT:
        raise ApiError(422, "This SHA and context has reached the maximum number of statuses.")
    status = Status(call.state.new_id(), sha, body["state"], context, description, body.get("target_url"),
                    call.token.login, call.state.now())
    call.state.statuses.append(status)
    data = call.payloads.status(status)
    return Reply(201, data, {"location": data["url"]})


def get_authenticated_user(call: Call) -> Reply:
    if call.state.users[call.token.login].type == "Bot":
        raise ApiError(403, NOT_ACCESSIBLE)
    return Reply(200, call.payloads.authenticated_user(call.token.login))


ENDPOINTS: dict[str, Callable[[Call], Reply]] = {
    "repos/get": get_repository,
    "pulls/get": get_pull,
    "pulls/list": list_pulls,
    "actions/list-workflow-run-artifacts": list_run_artifacts,
    "actions/download-artifact": download_artifact,
    "issues/list-comments": list_comments,
    "issues/create-comment": create_comment,
    "issues/get-comment": get_comment,
    "issues/update-comment": update_comment,
    "reactions/create-for-issue-comment": create_comment_reaction,
    "repos/get-collaborator-permission-level": get_collaborator_permission,
    "repos/create-commit-status": create_status,
    "users/get-authenticated": get_authenticated_user,
}


def _issue_number(call: Call) -> int:
    number = int(call.params["issue_number"])
    if number not in call.state.pulls:
        raise ApiError(404, "Not Found")
    return number


def _head_owner(state: State, pull: Pull) -> str:
    return pull.author if pull.fork else state.owner


def _artifact(call: Call) -> Artifact:
    artifact = call.state.artifacts.get(int(call.params["artifact_id"]))
    if artifact is None:
        raise ApiError(404, "Not Found")
    return artifact


def _comment(call: Call) -> Comment:
    comment = call.state.comments.get(int(call.params["comment_id"]))
    if comment is None:
        raise ApiError(404, "Not Found")
    return comment


def _check_comment_length(body: str) -> None:
    if len(body) > MAX_COMMENT_LENGTH:
        raise ApiError(422, "Validation Failed", [{
            "resource": "IssueComment", "code": "unprocessable", "field": "data",
            "message": f"Body is too long (maximum is {MAX_COMMENT_LENGTH} characters)",
        }])


def _paginate(call: Call, items: list[Any]) -> tuple[list[Any], str | None]:
    """One page of `items` and GitHub's Link header: rel prev, next, last, first, in that order."""
    per_page = _query_int(call, "per_page", 30)
    per_page = 30 if per_page < 1 else min(per_page, 100)
    page = max(_query_int(call, "page", 1), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    kept = [(name, values[-1]) for name, values in call.query.items() if name != "page"]

    def url(number: int) -> str:
        return f"{call.payloads.base_url}{call.path}?{urlencode([*kept, ('page', number)])}"

    rels = []
    if page > 1:
        rels.append((min(page - 1, last), "prev"))
    if page < last:
        rels += [(page + 1, "next"), (last, "last")]
    if page > 1:
        rels.append((1, "first"))
    link = ", ".join(f'<{url(number)}>; rel="{rel}"' for number, rel in rels)
    return items[(page - 1) * per_page:page * per_page], link or None


def _query_int(call: Call, name: str, default: int) -> int:
    return int(call.query[name][-1]) if name in call.query else default
