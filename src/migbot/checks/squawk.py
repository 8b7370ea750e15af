"""squawk's findings on the SQL the new revisions ran (run/lint_sql.py), at the line of the
revision that ran each statement. See migbot/catalog.py."""

from __future__ import annotations

from migbot.checks.findings import live_skip_reason, revision_file
from migbot.checks.verdict import verdict
from migbot.config import MigbotConfig
from migbot.evidence import Evidence
from migbot.plan.changes import ProjectPlan
from migbot.report.model import CheckResult, Finding

RULE_PAGE = "https://squawkhq.com/docs/{rule}"


def squawk(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    if (reason := live_skip_reason(ev)) is not None:
        return verdict("squawk", config, [], skipped=reason)
    linted = ev.squawk
    if linted is None:
        return verdict("squawk", config, [], skipped="the new revisions' upgrades did not run")
    if linted.skipped:
        return verdict("squawk", config, [], skipped=linted.skipped)
    findings = []
    for item in linted.findings:
        sql = " ".join(item["sql"].split())
        shown = sql if len(sql) <= 120 else sql[:119] + "…"
        findings.append(Finding(
            severity="warning", revision=item["revision"], file=revision_file(plan, ev, item["revision"]),
            line=item["line"], message=f"{item['revision']}: squawk `{item['rule']}`: {item['message']}"
            + (f" (`{shown}`)" if shown else ""),
            hint=(item["help"].rstrip(".") + ". " if item["help"] else "") + f"See {RULE_PAGE.format(rule=item['rule'])}."))
    left_out = f"; left out: {', '.join(linted.excluded)}" if linted.excluded else ""
    n = linted.revisions
    return verdict("squawk", config, findings,
                   passed=f"squawk {linted.version} finds nothing in the SQL of {n} new revision{'s' if n != 1 else ''}"
                   f"{left_out}")
