"""The Actions environment `migbot action` runs in: GITHUB_* variables and the action's inputs.

Secrets (the token, the database URL) are taken out of os.environ as they are read, so
nothing migbot starts (the install command, the project's env.py, seeds) inherits them.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migbot.errors import UsageError
from migbot.github.events import MODES
from migbot.run.environment import allowlisted

FAIL_ON = ("error", "warning", "never")
COMMENT_MODES = ("changes", "always", "never")
# Variables a step's code could use to act as the workflow; the project's code never needs them.
_SECRET_VARIABLES = ("GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                     "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_CACHE_URL", "ACTIONS_RESULTS_URL")


SECRETS_FD = "MIGBOT_ACTION_SECRETS_FD"


def _secret_names(environ) -> list[str]:
    inputs = [f"INPUT_{name}{sep}{rest}" for name, rest in (("GITHUB", "TOKEN"), ("DATABASE", "URL"))
              for sep in "-_"]
    return [name for name in (*inputs, *_SECRET_VARIABLES) if name in environ]


def _migbot_needs(name: str) -> bool:
    """What migbot's own process keeps: the Actions variables and inputs (less the secrets, which
    go through the pipe), its own settings, and what its children may get (run.environment).
    A job-level `env:` secret is none of these."""
    return (name.startswith(("GITHUB_", "INPUT_", "RUNNER_", "MIGBOT_")) or name == "CI"
            or name in allowlisted({name: ""}, installer=True))


def scrub_initial_environment(environ=os.environ) -> None:
    """Removing a variable from os.environ leaves it in the process's initial environment block,
    which /proc/<pid>/environ shows to every process of the same user (in the Action's container:
    the project's code, as root). So migbot re-executes itself with only what it needs, and hands
    the secrets over through a pipe. Then `restore_secrets` puts them where from_environ reads them."""
    names = _secret_names(environ)
    if SECRETS_FD in environ or not (names or any(not _migbot_needs(k) for k in environ)):
        return
    secrets = {name: environ[name] for name in names}
    read_end, write_end = os.pipe()
    os.write(write_end, json.dumps(secrets).encode())  # a few hundred bytes: well within a pipe's buffer
    os.close(write_end)
    os.set_inheritable(read_end, True)
    clean = {k: v for k, v in environ.items() if k not in secrets and _migbot_needs(k)}
    clean[SECRETS_FD] = str(read_end)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "migbot", "action"], clean)


def restore_secrets(environ=os.environ) -> None:
    fd = environ.pop(SECRETS_FD, None)
    if fd is None:
        return
    with os.fdopen(int(fd), "rb") as pipe:
        environ.update(json.loads(pipe.read() or b"{}"))


def _input(environ: dict[str, str], name: str, *, secret: bool = False) -> str:
    """The runner passes input `fail-on` as INPUT_FAIL-ON; some runners use INPUT_FAIL_ON."""
    value = ""
    for key in (f"INPUT_{name.upper()}", f"INPUT_{name.upper().replace('-', '_')}"):
        found = environ.pop(key, None) if secret else environ.get(key)
        value = value or (found or "").strip()
    return value


def _choice(environ: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = _input(environ, name).lower() or choices[0]
    if value not in choices:
        raise UsageError(f"The input {name}: {value!r} is not one of {', '.join(choices)}.",
                         hint=f"Set `{name}:` in the workflow's `with:` block to one of them, or leave it out "
                         f"for the default ({choices[0]}).")
    return value


@dataclass
class ActionEnv:
    event_name: str
    event: dict[str, Any]
    repository: str
    api_url: str
    server_url: str
    workspace: Path
    run_id: str
    sha: str
    token: str
    output_path: Path | None
    summary_path: Path | None
    config: str | None  # a file of the repository: policy read from the base branch, the rest from head
    mode: str  # single, verify or publish (events.MODES)
    database_url: str | None
    install: str
    project: str  # mode verify: only this Alembic project, one job of a matrix ("" for every project)
    fail_on: str
    comment: str
    bot_login: str

    @property
    def run_url(self) -> str:
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    def file_url(self, sha: str) -> str:
        """A format string for links to a file at a commit, as render_markdown takes it."""
        return f"{self.server_url}/{self.repository}/blob/{sha}/{{path}}#L{{line}}"

    @classmethod
    def from_environ(cls, environ: os._Environ | dict[str, str] = os.environ) -> ActionEnv:
        token = _input(environ, "github-token", secret=True) or environ.get("GITHUB_TOKEN", "")
        database_url = _input(environ, "database-url", secret=True) or None
        for name in _SECRET_VARIABLES:
            environ.pop(name, None)

        missing = [name for name in ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_REPOSITORY")
                   if not environ.get(name)]
        if missing:
            raise UsageError(f"`migbot action` runs inside GitHub Actions, and {', '.join(missing)} "
                             f"{'is' if len(missing) == 1 else 'are'} not set.",
                             hint="Use the migbot action in a workflow (see the README), or run "
                             "`migbot verify` locally.")
        event_path = Path(environ["GITHUB_EVENT_PATH"])
        try:
            event = json.loads(event_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"Cannot read the event payload {event_path}: {exc}.") from None
        if not token:
            raise UsageError("No GitHub token: the input github-token is empty and GITHUB_TOKEN is not set.",
                             hint="Leave github-token at its default (${{ github.token }}) or pass a token.")

        def path_of(name: str) -> Path | None:
            return Path(environ[name]) if environ.get(name) else None

        workspace = path_of("GITHUB_WORKSPACE") or Path.cwd()
        config = _input(environ, "config")
        return cls(
            event_name=environ["GITHUB_EVENT_NAME"],
            event=event,
            repository=environ["GITHUB_REPOSITORY"],
            api_url=(environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
            server_url=(environ.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
            workspace=workspace,
            run_id=environ.get("GITHUB_RUN_ID", ""),
            sha=environ.get("GITHUB_SHA", ""),
            token=token,
            output_path=path_of("GITHUB_OUTPUT"),
            summary_path=path_of("GITHUB_STEP_SUMMARY"),
            config=config or None,
            mode=_choice(environ, "mode", MODES),
            database_url=database_url,
            install=_input(environ, "install"),
            project=_input(environ, "project"),
            fail_on=_choice(environ, "fail-on", FAIL_ON),
            comment=_choice(environ, "comment", COMMENT_MODES),
            bot_login=_input(environ, "bot-login"),
        )
