"""Findings suppressed by `# migbot: ignore[CHECK-ID] reason` comments in the head's revision
files (discover/suppressions.py), and the `suppressions` check that judges the comments the
branch adds: each names a known check and gives a reason.

A suppressed finding moves from the check's findings to its `suppressed` list, with the
reason; a check left with no error or warning passes, and says how many it set aside.
"""

from __future__ import annotations

from migbot.catalog import BY_ID
from migbot.checks.verdict import verdict
from migbot.config import MigbotConfig
from migbot.discover.suppressions import Suppression
from migbot.plan.changes import ProjectPlan
from migbot.report.model import CheckResult, Finding, SuppressedFinding


def _suppressing(finding: Finding, check_id: str, suppressions: list[Suppression]) -> Suppression | None:
    for suppression in suppressions:
        if check_id in suppression.checks and (suppression.target is None or suppression.target == finding.line):
            return suppression
    return None


def apply_suppressions(plan: ProjectPlan, config: MigbotConfig, results: list[CheckResult]) -> list[CheckResult]:
    by_path = {f.path: f.suppressions for f in plan.head.files if f.suppressions}
    used: set[tuple[str, int]] = set()
    for result in results:
        kept = []
        for finding in result.findings:
            found = _suppressing(finding, result.id, by_path.get(finding.file or "", [])) \
                if finding.severity in ("error", "warning") and result.id != "suppressions" else None
            if found is None:
                kept.append(finding)
                continue
            used.add((finding.file or "", found.line))
            result.suppressed.append(SuppressedFinding(**finding.model_dump(), reason=found.reason,
                                                       comment_line=found.line))
        if len(kept) != len(result.findings):
            _judge_again(result, kept)
    return [*results, _suppressions_check(plan, config, used)]


def _judge_again(result: CheckResult, kept: list[Finding]) -> None:
    result.findings = kept
    if result.status not in ("fail", "warn"):
        return
    flagged = [f for f in kept if f.severity in ("error", "warning")]
    count = len(result.suppressed)
    if not flagged:
        result.status = "pass"
        result.summary = f"{count} finding{'s' if count != 1 else ''} suppressed in the revision files"
        return
    errors = [f for f in flagged if f.severity == "error"]
    result.status = "fail" if errors and result.level == "error" else "warn"
    if any(result.summary == s.message for s in result.suppressed):
        result.summary = flagged[0].message


def _suppressions_check(plan: ProjectPlan, config: MigbotConfig, used: set[tuple[str, int]]) -> CheckResult:
    changed = {c.path for c in plan.revision_changes if c.new is not None}
    findings = []
    for file in plan.head.files:
        if file.path not in changed:
            continue
        for suppression in file.suppressions:
            where = dict(revision=file.revision, file=file.path, line=suppression.line)
            unknown = [c for c in suppression.checks if c not in BY_ID]
            if unknown or not suppression.checks:
                findings.append(Finding(severity="warning", **where, message=(
                    f"`# migbot: ignore[{', '.join(suppression.checks)}]` names no check migbot has"
                    if not suppression.checks or len(unknown) == len(suppression.checks) else
                    f"`# migbot: ignore[...]` names {', '.join(f'`{c}`' for c in unknown)}, which migbot does not "
                    "have"), hint="Check ids are listed in docs/checks.md."))
            if not suppression.reason:
                findings.append(Finding(severity="warning", **where, message=(
                    f"`# migbot: ignore[{', '.join(suppression.checks)}]` gives no reason"),
                    hint="Say why after the brackets: `# migbot: ignore[table-rewrite] the table holds 40 rows "
                    "in production`."))
            elif (file.path, suppression.line) not in used and not unknown:
                findings.append(Finding(severity="note", **where, message=(
                    f"`# migbot: ignore[{', '.join(suppression.checks)}]` suppressed nothing in this run")))
    return verdict("suppressions", config, findings,
                   passed="every suppression the branch adds names a known check and gives a reason")
