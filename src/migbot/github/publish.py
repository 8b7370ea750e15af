"""From a report to what GitHub shows: status line, annotations, outputs and comment bodies.

Pure functions of the report: the bot decides where each goes.
"""

from __future__ import annotations

from migbot.report.markdown import plural
from migbot.report.model import ProjectReport, Report

STATUS_CONTEXT = "migbot"


def failing(report: Report, fail_on: str) -> bool:
    if fail_on == "never":
        return False
    return not report.passed or (fail_on == "warning" and report.counts.warnings > 0)


def status_line(report: Report) -> tuple[str, str]:
    """(state, description) for the commit status. It tells the truth whatever `fail-on` says:
    fail-on decides only the job's exit code, and a required `migbot` status must not turn
    green because the workflow chose not to fail its job."""
    if not report.projects:
        return "success", "No Alembic project in this repository"
    problems = [(p.name, c.id) for p in report.projects for c in p.checks if c.status == "fail"]
    warnings = [(p.name, c.id) for p in report.projects for c in p.checks if c.status == "warn"]
    if problems:
        text = f"{plural(len(problems), 'check')} failed{_where(report, problems)}: {_ids(problems)}"
    elif warnings:
        text = f"Passed with {plural(len(warnings), 'warning')}{_where(report, warnings)}: {_ids(warnings)}"
    elif not touches_migrations(report):
        text = f"No migration changes; {plural(report.counts.passed, 'check')} passed"
    else:
        text = f"All {report.counts.passed} checks passed"
    return ("failure" if problems else "success"), text


def _where(report: Report, found: list[tuple[str, str]]) -> str:
    """ in the projects named, when the report holds several (a monorepo)."""
    return f" in {', '.join(dict.fromkeys(name for name, _ in found))}" if len(report.projects) > 1 else ""


def _ids(found: list[tuple[str, str]]) -> str:
    return ", ".join(dict.fromkeys(check for _, check in found))


def touches_migrations(report: Report) -> bool:
    return any(p.summary.migrations for p in report.projects)


def worth_a_comment(project: ProjectReport) -> bool:
    """The default comment mode: the PR changes revision files, or something needs a reader."""
    return bool(project.summary.migrations) or any(c.status in ("fail", "warn") for c in project.checks)


def annotations(report: Report) -> list[dict]:
    """One per finding of a failed or warning check, at the file and line when known."""
    out = []
    for project in report.projects:
        for check in project.checks:
            if check.status not in ("fail", "warn"):
                continue
            for finding in check.findings or [None]:
                serious = check.status == "fail" and (finding is None or finding.severity == "error")
                level = "error" if serious else ("notice" if finding and finding.severity == "note" else "warning")
                message = finding.message if finding else check.summary
                if finding and finding.hint:
                    message += f"\n{finding.hint}"
                out.append({"level": level, "message": message, "title": f"migbot {check.id}: {check.title}",
                            "file": finding.file if finding else None, "line": finding.line if finding else None})
    return out


def outputs(report: Report, result: str, report_path: str) -> dict[str, str]:
    return {"result": result, "report": report_path, "passed": str(report.counts.passed),
            "failed": str(report.counts.failed), "warnings": str(report.counts.warnings),
            "skipped": str(report.counts.skipped)}
