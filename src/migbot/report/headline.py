"""What a reviewer reads first: each failed check, then each warning, as one line with the
check id, the revision, the file:line and the one finding that matters. The Markdown
comment and the terminal both open with these lines."""

from __future__ import annotations

from dataclasses import dataclass

from migbot.report.model import CheckResult, Finding, ProjectReport

MAX_FAILURES = 5
MAX_WARNINGS = 3
MAX_TEXT = 240


@dataclass(frozen=True)
class Cause:
    status: str  # "fail" or "warn"
    check: str
    revision: str | None
    file: str | None
    line: int | None
    text: str  # the finding that matters, with its most telling detail
    more: int  # the check's other findings


def causes(project: ProjectReport) -> tuple[list[Cause], list[Cause]]:
    """(failures, warnings), in the order of the checks."""
    failed = [_cause(c) for c in project.checks if c.status == "fail"]
    warned = [_cause(c) for c in project.checks if c.status == "warn"]
    return failed, warned


def shown(found: list[Cause], limit: int) -> tuple[list[Cause], int]:
    """The first `limit` causes, and how many more there are."""
    return found[:limit], max(0, len(found) - limit)


def _cause(check: CheckResult) -> Cause:
    severity = "error" if check.status == "fail" else "warning"
    findings = [f for f in check.findings if f.severity == severity] or \
        [f for f in check.findings if f.severity != "note"] or check.findings
    if not findings:
        return Cause(check.status, check.id, None, None, None, check.summary or check.title, 0)
    first = findings[0]
    return Cause(check.status, check.id, first.revision, first.file, first.line, _text(first),
                 len(findings) - 1)


def _text(finding: Finding) -> str:
    text = finding.message.strip().splitlines()[0] if finding.message.strip() else ""
    if finding.revision and text.startswith(f"{finding.revision}: "):
        text = text[len(finding.revision) + 2:]  # the revision has a place of its own
    listed = [d for d in finding.details if "\n" not in d and not d.startswith("... and ")]
    if listed:
        text = f"{text}: {listed[0]}"
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"
