"""Turning findings into a check's verdict, honouring the configured level."""

from __future__ import annotations

from migbot.catalog import BY_ID, Level
from migbot.config import MigbotConfig
from migbot.report.model import CheckResult, Finding


def verdict(check_id: str, config: MigbotConfig, findings: list[Finding], *, passed: str = "",
            failed: str = "", skipped: str | None = None) -> CheckResult:
    """pass with no findings but notes; fail (or warn, at level warning) with an error finding;
    warn with warning findings only; skip with a reason."""
    spec = BY_ID[check_id]
    level = config.level(check_id)
    result = CheckResult(id=check_id, title=spec.title, status="pass", level=level, summary=passed)
    if level is Level.OFF:
        result.status, result.summary = "off", "turned off in the config"
    elif skipped is not None:
        result.status, result.summary = "skip", skipped
    elif findings:
        errors = [f for f in findings if f.severity == "error"]
        warnings = [f for f in findings if f.severity == "warning"]
        result.findings = findings
        if errors:
            result.status = "fail" if level is Level.ERROR else "warn"
            result.summary = failed or errors[0].message
        elif warnings:
            result.status = "warn"
            result.summary = failed or warnings[0].message
    return result
