"""Running `migbot action` the way a workflow step does, against the fake GitHub API.

A scenario is a repository on GitHub (a bare `origin` with refs/pull/N/head, as GitHub
keeps them), the runner's checkout of it (the workspace), a real webhook payload from
../shared/github/webhooks adjusted to this repository, and the GITHUB_*/INPUT_* environment.
"""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from conftest import Repo, make_repo, run_migbot
from shared_data import WEBHOOKS
from fakegithub import DEFAULT_TOKEN, FakeGitHub
from fakegithub.webhooks import workflow_run_completed

PR = 7
RUN_ID = "4242"
VERIFY_RUN_ID = 5151  # the verify workflow's run, whose artifact a publish run reads
ARTIFACT = "migbot-report"
FORK_OWNER = "octocat"  # FakeGitHub.add_pull's default author: a fork's head repository is theirs


@dataclass
class ActionRun:
    exit_code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    workspace: Path

    @property
    def log(self) -> str:
        return self.stdout + self.stderr

    def report(self) -> dict:
        return json.loads((self.workspace / self.outputs["report"]).read_text())


def webhook(name: str, full_name: str, *, number: int = PR, base: tuple[str, str] | None = None,
            head: tuple[str, str] | None = None, head_repo: str | None = None, title: str | None = None) -> dict:
    """A real payload from ../shared/github/webhooks, moved to `full_name` and, for pull request
    events, to the given (sha, ref) of base and head."""
    payload = json.loads((WEBHOOKS / name).read_text())
    owner, repo = full_name.split("/")
    payload["repository"].update(full_name=full_name, name=repo)
    payload["repository"]["owner"]["login"] = owner
    if "pull_request" in payload:
        pr = payload["pull_request"]
        pr.update(number=number, title=title or pr["title"])
        pr["head"].update(sha=head[0], ref=head[1])
        pr["head"]["repo"]["full_name"] = head_repo or full_name
        pr["base"].update(sha=base[0], ref=base[1])
        pr["base"]["repo"]["full_name"] = full_name
    return payload


def upload_artifact(folder: Path) -> bytes:
    """The zip actions/upload-artifact makes of a folder: its files, named relative to it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def zip_of(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def read_outputs(path: Path) -> dict[str, str]:
    """Parse GITHUB_OUTPUT's `name<<DELIMITER` blocks the way the runner does."""
    values, lines = {}, path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        name, delimiter = lines[i].split("<<", 1)
        end = lines.index(delimiter, i + 1)
        values[name] = "\n".join(lines[i + 1:end])
        i = end + 1
    return values


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"git {args}: {result.stderr}"
    return result.stdout.strip()


@dataclass
class Scenario:
    tmp: Path
    fake: FakeGitHub
    repo: Repo = field(init=False)

    def __post_init__(self):
        self.repo = make_repo(self.tmp / "author")  # the PR author's clone: main, then a branch
        self.base = self.repo.git("rev-parse", "HEAD")
        self.repo.branch("feature")
        self.head_ref = "feature"

    # --- GitHub's side ------------------------------------------------------------------
    def open_pull(self, *, fork: bool = False, title: str = "Add orders", head_ref: str | None = None) -> str:
        """Push main and the branch to origin, as refs/pull/7/head; returns the head SHA."""
        self.head = self.repo.git("rev-parse", "HEAD")
        self.head_ref = head_ref or self.head_ref
        origin = self.tmp / "origin.git"
        if not origin.exists():
            git(self.tmp, "init", "-q", "--bare", "-b", "main", str(origin))
        git(self.repo.path, "push", "-q", "--force", str(origin), f"{self.base}:refs/heads/main",
            f"{self.head}:refs/pull/{PR}/head")
        self.fake.add_pull(PR, self.head, self.base, self.head_ref, "main", fork=fork, title=title)
        return self.head

    # --- the runner's side ----------------------------------------------------------------
    def checkout(self, ref: str, *, depth: int | None = None) -> Path:
        """actions/checkout: a clone of origin at `ref` (fetch-depth: 0 unless depth is given)."""
        workspace = self.tmp / "workspace"
        if workspace.exists():
            subprocess.run(["rm", "-rf", str(workspace)], check=True)
        origin = self.tmp / "origin.git"
        source = f"file://{origin}" if depth else str(origin)
        git(self.tmp, "clone", "-q", *(["--depth", str(depth), "--no-single-branch"] if depth else []),
            source, str(workspace))
        git(workspace, "fetch", "-q", *(["--depth", str(depth)] if depth else []), "origin", ref)
        git(workspace, "checkout", "-q", "--detach", "FETCH_HEAD")
        return workspace

    def event(self, name: str, **changes) -> dict:
        """A real payload, moved to this repository and pull request."""
        payload = webhook(name, self.fake.full_name, number=PR, base=(self.base, "main"),
                          head=(self.head, self.head_ref), head_repo=changes.pop("head_repo", None),
                          title=changes.pop("title", None))
        if "issue" in payload:
            payload["issue"]["number"] = PR
        if "comment" in payload:
            payload["comment"]["body"] = changes.pop("body", payload["comment"]["body"])
            payload["comment"]["user"]["login"] = changes.pop("author", payload["comment"]["user"]["login"])
        assert not changes, f"unused changes: {changes}"
        return payload

    def run(self, event_name: str, payload: dict, workspace: Path, *, sha: str | None = None,
            token: str = DEFAULT_TOKEN, inputs: dict[str, str] | None = None, timeout: float = 300) -> ActionRun:
        runner = self.tmp / "runner"
        runner.mkdir(exist_ok=True)
        event_path, output, summary = runner / "event.json", runner / "output", runner / "summary.md"
        event_path.write_text(json.dumps(payload))
        for path in (output, summary):
            path.write_text("")
        env = {
            "GITHUB_ACTIONS": "true", "CI": "true",
            "GITHUB_EVENT_NAME": event_name, "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": self.fake.full_name, "GITHUB_API_URL": self.fake.url,
            "GITHUB_SERVER_URL": "https://github.example.com", "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_RUN_ID": RUN_ID,
            "GITHUB_SHA": sha or git(workspace, "rev-parse", "HEAD"), "GITHUB_TOKEN": "",
            "INPUT_GITHUB-TOKEN": token,
            **{f"INPUT_{name.upper()}": value for name, value in (inputs or {}).items()},
        }
        result = run_migbot("action", env=env, timeout=timeout, json_report=False)
        return ActionRun(result.exit_code, result.stdout, result.stderr, read_outputs(output),
                         summary.read_text(), workspace)

    @staticmethod
    def git_head(workspace: Path) -> str:
        return git(workspace, "rev-parse", "HEAD")

    # --- the usual flows -------------------------------------------------------------------
    def pull_request(self, action: str = "opened", **kwargs) -> ActionRun:
        workspace = self.checkout(f"refs/pull/{PR}/head")
        payload = self.event(f"pull_request/{action}.payload.json",
                             **{k: kwargs.pop(k) for k in ("head_repo", "title") if k in kwargs})
        return self.run("pull_request", payload, workspace, **kwargs)

    def comment(self, body: str, author: str = "maintainer", **kwargs) -> ActionRun:
        """A new comment on the PR, and the workflow run it starts."""
        workspace = self.checkout("main")  # comment events check out the default branch
        payload = self.event("issue_comment-on-pull-request/created.payload.json", body=body, author=author)
        payload["comment"]["id"] = self.comment_id = self.fake.add_comment(PR, body, login=author)
        return self.run("issue_comment", payload, workspace, **kwargs)

    # --- the split setup: a verify workflow, then a publish workflow on workflow_run ----------------
    def verify_job(self, action: str = "opened", **kwargs) -> ActionRun:
        """`mode: verify` on a pull_request event: the pull request's head checked out, a read-only token."""
        self.fake.add_token("ghs_read_only_token", "github-actions[bot]", read_only=True)
        kwargs.setdefault("token", "ghs_read_only_token")
        kwargs["inputs"] = {"mode": "verify", **kwargs.get("inputs", {})}
        return self.pull_request(action, **kwargs)

    def publish_job(self, artifact: bytes | None, *, head: str | None = None, fork: bool = False,
                    conclusion: str = "success", listed: bool | None = None, workspace: Path | None = None,
                    event: str = "pull_request", size_in_bytes: int | None = None, expired: bool = False,
                    **kwargs) -> ActionRun:
        """`mode: publish` on the verify run's workflow_run event, with `artifact` (None: the run left none).

        listed: whether GitHub names the pull request in workflow_run.pull_requests (never for a fork)."""
        head = head or self.head
        self.fake.add_run(VERIFY_RUN_ID)
        if artifact is not None:
            self.fake.add_artifact(VERIFY_RUN_ID, ARTIFACT, artifact, head_sha=head, size_in_bytes=size_in_bytes,
                                   expired=expired)
        listed = (not fork) if listed is None else listed
        pulls = [{"number": PR, "head_sha": head, "head_ref": self.head_ref}] if listed and event == "pull_request" else []
        payload = workflow_run_completed(self.fake, run_id=VERIFY_RUN_ID, head_sha=head, head_branch=self.head_ref,
                                         event=event, conclusion=conclusion,
                                         head_owner=FORK_OWNER if fork else None, pulls=pulls)
        if workspace is None:  # the publish job checks nothing out
            workspace = self.tmp / "publish-workspace"
            workspace.mkdir(exist_ok=True)
        kwargs["inputs"] = {"mode": "publish", **kwargs.get("inputs", {})}
        return self.run("workflow_run", payload, workspace, sha=self.base, **kwargs)

    @property
    def verify_run_url(self) -> str:
        return f"https://github.com/{self.fake.full_name}/actions/runs/{VERIFY_RUN_ID}"
