"""Markdown that fits a size limit (a PR comment's 65,536 characters, a step summary's 1 MiB).

The report model is shrunk, never the rendered text, so what is left is still well-formed
Markdown: first the long lists and details are capped, then dropped, and as a last
resort only the verdict and the failed checks' names remain.
"""

from __future__ import annotations

from migbot.report.markdown import render_markdown
from migbot.report.model import Report

KEEP_DETAILS = 8
KEEP_ITEMS = 30
KEEP_CHARS = 1000


def size(text: str) -> int:
    """GitHub counts UTF-16 code units; an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


def fit_markdown(report: Report, limit: int, *, shortened_note: str, finish=lambda text: text,
                 **render_args) -> str:
    """finish: redaction, applied to each value from the report before it is escaped (escaping
    can change a secret's characters), and to each rendering before it is measured (redaction
    can change the length). shortened_note is migbot's own Markdown (it may link to the run)."""
    render_args.setdefault("clean", finish)
    own_notes = list(render_args.pop("own_notes", ()))
    text = finish(render_markdown(report, own_notes=own_notes, **render_args))
    if size(text) <= limit:
        return text
    for shrink in (_capped, _bare, _verdict_only):
        smaller = shrink(report.model_copy(deep=True))
        text = finish(render_markdown(smaller, own_notes=[*own_notes, shortened_note], **render_args))
        if size(text) <= limit:
            return text
    # Nothing left to drop (thousands of projects?): cut at a line, which at worst
    # leaves a table or list short; code fences and <details> blocks are gone by now.
    units = text.encode("utf-16-le")[: 2 * (limit - 200)].decode("utf-16-le", errors="ignore")
    return f"{units.rsplit(chr(10), 1)[0]}\n\n> {shortened_note}\n"


def _capped(report: Report) -> Report:
    for project in report.projects:
        for check in project.checks:
            del check.findings[KEEP_ITEMS:]
            for finding in check.findings:
                finding.message = _short(finding.message, KEEP_CHARS)
                finding.details = [_short(d, KEEP_CHARS) if "\n" not in d else _tail(d, 40)
                                   for d in finding.details[:KEEP_DETAILS]]
        summary = project.summary
        for items in (summary.changes_made, summary.files_modified, summary.migrations, summary.seed_data,
                      summary.schema_impact.changes, project.stairway, project.drift.existing,
                      project.drift.fixed):
            del items[KEEP_ITEMS:]
    return report


def _bare(report: Report) -> Report:
    report = _capped(report)
    for project in report.projects:
        for check in project.checks:
            del check.findings[3:]
            for finding in check.findings:
                finding.details = []
        project.summary.schema_impact.changes = []
        project.stairway = []
        project.timings = []
        project.drift.existing, project.drift.fixed = [], []
    return report


def _verdict_only(report: Report) -> Report:
    report = _bare(report)
    for project in report.projects:
        project.checks = [c for c in project.checks if c.status in ("fail", "warn")]
        for check in project.checks:
            check.findings = []
        summary = project.summary
        summary.changes_made, summary.files_modified, summary.seed_data = [], [], []
        summary.migrations = summary.migrations[:5]
        summary.schema_impact.new_tables = summary.schema_impact.new_tables[:10]
        summary.schema_impact.modified_tables = summary.schema_impact.modified_tables[:10]
        summary.schema_impact.new_indexes = summary.schema_impact.new_indexes[:10]
    return report


def _short(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars] + "…"


def _tail(text: str, lines: int) -> str:
    kept = text.splitlines()
    return text if len(kept) <= lines else "…\n" + "\n".join(kept[-lines:])
