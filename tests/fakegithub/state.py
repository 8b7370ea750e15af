"""What the fake GitHub knows: repository, users, tokens, pulls, comments, and every request it saw.

Records are frozen; changes replace them, so snapshots handed to tests never move under them.
All access goes through `State.lock`, since the HTTP server answers from several threads.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ROLES = ("admin", "maintain", "write", "triage", "read", "none")
# The legacy `permission` GitHub derives from a role (see repos/get-collaborator-permission-level).
PERMISSION_OF_ROLE = {"admin": "admin", "maintain": "write", "write": "write",
                      "triage": "read", "read": "read", "none": "none"}
ACTIONS_BOT = "github-actions[bot]"
ACTIONS_BOT_ID = 41898282


@dataclass(frozen=True)
class User:
    login: str
    id: int
    type: str  # "User", "Bot" or "Organization"


@dataclass(frozen=True)
class Token:
    login: str
    read_only: bool


@dataclass(frozen=True)
class Pull:
    number: int
    title: str
    author: str
    head_sha: str
    head_ref: str
    base_sha: str
    base_ref: str
    fork: bool
    draft: bool
    state: str
    body: str | None
    created_at: str


@dataclass(frozen=True)
class Comment:
    id: int
    issue_number: int
    body: str
    login: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Reaction:
    id: int
    comment_id: int
    login: str
    content: str
    created_at: str


@dataclass(frozen=True)
class Status:
    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    login: str
    created_at: str


@dataclass(frozen=True)
class Artifact:
    """A workflow run's artifact: its zip, as actions/upload-artifact stored it."""

    id: int
    run_id: int
    name: str
    data: bytes
    size_in_bytes: int  # what GitHub reports (a test may make it differ from the data)
    expired: bool
    head_sha: str
    created_at: str


@dataclass(frozen=True)
class BlobRequest:
    """A request to the artifact storage host the download redirects to (not the API)."""

    path: str
    authorization: str | None
    status: int


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    token: str | None
    operation_id: str | None  # None when the path is not in GitHub's description


@dataclass
class State:
    owner: str
    repo: str
    private: bool
    default_branch: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, Pull] = field(default_factory=dict)
    commits: set[str] = field(default_factory=set)
    comments: dict[int, Comment] = field(default_factory=dict)
    reactions: list[Reaction] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    runs: set[int] = field(default_factory=set)  # workflow runs of this repository
    artifacts: dict[int, Artifact] = field(default_factory=dict)
    blob_base: str = ""  # the artifact storage host's URL, where downloads redirect
    blob_links: dict[str, int] = field(default_factory=dict)  # a signed link's key -> artifact id
    blob_requests: list[BlobRequest] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    unimplemented: list[str] = field(default_factory=list)
    _next_id: int = 1_000_000_001

    def __post_init__(self) -> None:
        self.users[ACTIONS_BOT] = User(ACTIONS_BOT, ACTIONS_BOT_ID, "Bot")
        self.user(self.owner)
        self.roles.setdefault(self.owner, "admin")

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    def user(self, login: str, user_type: str = "User") -> User:
        if login not in self.users:
            self.users[login] = User(login, 1000 + len(self.users), user_type)
        return self.users[login]

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def now(self, after: str | None = None) -> str:
        """GitHub's second-resolution timestamp, a second past `after` at least, so an edit moves updated_at."""
        moment = time.time()
        if after is not None:
            moment = max(moment, datetime.fromisoformat(after).timestamp() + 1)
        return datetime.fromtimestamp(int(moment), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def role(self, login: str) -> str:
        """The role GitHub would report: public repositories grant everybody read."""
        role = self.roles.get(login, "none")
        return "read" if role == "none" and not self.private else role
