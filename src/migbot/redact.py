"""Keeping secrets and run-specific noise out of everything migbot prints or posts.

Redactor hides secrets (the database password, the GitHub token) in every form they
may take. stable_text() rewrites what differs between two runs of the same commit
(memory addresses, migbot's random database names, temp dirs), so that a report,
and the PR comment made from it, only changes when the code does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

REDACTED = "********"

# Control characters a file or an error may carry (an ANSI escape, a backspace, a bell, C1
# codes from a file decoded as Latin-1): they would act on the reader's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with every control character but newline and tab replaced by "?"."""
    return _CONTROL.sub("?", text)


_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,16}\b")
_DATABASE = re.compile(r"\bmigbot_[0-9a-f]{8}_(\w+)")


@dataclass
class Redactor:
    secrets: list[str] = field(default_factory=list)

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, REDACTED)
        return text


def stable_text(text: str, paths: dict[str, str] | None = None) -> str:
    """`text` without what changes from run to run: memory addresses become `0x…`, migbot's
    database names lose their random part, and each of `paths` (a temp dir -> what to call
    it) is replaced."""
    for path, name in sorted((paths or {}).items(), key=lambda item: -len(item[0])):
        text = text.replace(path, name)
    text = _ADDRESS.sub("0x…", text)
    return _DATABASE.sub(r"migbot_…_\1", text)
