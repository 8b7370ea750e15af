"""The workspace's git side: the commits a run needs, and the PR head for comment commands."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from migbot.discover.git import HISTORY_HINT
from migbot.errors import UsageError


def trust_workspace(environ=os.environ) -> None:
    """The runner's checkout belongs to the runner user while a Docker action runs as root, and
    git then refuses the repository ("dubious ownership"). Trust it for migbot's git calls
    only, through the environment rather than anyone's config file."""
    count = int(environ.get("GIT_CONFIG_COUNT", "0") or 0)
    environ[f"GIT_CONFIG_KEY_{count}"] = "safe.directory"
    environ[f"GIT_CONFIG_VALUE_{count}"] = "*"
    environ["GIT_CONFIG_COUNT"] = str(count + 1)


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    if check and result.returncode != 0:
        raise UsageError(f"git {' '.join(args)} failed in {repo}: "
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
    if is_shallow(repo) and _git(repo, "merge-base", *commits.values(), check=False).returncode != 0:
        raise UsageError("The checkout is shallow, and the base and head commits share no history in it.",
                         hint=HISTORY_HINT)


def fetch_pull(repo: Path, number: int, base_ref: str, head_sha: str) -> None:
    """A comment event's checkout is the default branch: fetch the PR's head (forks included,
    through refs/pull/N/head) and its base branch, with whole history, then check out the head."""
    refspecs = [f"+refs/pull/{number}/head:refs/remotes/origin/pull/{number}/head",
                f"+refs/heads/{base_ref}:refs/remotes/origin/{base_ref}"]
    _git(repo, "fetch", "--no-tags", "--quiet", *(["--unshallow"] if is_shallow(repo) else []), "origin", *refspecs)
    if not has_commit(repo, head_sha):
        raise UsageError(f"Fetched pull request #{number}, but its head {head_sha[:12]} is not in it "
                         "(was it force-pushed a moment ago?).", hint="Comment the command again.")
    _git(repo, "checkout", "--quiet", "--detach", head_sha)
