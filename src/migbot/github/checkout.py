"""The workspace's git side: the commits a run needs, and the PR head for comment commands."""

from __future__ import annotations

import base64
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from migbot.discover.git import HISTORY_HINT, SAFE_GIT
from migbot.errors import InfraError, UsageError


def trust_workspace(environ=os.environ) -> None:
    """The runner's checkout belongs to the runner user while a Docker action runs as root, and
    git then refuses the repository ("dubious ownership"). Trust it for migbot's git calls
    only, through the environment rather than anyone's config file."""
    count = int(environ.get("GIT_CONFIG_COUNT", "0") or 0)
    environ[f"GIT_CONFIG_KEY_{count}"] = "safe.directory"
    environ[f"GIT_CONFIG_VALUE_{count}"] = "*"
    environ["GIT_CONFIG_COUNT"] = str(count + 1)


def _same_server(url: str, server_url: str) -> bool:
    """Is the remote `url` an https URL of the GitHub server the workflow runs on?"""
    remote, server = urlsplit(url), urlsplit(server_url)
    return remote.scheme == "https" and remote.hostname is not None and remote.hostname == server.hostname


def _git(repo: Path, *args: str, check: bool = True, config: dict[str, str] | None = None,
         error=UsageError, isolated: bool = False) -> subprocess.CompletedProcess:
    """config: extra git config for this call only, through the environment (not argv, which
    every process can read). isolated: the repository's own config only."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if isolated:
        env.update(GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1")
    for key, value in (config or {}).items():
        count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        env.update({f"GIT_CONFIG_KEY_{count}": key, f"GIT_CONFIG_VALUE_{count}": value,
                    "GIT_CONFIG_COUNT": str(count + 1)})
    result = subprocess.run([*SAFE_GIT, *args], cwd=repo, capture_output=True, text=True, env=env, check=False)
    if check and result.returncode != 0:
        raise error(f"git {' '.join(args)} failed in {repo}: "
                    f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else result.returncode}")
    return result


def has_commit(repo: Path, sha: str) -> bool:
    return _git(repo, "cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0


def is_shallow(repo: Path) -> bool:
    return _git(repo, "rev-parse", "--is-shallow-repository", check=False).stdout.strip() == "true"


def require_commits(repo: Path, commits: dict[str, str]) -> None:
    """commits: what → SHA. A clear answer when the checkout lacks them (fetch-depth: 1)."""
    if not (repo / ".git").exists() and _git(repo, "rev-parse", "--git-dir", check=False).returncode != 0:
        raise UsageError(f"{repo} is not a git checkout.",
                         hint="Add `- uses: actions/checkout@v4` with `fetch-depth: 0` before migbot's step.")
    missing = [f"the {what} commit {sha[:12]}" for what, sha in commits.items() if not has_commit(repo, sha)]
    if missing:
        shallow = " The checkout is shallow (actions/checkout fetches one commit unless told otherwise)." \
            if is_shallow(repo) else ""
        raise UsageError(f"The checkout does not have {' or '.join(missing)}.{shallow}", hint=HISTORY_HINT)
    # Both commits present but no common history in a shallow clone: the engine's
    # GitRepo.merge_base says so, with the same hint.


def fetch_pull(repo: Path, number: int, base_ref: str, head_sha: str, token: str, server_url: str) -> None:
    """A comment event's checkout is the default branch: fetch the PR's head (forks included,
    through refs/pull/N/head) and its base branch, with whole history, then check out the head.

    With `persist-credentials: false` (the example workflows) the checkout keeps no token, so the
    fetch gets it for this one call, the way actions/checkout sends it: only when origin is the
    GitHub server the workflow runs on, scoped to that URL, and with no global or system git
    config (a `url.*.insteadOf` there could send it elsewhere)."""
    refspecs = [f"+refs/pull/{number}/head:refs/remotes/origin/pull/{number}/head",
                f"+refs/heads/{base_ref}:refs/remotes/origin/{base_ref}"]
    has_auth = _git(repo, "config", "--get-regexp", r"^http\..*extraheader$", check=False).stdout.strip()
    origin = _git(repo, "config", "--local", "--get", "remote.origin.url", check=False).stdout.strip()
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    config = {}
    if not has_auth and _same_server(origin, server_url):
        config[f"http.{origin}.extraheader"] = f"AUTHORIZATION: basic {basic}"
    _git(repo, "fetch", "--no-tags", "--quiet", *(["--unshallow"] if is_shallow(repo) else []), "origin", *refspecs,
         config=config, error=InfraError, isolated=True)
    if not has_commit(repo, head_sha):
        raise UsageError(f"Fetched pull request #{number}, but its head {head_sha[:12]} is not in it "
                         "(was it force-pushed a moment ago?).", hint="Comment the command again.")
    _git(repo, "checkout", "--quiet", "--detach", head_sha)


@contextmanager
def restored_checkout(repo: Path):
    """Put the workspace back as the workflow checked it out: later steps of the job must not
    run the pull request's code (they hold the same write token)."""
    branch = _git(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False).stdout.strip()
    commit = _git(repo, "rev-parse", "HEAD", check=False).stdout.strip()
    try:
        yield
    finally:
        if commit:
            _git(repo, "checkout", "--quiet", "--force", *([branch] if branch else ["--detach", commit]),
                 check=False)
