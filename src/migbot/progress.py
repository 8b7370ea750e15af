"""Where a run reports what it is doing: the terminal shows it (report.terminal), the
engine only calls it."""

from __future__ import annotations


class Progress:
    """A no-op by default."""

    def step(self, text: str) -> None:
        pass

    def result(self, text: str, status: str, seconds: float | None = None) -> None:
        pass
