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
# squawk's rules about what a statement locks or scans: moot for a table the branch itself creates,
# which nothing reads or writes yet. (squawk sees one revision at a time, not the branch.)
LOCK_RULES = frozenset((
    "require-concurrent-index-creation", "require-concurrent-index-deletion", "constraint-missing-not-valid",
    "adding-foreign-key-constraint", "adding-field-with-default", "adding-not-nullable-field",
    "adding-required-field", "changing-column-type", "disallowed-unique-constraint",
    "adding-serial-primary-key-field", "adding-primary-key-constraint"))


def _on_new_tables(item: dict, ev: Evidence) -> bool:
    """Every table the statement's step had locked by then is one the base does not have: the
    branch creates them."""
    if item["rule"] not in LOCK_RULES or not item.get("tables") or ev.base_snapshot is None:
        return False
    return not set(item["tables"]) & set(ev.base_snapshot.get("table"))


def squawk(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> CheckResult:
    if (reason := live_skip_reason(ev)) is not None:
        return verdict("squawk", config, [], skipped=reason)
    linted = ev.squawk
    if linted is None:
        return verdict("squawk", config, [], skipped="the new revisions' upgrades did not run")
    if linted.skipped:
        return verdict("squawk", config, [], skipped=linted.skipped)
    findings, moot = [], 0
    for item in linted.findings:
        if _on_new_tables(item, ev):
            moot += 1
            continue
        sql = " ".join(item["sql"].split())
        shown = sql if len(sql) <= 120 else sql[:119] + "…"
        findings.append(Finding(
            severity="warning", revision=item["revision"], file=revision_file(plan, ev, item["revision"]),
            line=item["line"], message=f"{item['revision']}: squawk `{item['rule']}`: {item['message']}"
            + (f" (`{shown}`)" if shown else ""),
            hint=(item["help"].rstrip(".") + ". " if item["help"] else "") + f"See {RULE_PAGE.format(rule=item['rule'])}."))
    if moot:
        findings.append(Finding(severity="note", message=f"{moot} finding{'s' if moot != 1 else ''} about locks on "
                                "tables this branch creates left out: nothing uses them before it is deployed"))
    left_out = f"; left out: {', '.join(linted.excluded)}" if linted.excluded else ""
    n = linted.revisions
    return verdict("squawk", config, findings,
                   passed=f"squawk {linted.version} finds nothing in the SQL of {n} new revision{'s' if n != 1 else ''}"
                   f"{left_out}")
