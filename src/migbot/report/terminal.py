"""The report for a developer's terminal, and progress while migbot runs.

Colour only on a TTY (and never with NO_COLOR). Progress goes to stderr: a
spinner on a TTY, plain timestamped lines otherwise (CI logs).
"""

from __future__ import annotations

import sys
import time
from typing import IO

from rich.console import Console
from rich.markup import escape as _markup_escape
from rich.status import Status

from migbot.catalog import BY_ID
from migbot.report.headline import top
from migbot.report.model import ProjectReport, Report
from migbot.progress import Progress
from migbot.redact import printable

STYLES = {"pass": ("✔", "green"), "fail": ("✘", "bold red"), "warn": ("!", "yellow"), "warning": ("!", "yellow"),
          "skip": ("-", "dim"),
          "off": ("·", "dim"), "skipped": ("-", "dim"), "not applicable": ("·", "dim"), "not configured": ("·", "dim")}


def escape(text: str) -> str:
    """Project text for rich: its markup escaped and its control characters made visible."""
    return _markup_escape(printable(text))


def console_for(stream: IO[str]) -> Console:
    console = Console(file=stream, highlight=False, emoji=False)
    if not console.is_terminal:
        # Logs and files: never hard-wrap lines at an imagined 80 columns.
        console.soft_wrap = True
    return console


def _mark(status: str) -> str:
    symbol, style = STYLES.get(status, ("?", ""))
    return f"[{style}]{symbol}[/]"


def render_terminal(report: Report, console: Console) -> None:
    p = console.print
    refs = report.refs
    p(f"[bold]migbot {report.migbot_version}[/] · {escape(refs.head_ref)} ({refs.head[:7]}) into "
      f"{escape(refs.base_ref)} ({refs.base[:7]}), merge-base {refs.merge_base[:7]}")
    p(f"[dim]{escape(report.database)}[/]")
    for project in report.projects:
        s = project.summary
        p()
        p("[bold underline]Database Task Summary[/]" + ("" if project.name == "." else f" — {escape(project.name)}"))
        _headline(console, project)
        _section(console, "Changes Made", s.changes_made)
        _section(console, "Files Modified", s.files_modified or ["none"])
        p("[bold]Migrations[/]")
        if not s.migrations:
            p("  none")
        for m in s.migrations:
            p(f"  {escape(m.file)}: {escape(m.description)}")
            p(f"    [dim]status:[/] {escape(m.status)}")
        impact = s.schema_impact
        _section(console, "Schema Impact", [
            f"New tables: {', '.join(impact.new_tables) or 'none'}",
            f"Modified tables: {', '.join(impact.modified_tables) or 'none'}",
            *([f"Dropped tables: {', '.join(impact.dropped_tables)}"] if impact.dropped_tables else []),
            f"New indexes: {', '.join(impact.new_indexes) or 'none'}",
        ] if impact.known else ["unknown: the branch's migrations did not reach head"])
        _section(console, "Seed Data", s.seed_data)
        v = s.verification
        p("[bold]Verification[/]")
        for label, value in (("Migration up", v.migration_up), ("Migration down", v.migration_down),
                             ("Seed data", v.seed_data)):
            p(f"  {_mark(value)} {label}: {value}")
        p()
        p("[bold]Checks[/]")
        width = max(len(c.id) for c in project.checks)
        for c in project.checks:
            if c.status in ("fail", "warn"):
                # A failed check's findings say it all; its summary would repeat the first one.
                p(f"  {_mark(c.status)} {c.id.ljust(width)}  [{STYLES[c.status][1]}]{c.status}[/]: {escape(c.title)}")
            else:
                summary = escape(c.summary or c.title)
                p(f"  {_mark(c.status)} {c.id.ljust(width)}  [dim]{'skipped: ' if c.status == 'skip' else ''}{summary}[/]")
            if c.status in ("fail", "warn"):
                for f in c.findings:
                    first, *rest = f.message.splitlines() or [""]
                    p(f"      • {escape(first)}")
                    for line in rest:
                        p(f"        {escape(line)}")
                    if f.file:
                        p(f"        [cyan]at {escape(f.file)}{':' + str(f.line) if f.line else ''}[/]")
                    if f.hint:
                        p(f"        [yellow]→ {escape(f.hint)}[/]")
                    for detail in f.details:
                        for line in _digest(detail):
                            p(f"        [dim]{escape(line)}[/]")
                p(f"      [dim]fix: {escape(BY_ID[c.id].fix)}[/]")
            for f in c.suppressed:
                reason = f"“{f.reason}”" if f.reason else "no reason given"
                p(f"      [dim]suppressed: {escape(f.message)} — {escape(reason)}"
                  f"{' at ' + escape(f.file) + ':' + str(f.line) if f.file else ''}[/]")
        if project.drift.checked and (project.drift.existing or project.drift.fixed):
            p(f"  [dim]model drift: {len(project.drift.existing)} already at base, "
              f"{len(project.drift.fixed)} fixed by this branch[/]")
    for note in report.notes:
        p(f"[yellow]note:[/] {escape(note)}")
    p()
    c = report.counts
    verdict = "[bold green]PASS[/]" if report.passed else "[bold red]FAIL[/]"
    warnings = f"{c.warnings} warning{'' if c.warnings == 1 else 's'}"
    p(f"{verdict} — {c.failed} failed, {warnings}, {c.passed} passed, {c.skipped} skipped ({report.seconds:.1f} s)")


def _headline(console: Console, project: ProjectReport) -> None:
    """The verdict and its causes first, one line each: what a developer must act on."""
    statuses = [c.status for c in project.checks]
    failed, warned, skipped = statuses.count("fail"), statuses.count("warn"), statuses.count("skip")
    if failed:
        head = f"[bold red]FAIL: {failed} check{'' if failed == 1 else 's'} failed[/]"
    else:
        head = "[bold green]PASS: all checks passed[/]"
    if warned:
        head += f"{', ' if failed else ' with '}{warned} warning{'' if warned == 1 else 's'}"
    if skipped:
        head += f", {skipped} skipped"
    console.print(head)
    shown, hidden = top(project)
    for cause in shown:
        where = f" · {cause.revision}" if cause.revision else ""
        if cause.file:
            where += f" ({cause.file}{':' + str(cause.line) if cause.line else ''})"
        more = f" (and {cause.more} more)" if cause.more else ""
        if cause.also:
            more += f"; the same makes {', '.join(cause.also)} {'fail' if cause.status == 'fail' else 'warn'}"
        console.print(f"  {_mark(cause.status)} {cause.check}{escape(where)} · {escape(cause.text)}{more}")
    if hidden:
        console.print(f"  and {hidden} more under Checks below")
    console.print()


def _digest(detail: str, limit: int = 12) -> list[str]:
    """A detail as a developer reads it in a terminal: a traceback's frames and the first line of
    its error (the message above already says the rest: SQL, parameters), else its last lines."""
    lines = detail.splitlines()
    if not lines or not lines[0].startswith("Traceback"):
        return lines[-limit:]
    frames = [line for line in lines[1:] if line.startswith(" ")]
    error = next((line for line in lines[1:] if not line.startswith(" ")), "")
    return [lines[0], *frames[-(limit - 2):], error]


def _section(console: Console, title: str, lines: list[str]) -> None:
    console.print(f"[bold]{title}[/]")
    for line in lines:
        console.print(f"  • {escape(line)}")


class TerminalProgress(Progress):
    """A spinner on a TTY; otherwise one line per step with elapsed seconds."""

    def __init__(self, stream: IO[str] | None = None, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.console = console_for(self.stream)
        self.enabled = enabled
        self.started = time.monotonic()
        self._status: Status | None = None

    def step(self, text: str) -> None:
        if not self.enabled:
            return
        if self.console.is_terminal:
            if self._status is None:
                self._status = self.console.status(escape(text))
                self._status.start()
            else:
                self._status.update(escape(text))
        else:
            self.stream.write(f"[{time.monotonic() - self.started:6.1f}s] {printable(text)}\n")
            self.stream.flush()

    def result(self, text: str, status: str, seconds: float | None = None) -> None:
        if not self.enabled:
            return
        took = f" ({seconds:.2f} s)" if seconds is not None else ""
        if self.console.is_terminal:
            self.console.print(f"{_mark(status)} {escape(text)}{took}")
        else:
            self.stream.write(f"[{time.monotonic() - self.started:6.1f}s] {printable(text)}{took}\n")

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
