"""The few GitHub REST calls the bot makes, through PyGithub, with retries and readable errors.

Server errors (5xx) and rate limits are retried with backoff by PyGithub's GithubRetry.
Creating a comment is the one write that is not safe to repeat blindly (a 502 can come
after GitHub stored it), so it goes through a client that retries rate limits only; the
sticky-comment logic looks again before it posts a second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from github import Auth, Github, GithubException, GithubRetry

from migbot import __version__
from migbot.errors import InfraError
from migbot.github.events import PullRequest

READ_ONLY_MESSAGE = "Resource not accessible by integration"
WRITE_PERMISSIONS = ("admin", "write")  # GitHub reports maintain as write, triage as read
MAX_RATE_LIMIT_WAIT = 600.0


class GitHubError(InfraError):
    def __init__(self, message: str, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class ReadOnlyToken(GitHubError):
    """A write answered 403 'Resource not accessible by integration': a fork PR's token, or a
    workflow without the permissions the bot needs."""


@dataclass
class Artifact:
    id: int
    name: str
    size: int
    expired: bool


@dataclass
class Comment:
    id: int
    body: str
    author: str
    _handle: object = None  # PyGithub's IssueComment, to edit without fetching it again


def _retry(*, server_errors: bool) -> GithubRetry:
    """Rate limits (403 with a rate-limit message, 429 with Retry-After) are always retried: the
    request was not carried out. Server errors and read timeouts only where repeating is safe."""
    return GithubRetry(total=5, backoff_factor=1.0, max_rate_limit_wait=MAX_RATE_LIMIT_WAIT,
                       status_forcelist=[429, *(range(500, 600) if server_errors else [])],
                       read=None if server_errors else 0,
                       allowed_methods={"GET", "POST", "PATCH", "PUT", "DELETE"})


class GitHubAPI:
    def __init__(self, api_url: str, token: str, repository: str):
        common = {"base_url": api_url, "auth": Auth.Token(token), "per_page": 100, "timeout": 30, "lazy": True,
                  "user_agent": f"migbot/{__version__}"}
        self.repository = repository
        self._github = Github(retry=_retry(server_errors=True), **common)
        self._repo = self._github.get_repo(repository)
        self._repo_once = Github(retry=_retry(server_errors=False), **common).get_repo(repository)
        self._token = token
        self._api_url = api_url
        # Who this token writes as, read from GitHub's answers to its writes (a status's creator, a
        # comment's or a reaction's user): the one reliable source for an App's installation token.
        self.actor: str | None = None

    # --- reads ----------------------------------------------------------------
    def pull(self, number: int) -> PullRequest:
        pr = self._call(f"read pull request #{number}", lambda: self._repo.get_pull(number).raw_data)
        return PullRequest.from_payload(pr, self.repository)

    def permission(self, login: str) -> str:
        return self._call(f"read {login}'s permission",
                          lambda: self._repo.get_collaborator_permission(login))

    def can_write(self, login: str) -> bool:
        return self.permission(login) in WRITE_PERMISSIONS

    def comments(self, number: int) -> Iterator[Comment]:
        """Every comment on the PR, oldest first, paging through all of them."""
        pages = self._call("list comments", lambda: iter(self._repo.get_issue(number).get_comments()))
        while True:
            item = self._call("list comments", lambda: next(pages, None))
            if item is None:
                return
            yield Comment(item.id, item.body or "", item.user.login if item.user else "", item)

    def open_pulls_with_head(self, head: str) -> list[PullRequest]:
        """Open pull requests whose head is `head` ("owner:branch"): a fork's, found by its branch."""
        pulls = self._call("list pull requests", lambda: [p.raw_data for p in self._repo.get_pulls(state="open",
                                                                                                   head=head)])
        return [PullRequest.from_payload(pr, self.repository) for pr in pulls]

    def run_artifacts(self, run_id: int, max_pages: int = 10) -> list[Artifact]:
        """Every artifact of a workflow run of this repository (a matrix uploads one per job), a page
        of 100 at a time."""
        url = f"/repos/{self.repository}/actions/runs/{run_id}/artifacts"
        found: list[Artifact] = []
        for page in range(1, max_pages + 1):
            _, data = self._call("list the verify run's artifacts", lambda page=page: (
                self._github.requester.requestJsonAndCheck("GET", url, parameters={"per_page": 100, "page": page})))
            items = [a for a in (data or {}).get("artifacts") or [] if isinstance(a, dict)]
            found += [Artifact(int(a["id"]), str(a.get("name")), int(a.get("size_in_bytes") or 0),
                               bool(a.get("expired"))) for a in items]
            if len(items) < 100:
                break
        return found

    def download_artifact(self, artifact_id: int, limit: int) -> bytes:
        """The artifact's zip. GitHub answers with a redirect to a short-lived signed URL on another host:
        that request goes without the token (the URL is its own authorization), and stops past `limit`."""
        url = f"/repos/{self.repository}/actions/artifacts/{artifact_id}/zip"
        what = "download the verify run's artifact"
        headers, _ = self._call(what, lambda: self._github.requester.requestJsonAndCheck("GET", url))
        location = (headers or {}).get("location") or ""
        target, api = urlsplit(location), urlsplit(self._api_url)
        if target.scheme != "https" and not (target.scheme == api.scheme == "http"):
            raise GitHubError(f"Could not {what}: GitHub redirected to {target.scheme or 'no'} URL, not https.")
        try:
            with requests.get(location, stream=True, timeout=60, allow_redirects=False,
                              headers={"User-Agent": f"migbot/{__version__}"}) as response:
                if response.status_code != 200:
                    raise GitHubError(f"Could not {what}: its download answered {response.status_code}.",
                                      response.status_code, hint="The artifact may have expired; re-run the "
                                      "verify workflow.")
                data = bytearray()
                for chunk in response.iter_content(chunk_size=65536):
                    data += chunk
                    if len(data) > limit:
                        break
                return bytes(data)
        except requests.RequestException as exc:
            raise GitHubError(f"Could not {what}: its download did not answer ({type(exc).__name__}).",
                              hint="Re-run the job.") from None

    def login(self) -> str | None:
        """The token's own login, or None for an Actions or App installation token (GitHub
        answers GET /user with 403 for those)."""
        try:
            return self._github.get_user().login
        except GithubException as exc:
            if exc.status in (401, 403, 404):
                return None
            raise self._error("read the token's user", exc) from None
        except requests.RequestException:
            return None

    # --- writes ---------------------------------------------------------------
    def react(self, number: int, comment_id: int, content: str) -> None:
        comment = self._repo.get_issue(number).get_comment(comment_id)
        reaction = self._call("react to the comment", lambda: comment.create_reaction(content))
        self._learn(reaction.user)

    def create_comment(self, number: int, body: str) -> Comment:
        issue = self._repo_once.get_issue(number)
        item = self._call("post a comment", lambda: issue.create_comment(body))
        author = self._learn(item.user)
        return Comment(item.id, item.body or "", author or "", item)

    def edit_comment(self, comment: Comment, body: str) -> None:
        self._call("edit the comment", lambda: comment._handle.edit(body))
        self._learn(comment._handle.user)

    def set_status(self, sha: str, state: str, description: str, target_url: str | None,
                   context: str = "migbot") -> None:
        if len(description) > 140:  # GitHub rejects longer descriptions
            description = description[:139] + "…"
        commit = self._repo.get_commit(sha)
        status = self._call(f"set the {context} status", lambda: commit.create_status(
            state=state, description=description, context=context,
            **({"target_url": target_url} if target_url else {})))
        self._learn(status.creator)

    def _learn(self, user) -> str | None:
        """Note the login GitHub says made a write (the token's own); never fails the write."""
        try:
            login = user.login if user is not None else None
        except Exception:  # noqa: BLE001 - an odd answer: learn nothing
            login = None
        if isinstance(login, str) and login:
            self.actor = login
            return login
        return None

    # --- errors ---------------------------------------------------------------
    def _call(self, what: str, fn):
        try:
            return fn()
        except GithubException as exc:
            raise self._error(what, exc) from None
        except requests.exceptions.RetryError:
            raise GitHubError(f"Could not {what}: GitHub kept answering with server errors or rate limits, "
                              "through every retry.", hint="GitHub may be having trouble; re-run the job.") from None
        except requests.RequestException as exc:
            raise GitHubError(f"Could not {what}: the GitHub API did not answer ({type(exc).__name__}).",
                              hint="Check GITHUB_API_URL, or re-run the job; migbot retried with backoff.") from None

    def _error(self, what: str, exc: GithubException) -> GitHubError:
        data = exc.data if isinstance(exc.data, dict) else {}
        message = str(data.get("message") or exc.data or "").replace(self._token, "***")[:300]
        errors = "; ".join(str(e.get("message") or e.get("code") or e) for e in data.get("errors") or []
                           if isinstance(e, dict))
        text = f"Could not {what}: GitHub answered {exc.status} {message}" + (f" ({errors})" if errors else "")
        if exc.status == 403 and READ_ONLY_MESSAGE.lower() in message.lower():
            return ReadOnlyToken(text, exc.status, hint="The token cannot write here. A pull request from a "
                                 "fork gets a read-only token; otherwise give the workflow `permissions: "
                                 "pull-requests: write, statuses: write`.")
        if exc.status == 401:
            return GitHubError(text, exc.status, hint="The token is invalid or expired; check the github-token input.")
        return GitHubError(text, exc.status)
