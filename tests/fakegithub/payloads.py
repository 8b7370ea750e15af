"""Response bodies: the spec's own `components/examples`, re-pointed at the fake and filled from its state."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import quote

from .spec import Spec
from .state import (
    PERMISSION_OF_ROLE,
    ROLES,
    Artifact,
    Comment,
    Pull,
    Reaction,
    State,
    Status,
)

EXAMPLE_API = "https://api.github.com"
EXAMPLE_REPO = "octocat/Hello-World"
WEB = "https://github.com"
REACTION_CONTENTS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")


class Payloads:
    def __init__(self, spec: Spec, state: State, base_url: str):
        self.spec = spec
        self.state = state
        self.base_url = base_url

    @property
    def repo_api(self) -> str:
        return f"{self.base_url}/repos/{self.state.full_name}"

    def user(self, login: str) -> dict[str, Any]:
        user = self.state.user(login)
        data = self._example("issue-comment", EXAMPLE_REPO)["user"]
        for key, value in data.items():
            if isinstance(value, str):
                data[key] = value.replace("octocat", quote(login))  # github-actions%5Bbot%5D, as GitHub does
        data.update(login=login, id=user.id, node_id=_node_id(user.type, user.id), type=user.type, user_view_type="public",
                    avatar_url=f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
                    html_url=f"{WEB}/apps/{login.removesuffix('[bot]')}" if user.type == "Bot" else f"{WEB}/{login}")
        return data

    def authenticated_user(self, login: str) -> dict[str, Any]:
        data = self._example("private-user-response-with-public-and-private-profile-information", EXAMPLE_REPO)
        data.update(self.user(login), user_view_type="private", name=None, email=None, bio=None,
                    twitter_username=None)
        return data

    def repository(self, viewer_role: str) -> dict[str, Any]:
        data = self._example("full-repository-default-response", self.state.full_name)
        for nested in ("template_repository", "organization", "parent", "source"):
            data.pop(nested)
        self._fill_repository(data, self.state.owner, fork=False)
        # The spec's example lacks `language`, which its schema requires.
        data.update(language=None, permissions=_permissions(viewer_role))
        return data

    def pull(self, pull: Pull) -> dict[str, Any]:
        data = self._example("pull-request", self.state.full_name)
        api, html = f"{self.repo_api}/pulls/{pull.number}", f"{WEB}/{self.state.full_name}/pull/{pull.number}"
        issue = f"{self.repo_api}/issues/{pull.number}"
        statuses = f"{self.repo_api}/statuses/{pull.head_sha}"
        data.update(
            url=api, id=1_500_000_000 + pull.number, node_id=_node_id("PullRequest", pull.number),
            html_url=html, diff_url=f"{html}.diff", patch_url=f"{html}.patch", issue_url=issue,
            commits_url=f"{api}/commits", review_comments_url=f"{api}/comments",
            comments_url=f"{issue}/comments", statuses_url=statuses, number=pull.number, state=pull.state,
            locked=False, active_lock_reason=None, title=pull.title, user=self.user(pull.author), body=pull.body,
            labels=[], milestone=None, created_at=pull.created_at, updated_at=pull.created_at,
            closed_at=pull.created_at if pull.state == "closed" else None, merged_at=None, merge_commit_sha=None, assignee=None, assignees=[],
            requested_reviewers=[], requested_teams=[], author_association=self.association(pull.author),
            draft=pull.draft, merged=False, merged_by=None, mergeable_state="draft" if pull.draft else "clean",
            comments=sum(c.issue_number == pull.number for c in self.state.comments.values()),
            maintainer_can_modify=pull.fork,
        )
        head_owner = pull.author if pull.fork else self.state.owner
        data["head"].update(label=f"{head_owner}:{pull.head_ref}", ref=pull.head_ref, sha=pull.head_sha,
                            user=self.user(head_owner))
        self._fill_repository(data["head"]["repo"], head_owner, fork=pull.fork)
        data["base"].update(label=f"{self.state.owner}:{pull.base_ref}", ref=pull.base_ref, sha=pull.base_sha,
                            user=self.user(self.state.owner))
        self._fill_repository(data["base"]["repo"], self.state.owner, fork=False)
        links = {"self": api, "html": html, "issue": issue, "comments": f"{issue}/comments",
                 "review_comments": f"{api}/comments", "commits": f"{api}/commits", "statuses": statuses,
                 "review_comment": data["_links"]["review_comment"]["href"]}
        data["_links"] = {name: {"href": href} for name, href in links.items()}
        return data

    def pull_simple(self, pull: Pull) -> dict[str, Any]:
        """A pull request as GET /pulls lists it: the fields of pull-request-simple only."""
        fields = self.spec.document["components"]["schemas"]["pull-request-simple"]["properties"]
        data = self.pull(pull)
        return {key: value for key, value in data.items() if key in fields} | {"auto_merge": None}

    def artifact(self, artifact: Artifact) -> dict[str, Any]:
        data = self._example("artifact", self.state.full_name)
        api = f"{self.repo_api}/actions/artifacts/{artifact.id}"
        data.update(id=artifact.id, node_id=_node_id("Artifact", artifact.id), name=artifact.name,
                    size_in_bytes=artifact.size_in_bytes, url=api, archive_download_url=f"{api}/zip",
                    expired=artifact.expired, created_at=artifact.created_at, updated_at=artifact.created_at,
                    expires_at=artifact.created_at,  # (GitHub keeps them 90 days: no test looks)
                    digest=f"sha256:{hashlib.sha256(artifact.data).hexdigest()}",
                    workflow_run={"id": artifact.run_id, "repository_id": 1296269, "head_repository_id": 1296269,
                                  "head_branch": "main", "head_sha": artifact.head_sha})
        return data

    def comment(self, comment: Comment) -> dict[str, Any]:
        data = self._example("issue-comment", self.state.full_name)
        url = f"{self.repo_api}/issues/comments/{comment.id}"
        rollup = {content: 0 for content in REACTION_CONTENTS}
        for reaction in self.state.reactions:
            if reaction.comment_id == comment.id:
                rollup[reaction.content] += 1
        data.update(
            id=comment.id, node_id=_node_id("IssueComment", comment.id), url=url,
            html_url=f"{WEB}/{self.state.full_name}/pull/{comment.issue_number}#issuecomment-{comment.id}",
            body=comment.body, user=self.user(comment.login), created_at=comment.created_at,
            updated_at=comment.updated_at, issue_url=f"{self.repo_api}/issues/{comment.issue_number}",
            author_association=self.association(comment.login), performed_via_github_app=None,
            reactions={"url": f"{url}/reactions", "total_count": sum(rollup.values()), **rollup},
        )
        return data

    def reaction(self, reaction: Reaction) -> dict[str, Any]:
        data = self._example("reaction", self.state.full_name)
        data.update(id=reaction.id, node_id=_node_id("Reaction", reaction.id), user=self.user(reaction.login),
                    content=reaction.content, created_at=reaction.created_at)
        return data

    def status(self, status: Status) -> dict[str, Any]:
        data = self._example("status", self.state.full_name)
        creator = self.user(status.login)
        data.update(url=f"{self.repo_api}/statuses/{status.sha}", avatar_url=creator["avatar_url"], id=status.id,
                    node_id=_node_id("Status", status.id), state=status.state, description=status.description,
                    target_url=status.target_url, context=status.context, created_at=status.created_at,
                    updated_at=status.created_at, creator=creator)
        return data

    def permission(self, login: str) -> dict[str, Any]:
        data = self._example(
            "repository-collaborator-permission-response-if-user-has-admin-permissions", self.state.full_name)
        role = self.state.role(login)
        user = self.user(login)
        user.update(role_name=role, permissions=_permissions(role))
        data.update(permission=PERMISSION_OF_ROLE[role], role_name=role, user=user)
        return data

    def association(self, login: str) -> str:
        if login == self.state.owner:
            return "OWNER"
        return "COLLABORATOR" if self.state.roles.get(login, "none") != "none" else "NONE"

    def _fill_repository(self, data: dict[str, Any], owner: str, fork: bool) -> None:
        full_name = f"{owner}/{self.state.repo}"
        if full_name != self.state.full_name:
            _replace_strings(data, self.state.full_name, full_name)
        repo_id = 1296269 + (self.state.user(owner).id if fork else 0)
        data.update(id=repo_id, node_id=_node_id("Repository", repo_id), name=self.state.repo,
                    full_name=full_name, owner=self.user(owner), private=self.state.private, fork=fork,
                    default_branch=self.state.default_branch)
        if "visibility" in data:
            data["visibility"] = "private" if self.state.private else "public"

    def _example(self, name: str, full_name: str) -> Any:
        data = self.spec.example(name)
        _replace_strings(data, EXAMPLE_API, self.base_url)
        _replace_strings(data, EXAMPLE_REPO, full_name)
        return data


def _replace_strings(data: Any, old: str, new: str) -> None:
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        if isinstance(value, str):
            data[key] = value.replace(old, new)
        else:
            _replace_strings(value, old, new)


def _permissions(role: str) -> dict[str, bool]:
    ranks = ROLES[::-1]  # none < read < triage < write < maintain < admin
    rank = ranks.index(role)
    return {flag: rank >= ranks.index(needed) for flag, needed in
            (("admin", "admin"), ("maintain", "maintain"), ("push", "write"), ("triage", "triage"), ("pull", "read"))}


def _node_id(kind: str, number: int) -> str:
    """GitHub's legacy global node id, e.g. "MDEyOklzc3VlQ29tbWVudDE=" for IssueComment 1."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()
