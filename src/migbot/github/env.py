"""The Actions environment `migbot action` runs in: GITHUB_* variables and the action's inputs.

Secrets (the token, the database URL) are taken out of os.environ as they are read, so
nothing migbot starts (the install command, the project's env.py, seeds) inherits them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migbot.errors import UsageError

FAIL_ON = ("error", "warning", "never")
COMMENT_MODES = ("changes", "always", "never")
# Variables a step's code could use to act as the workflow; the project's code never needs them.
_SECRET_VARIABLES = ("GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                     "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_CACHE_URL", "ACTIONS_RESULTS_URL")


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
    config: Path | None
    database_url: str | None
    install: str
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
            config=(workspace / config) if config else None,
            database_url=database_url,
            install=_input(environ, "install"),
            fail_on=_choice(environ, "fail-on", FAIL_ON),
            comment=_choice(environ, "comment", COMMENT_MODES),
            bot_login=_input(environ, "bot-login"),
        )
