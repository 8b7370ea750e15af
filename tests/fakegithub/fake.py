"""FakeGitHub: the tests' handle on the fake REST API — setup, failure injection, inspection."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

from .dispatch import Dispatcher
from .failures import Failures, rate_limited, secondary_rate_limited, server_error
from .server import BlobServer, Server
from .spec import load_spec, spec_path
from .state import (
    ACTIONS_BOT,
    ROLES,
    Artifact,
    BlobRequest,
    Comment,
    Pull,
    Reaction,
    RecordedRequest,
    State,
    Status,
    Token,
)

DEFAULT_TOKEN = "ghs_fake_write_token"


class FakeGitHub:
    """A strict stand-in for api.github.com serving one repository on 127.0.0.1.

    The default token `ghs_fake_write_token` is GitHub Actions' installation token: it acts as
    github-actions[bot] (a Bot, id 41898282) with write access. On a public repository (the default)
    everybody can read; `private=True` makes users without a role see permission "none".
    """

    def __init__(self, owner: str = "octo-org", repo: str = "demo", *, private: bool = False,
                 default_branch: str = "main", spec: Path | None = None):
        self.spec = load_spec(spec or spec_path())
        self._state = State(owner, repo, private, default_branch)
        self._failures = Failures()
        self._server: Server | None = None
        self._blobs: BlobServer | None = None
        self.add_token(DEFAULT_TOKEN, ACTIONS_BOT)

    # lifecycle

    def start(self) -> Self:
        self._server = Server()
        self._server.start(Dispatcher(self.spec, self._state, self._failures, self._server.url))
        self._blobs = BlobServer(self._state)  # another host (port): where artifact downloads redirect
        self._blobs.start()
        with self._state.lock:
            self._state.blob_base = self._blobs.url
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._blobs is not None:
            self._blobs.stop()
            self._blobs = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL for GITHUB_API_URL / PyGithub's base_url, e.g. http://127.0.0.1:43117."""
        assert self._server is not None, "FakeGitHub is not started"
        return self._server.url

    @property
    def full_name(self) -> str:
        return self._state.full_name

    def env(self, token: str = DEFAULT_TOKEN) -> dict[str, str]:
        """The variables GitHub Actions would give a step talking to this fake."""
        return {"GITHUB_API_URL": self.url, "GITHUB_TOKEN": token, "GITHUB_REPOSITORY": self.full_name}

    # setup

    def add_token(self, token: str, login: str, user_type: str = "Bot", read_only: bool = False) -> None:
        """Accept `token` as `login`; Bot tokens behave like installation tokens, User tokens like PATs."""
        with self._state.lock:
            user = self._state.user(login, user_type)
            assert user.type == user_type, f"{login} is already a {user.type}"
            self._state.tokens[token] = Token(login, read_only)

    def set_permission(self, login: str, role: str) -> None:
        """Give `login` a repository role; "none" still reads as "read" on a public repository."""
        assert role in ROLES, f"role must be one of {ROLES}"
        with self._state.lock:
            self._state.user(login)
            self._state.roles[login] = role

    def add_pull(self, number: int, head_sha: str, base_sha: str, head_ref: str, base_ref: str = "main", *,
                 fork: bool = False, draft: bool = False, title: str = "Add a migration", author: str = "octocat",
                 state: str = "open", body: str | None = None) -> None:
        """A pull request (and its issue); a fork's head repository is `<author>/<repo>` with fork: true."""
        with self._state.lock:
            self._state.user(author)
            self._state.pulls[number] = Pull(number, title, author, head_sha, head_ref, base_sha, base_ref, fork,
                                             draft, state, body, self._state.now())
            self._state.commits.update((head_sha, base_sha))

    def add_commit(self, sha: str) -> None:
        """Make `sha` known, so statuses can be set on it (GitHub answers 422 for unknown SHAs)."""
        with self._state.lock:
            self._state.commits.add(sha)

    def add_run(self, run_id: int) -> None:
        """A workflow run of this repository (its artifacts can then be listed)."""
        with self._state.lock:
            self._state.runs.add(run_id)

    def add_artifact(self, run_id: int, name: str, data: bytes, *, head_sha: str = "", expired: bool = False,
                     size_in_bytes: int | None = None) -> int:
        """An artifact of run `run_id` (added if new), holding the zip `data`; returns its id.
        size_in_bytes: what GitHub reports, when a test wants it to differ from len(data)."""
        with self._state.lock:
            self._state.runs.add(run_id)
            artifact = Artifact(self._state.new_id(), run_id, name, data,
                                len(data) if size_in_bytes is None else size_in_bytes, expired, head_sha,
                                self._state.now())
            self._state.artifacts[artifact.id] = artifact
            return artifact.id

    def add_comment(self, issue_number: int, body: str, login: str = "octocat", user_type: str = "User") -> int:
        """An existing comment on a pull request; returns its id."""
        with self._state.lock:
            assert issue_number in self._state.pulls, f"no pull request #{issue_number}; add_pull first"
            self._state.user(login, user_type)
            now = self._state.now()
            comment = Comment(self._state.new_id(), issue_number, body, login, now, now)
            self._state.comments[comment.id] = comment
            return comment.id

    # failure injection: the next `count` requests matching method ("*" for any) and
    # path_pattern (fnmatch over the request path, e.g. "/repos/*/statuses/*") get this answer

    def fail_next(self, method: str = "*", path_pattern: str = "*", status: int = 502, count: int = 1, *,
                  after_handling: bool = False) -> None:
        """A server error; 502/503/504 come as GitHub's HTML "Unicorn!" page, others as JSON.
        after_handling: the request still takes effect (GitHub timing out after storing a comment)."""
        self._failures.add(method, path_pattern, count, lambda: server_error(status), after_handling)

    def rate_limit_next(self, method: str = "*", path_pattern: str = "*", count: int = 1,
                        reset_in: int = 1) -> None:
        """Primary rate limit: 403, x-ratelimit-remaining 0, x-ratelimit-reset `reset_in` seconds ahead."""
        self._failures.add(method, path_pattern, count, lambda: rate_limited(reset_in))

    def secondary_rate_limit_next(self, method: str = "*", path_pattern: str = "*", count: int = 1,
                                  retry_after: int = 1, status: int = 403) -> None:
        """Secondary rate limit: 403 (or 429) with retry-after."""
        self._failures.add(method, path_pattern, count, lambda: secondary_rate_limited(status, retry_after))

    def after(self, operation_id: str, callback, nth: int = 1) -> None:
        """Run `callback` (a change on GitHub's side) once the `nth` request for `operation_id` (say
        "pulls/get") has been answered here, before the client receives that answer."""
        self._failures.add_after(operation_id, nth, callback)

    # inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def violations(self) -> list[str]:
        with self._state.lock:
            return list(self._state.violations)

    @property
    def unimplemented(self) -> list[str]:
        with self._state.lock:
            return list(self._state.unimplemented)

    def writes(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method != "GET"]

    def comments(self, issue_number: int) -> list[Comment]:
        with self._state.lock:
            return sorted((c for c in self._state.comments.values() if c.issue_number == issue_number),
                          key=lambda c: c.id)

    def statuses(self, sha: str) -> list[Status]:
        with self._state.lock:
            return [s for s in self._state.statuses if s.sha == sha]

    def reactions(self, comment_id: int) -> list[Reaction]:
        with self._state.lock:
            return [r for r in self._state.reactions if r.comment_id == comment_id]

    @property
    def blob_requests(self) -> list[BlobRequest]:
        """Requests to the artifact storage host (not the API): a download's second step."""
        with self._state.lock:
            return list(self._state.blob_requests)

    def assert_no_violations(self) -> None:
        problems = self.violations + [f"not implemented by the fake: {u}" for u in self.unimplemented]
        assert not problems, "requests GitHub would refuse:\n" + "\n".join(problems)
