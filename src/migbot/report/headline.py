"""What a reviewer reads first: each failed check, then each warning, as one line with the
check id, the revision, the file:line and the one finding that matters. The Markdown
comment and the terminal both open with these lines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from migbot.report.model import CheckResult, Finding, ProjectReport

MAX_FAILURES = 5
MAX_WARNINGS = 3
MAX_TEXT = 240


@dataclass
class Cause:
    status: str  # "fail" or "warn"
    check: str
    revision: str | None
    file: str | None
    line: int | None
    text: str  # the finding that matters, with its most telling detail
    more: int  # the check's other findings
    subject: str | None = None  # the object its detail names first, e.g. `public.orders.metadata`
    also: list[str] = field(default_factory=list)  # later checks that failed over the same object


def causes(project: ProjectReport) -> tuple[list[Cause], list[Cause]]:
    """(failures, warnings), in the order of the checks. A check that fails over the same object
    as an earlier one (a downgrade that drops a column also fails the second upgrade and the
    round trip) joins its line instead of repeating it."""
    failed = _folded([_cause(c) for c in project.checks if c.status == "fail"])
    warned = _folded([_cause(c) for c in project.checks if c.status == "warn"])
    return failed, warned


def _folded(found: list[Cause]) -> list[Cause]:
    kept: list[Cause] = []
    for cause in found:
        host = next((c for c in kept if cause.subject and c.subject == cause.subject), None)
        if host is None:
            kept.append(cause)
        else:
            host.also.append(cause.check)
    return kept


def top(project: ProjectReport) -> tuple[list[Cause], int]:
    """The causes the top of a report shows (failures, then warnings, each capped), and how many
    more the Checks section holds: the one rule for the comment and the terminal."""
    failures, warnings = causes(project)
    shown = failures[:MAX_FAILURES] + warnings[:MAX_WARNINGS]
    return shown, len(failures) + len(warnings) - len(shown)


def _cause(check: CheckResult) -> Cause:
    severity = "error" if check.status == "fail" else "warning"
    findings = [f for f in check.findings if f.severity == severity] or \
        [f for f in check.findings if f.severity != "note"] or check.findings
    if not findings:
        return Cause(check.status, check.id, None, None, None, check.summary or check.title, 0)
    first = findings[0]
    detail = _listed(first)
    subject = re.search(r"`([^`]+)`", detail[0]) if detail else None
    return Cause(check.status, check.id, first.revision, first.file, first.line, _text(first),
                 len(findings) - 1, subject.group(1) if subject else None)


def _listed(finding: Finding) -> list[str]:
    return [d for d in finding.details if "\n" not in d and not d.startswith("... and ")]


def _text(finding: Finding) -> str:
    text = finding.message.strip().splitlines()[0] if finding.message.strip() else ""
    if finding.revision and text.startswith(f"{finding.revision}: "):
        text = text[len(finding.revision) + 2:]  # the revision has a place of its own
    listed = _listed(finding)
    if listed:
        text = f"{text}: {listed[0]}"
    if len(text) <= MAX_TEXT:
        return text
    cut = text.rfind(". ", 0, MAX_TEXT)  # end on a whole sentence where there is one
    return text[:cut + 1] + " …" if cut > MAX_TEXT // 4 else text[:MAX_TEXT - 1] + "…"
