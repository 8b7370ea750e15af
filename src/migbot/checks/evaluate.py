"""Runs the live checks over a project's evidence, in catalogue order."""

from __future__ import annotations

from migbot.checks import conventions, data, live, locks, reversibility, squawk
from migbot.config import MigbotConfig
from migbot.evidence import Evidence
from migbot.plan.changes import ProjectPlan
from migbot.report.model import CheckResult, Drift


def run_live_checks(plan: ProjectPlan, ev: Evidence, config: MigbotConfig) -> tuple[list[CheckResult], Drift]:
    drift = live.classify_drift(ev)
    checks = [live.env_loads(plan, ev, config), live.base_builds(plan, ev, config),
              live.revisions_loaded(plan, ev, config), reversibility.reversible_downgrades(plan, ev, config),
              live.upgrade(plan, ev, config), live.downgrade(plan, ev, config),
              live.downgrade_restores_schema(plan, ev, config), live.reupgrade(plan, ev, config),
              live.roundtrip(plan, ev, config), live.edited_downgrades(plan, ev, config),
              live.model_drift(plan, ev, config, drift)]
    checks += [check(plan, ev, config) for check in data.DATA_CHECKS]
    checks += [check(plan, ev, config) for check in locks.LOCK_CHECKS]
    checks += [squawk.squawk(plan, ev, config)]
    checks += [check(plan, ev, config) for check in conventions.CONVENTION_CHECKS]
    return checks, drift
