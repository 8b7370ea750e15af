"""GitHub Actions workflow commands: annotations, outputs, the step summary, log groups.

Escaping follows the runner's rules (actions/toolkit `command.ts`): message data escapes
`%`, CR and LF; property values also escape `:` and `,`. An annotation is then one line that
starts with `::error` (`::warning`, `::notice`): the runner reads it as that one command and
looks no further in the line.

Any other line that carries the repository's text (its output, paths, branch names, a
commenter's words) goes out between stop-commands (`echo`, `group`): the runner also obeys
the legacy `##[command]` form anywhere in a line, so escaping cannot make such a line safe.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import TextIO

STEP_SUMMARY_LIMIT = 1024 * 1024  # the runner refuses a step summary over 1 MiB


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, *, file: str | None = None, line: int | None = None,
               title: str | None = None) -> str:
    """`::error file=…,line=…,title=…::message` (level: error, warning or notice)."""
    if level not in ("error", "warning", "notice"):
        raise ValueError(f"not an annotation level: {level!r}")
    props = []
    if file:
        props.append(f"file={escape_property(file)}")
        if line:
            props.append(f"line={int(line)}")
    if title:
        props.append(f"title={escape_property(title)}")
    return f"::{level}{' ' + ','.join(props) if props else ''}::{escape_data(message)}"


def stop_commands(text: str) -> tuple[str, str]:
    """Wrap text from the project (logs, reports) so that a line in it that looks like a
    workflow command (`::set-output` in a migration's print) is printed, not obeyed."""
    token = secrets.token_hex(16)
    return f"::stop-commands::{token}\n{text}", f"::{token}::"


class Workflow:
    """Where the runner reads commands and files; paths None outside Actions (then only the log)."""

    def __init__(self, output_path: Path | None, summary_path: Path | None, log: TextIO | None = None):
        self.output_path = output_path
        self.summary_path = summary_path
        self.log = log or sys.stdout

    def command(self, line: str) -> None:
        print(line, file=self.log, flush=True)

    def warning(self, message: str, **where) -> None:
        self.command(annotation("warning", message, **where))

    def error(self, message: str, **where) -> None:
        self.command(annotation("error", message, **where))

    def echo(self, text: str) -> None:
        """Print text that carries the repository's data (a path, a branch name, its output)."""
        opening, closing = stop_commands(text.rstrip("\n"))
        self.command(f"{opening}\n{closing}")

    def group(self, title: str, text: str) -> None:
        opening, closing = stop_commands(text.rstrip("\n"))
        self.command(f"::group::{escape_data(title)}\n{opening}\n{closing}\n::endgroup::")

    def set_outputs(self, values: dict[str, str]) -> None:
        """GITHUB_OUTPUT, with the heredoc syntax and a random delimiter for every value."""
        if self.output_path is None:
            return
        with open(self.output_path, "a", encoding="utf-8") as handle:
            for name, value in values.items():
                delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
                handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def add_summary(self, markdown: str) -> None:
        if self.summary_path is None:
            return
        with open(self.summary_path, "a", encoding="utf-8") as handle:
            handle.write(markdown if markdown.endswith("\n") else markdown + "\n")
