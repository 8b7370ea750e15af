"""`migbot verify` end to end, as one straight line:

discover → plan → provision a database → run in worker processes → snapshot and
compare → checks → report.

Every resource (exported trees, PostgreSQL, workers, databases, temp dirs) is released
on every exit path, including Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from migbot import __version__
from migbot.checks.catalog import BY_ID, CHECKS
from migbot.checks.evaluate import run_live_checks
from migbot.checks.static import run_static_checks
from migbot.config import CONFIG_FILES, read_config
from migbot.discover.git import GitRepo
from migbot.errors import MigbotError
from migbot.plan.changes import Refs, build_plans, project_inis
from migbot.provision.conninfo import ServerInfo
from migbot.provision.server import launch_server
from migbot.report.build import build_project_report
from migbot.report.model import Counts, ProjectReport, Refs as ReportRefs, Report
from migbot.provision.tempdirs import claim_temp_dir, remove_temp_dir, sweep_stale
from migbot.run.context import Progress, Redactor, RunContext
from migbot.run.stairway import Evidence, ProjectRun


@dataclass
class VerifyOptions:
    repo: Path = Path(".")
    base: str | None = None
    head: str = "HEAD"
    database_url: str | None = None
    timeout: float | None = None
    config_path: Path | None = None
    # How the report names the two sides when base and head are bare SHAs (the Action's case).
    base_label: str | None = None
    head_label: str | None = None


def verify(options: VerifyOptions, progress: Progress | None = None) -> Report:
    progress = progress or Progress()
    started_at = datetime.now(timezone.utc)
    started = time.monotonic()

    # discover
    repo = GitRepo(options.repo)
    base_ref = options.base or repo.default_branch()
    head = repo.resolve(options.head, what="head")
    base = repo.resolve(base_ref, what="base")
    refs = Refs(base_ref=options.base_label or base_ref, base=base, merge_base=repo.merge_base(base, head),
                head_ref=options.head_label or repo.describe_ref(options.head), head=head)
    head_blobs = repo.tree_blobs(head)
    config = read_config(repo.read_files(head, [f for f in CONFIG_FILES if f in head_blobs]), options.config_path)
    config_note = None if options.config_path else _config_change(repo, refs.merge_base, config)
    timeout = options.timeout or config.timeout_seconds

    # plan, while PostgreSQL boots and the workers import Alembic and SQLAlchemy
    redact = Redactor(ServerInfo.from_url(options.database_url).secrets() if options.database_url else [])
    projects: list[ProjectReport] = []
    sweep_stale([Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"),
                 *([Path(os.environ["MIGBOT_PG_TMPDIR"])] if os.environ.get("MIGBOT_PG_TMPDIR") else [])])
    workdir = claim_temp_dir("migbot-")
    server = None
    ctx = RunContext(repo, timeout=timeout, progress=progress, workdir=workdir, redact=redact)
    # The branch has nothing of its own when head is the merge-base: say so, skip the live run.
    nothing_new = refs.head == refs.merge_base
    try:
        ini_paths = project_inis(config, sorted(head_blobs))
        if ini_paths and not nothing_new:
            if not options.database_url:
                progress.step("starting a throwaway PostgreSQL")
                server = launch_server(workdir)
            ctx.prespawn(config.for_project(ini_paths[0]))
        plans = build_plans(repo, refs, config, head_blobs)
        notes = _notes(repo, options, plans, config) + ([config_note] if config_note else [])
        static = [run_static_checks(plan, config) for plan in plans]
        if nothing_new:
            notes.insert(0, f"{refs.head_ref} ({refs.head[:7]}) has no commits that {refs.base_ref} does not have, "
                         "so there is nothing to verify. Is --base the branch this change merges into?")
            database = "none (nothing to verify)"
            skipped = f"{refs.head_ref} has no commits of its own against {refs.base_ref}"
            for plan, checks in zip(plans, static):
                evidence = Evidence(base_has_alembic=plan.merge_base.project is not None, live_skipped=skipped)
                live, drift = run_live_checks(plan, evidence, config)
                projects.append(build_project_report(plan, evidence, _ordered(checks, live), drift))
        else:
            ctx.check_out([c for plan in plans for c in (plan.head.commit, plan.merge_base.commit)
                           if c != plan.merge_base.commit or plan.merge_base.project is not None])
            database = _provision(ctx, server, options, progress)
            # run in worker processes, snapshot and compare, check
            for plan, checks in zip(plans, static):
                evidence = ProjectRun(ctx, plan, config, len(projects)).run()
                live, drift = run_live_checks(plan, evidence, config)
                projects.append(build_project_report(plan, evidence, _ordered(checks, live), drift))
    finally:
        with _signals_held():
            try:
                ctx.close()
            finally:
                if server is not None:
                    server.stop()
                remove_temp_dir(workdir)

    # report
    return Report(
        migbot_version=__version__,
        result="fail" if any(p.result == "fail" for p in projects) else "pass",
        refs=ReportRefs(base_ref=refs.base_ref, base=refs.base, merge_base=refs.merge_base,
                        head_ref=refs.head_ref, head=refs.head),
        database=database,
        started_at=started_at,
        seconds=round(time.monotonic() - started, 2),
        projects=projects,
        counts=Counts.of(projects),
        notes=notes,
    )


def _provision(ctx: RunContext, server, options: VerifyOptions, progress: Progress) -> str:
    """Wait for migbot's own server (or take --database-url); returns how the report names it."""
    if server is not None:
        server.wait_ready()
        progress.result(f"PostgreSQL {server.version} ready", "pass", sum(server.timings.values()))
        ctx.attach_server(server.info)
        return f"throwaway PostgreSQL {server.version} started by migbot"
    info = ServerInfo.from_url(options.database_url)
    ctx.attach_server(info)
    return f"PostgreSQL at {info.host}:{info.port} (--database-url); migbot's own databases, dropped afterwards"


def _ordered(*groups):
    """Checks in the catalogue's order, whichever stage produced them."""
    position = {spec.id: i for i, spec in enumerate(CHECKS)}
    return sorted((c for group in groups for c in group), key=lambda c: position[c.id])


def _config_change(repo: GitRepo, merge_base: str, config) -> str | None:
    """Check levels come from the branch itself: a branch that relaxes them must say so, since
    migbot is the required check that would otherwise pass quietly."""
    base_blobs = repo.tree_blobs(merge_base)
    try:
        before = read_config(repo.read_files(merge_base, [f for f in CONFIG_FILES if f in base_blobs]))
    except MigbotError:
        return None
    if before.model_dump() == config.model_dump():
        return None
    levels = [f"`{check}` {before.level(check).value} → {config.level(check).value}" for check in BY_ID
              if before.level(check) != config.level(check)]
    return ("This branch changes migbot's configuration, and the checks ran with the branch's settings"
            + (f" ({', '.join(levels)})" if levels else "") + ". Review that change too.")


def _notes(repo: GitRepo, options: VerifyOptions, plans, config) -> list[str]:
    notes = []
    if options.head == "HEAD":
        changed, untracked = repo.dirty_paths()
        for paths, what in ((changed, "Uncommitted changes"), (untracked, "Untracked files")):
            if paths:
                shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
                notes.append(f"{what} are not verified ({shown}): migbot checks the committed HEAD.")
    known = {rev for plan in plans for rev in plan.head.graph.ids}
    for allowed in config.allow_irreversible:
        if allowed.revision not in known:
            notes.append(f"allow-irreversible names revision {allowed.revision}, which no revision file declares.")
    for plan in plans:
        if plan.merge_base.project is None:
            notes.append(f"{plan.project.ini_path} does not exist at the merge-base: the base state is an empty database.")
    return notes


@contextmanager
def _signals_held():
    """Cleanup must not be cut short by a second Ctrl-C."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
