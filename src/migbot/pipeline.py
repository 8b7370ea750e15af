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
from migbot.catalog import BY_ID, CHECKS
from migbot.checks.evaluate import run_live_checks
from migbot.checks.suppress import apply_suppressions
from migbot.checks.static import run_static_checks
from migbot.config import CONFIG_FILES, MigbotConfig, read_config
from migbot.discover.git import GitRepo
from migbot.discover.projects import FoundProjects, find_projects
from migbot.errors import MigbotError
from migbot.evidence import Evidence
from migbot.plan.changes import ProjectPlan, Refs, build_plans, project_inis
from migbot.plan.monorepo import keep_project, select_project
from migbot.progress import Progress
from migbot.provision.conninfo import ServerInfo, tcp_twin
from migbot.provision.leftovers import LEFTOVER_AGE, sweep
from migbot.provision.server import launch_server
from migbot.provision.tempdirs import claim_temp_dir, remove_temp_dir, sweep_stale
from migbot.redact import Redactor
from migbot.report.build import build_project_report
from migbot.report.model import Counts, ProjectReport, Refs as ReportRefs, Report
from migbot.run.context import RunContext
from migbot.run.environment import allowlisted, inherited
from migbot.run.project import ProjectRun


@dataclass
class VerifyOptions:
    repo: Path = Path(".")
    base: str | None = None
    head: str = "HEAD"
    database_url: str | None = None
    timeout: float | None = None
    config_path: Path | None = None  # a local file the user chose: trusted as it is
    config_in_repo: str | None = None  # a file of the repository (the Action's `config` input), read from git
    # The project's code gets only an allowlisted environment (the Action), not the caller's own.
    allowlisted_env: bool = False
    # How the report names the two sides when base and head are bare SHAs (the Action's case).
    base_label: str | None = None
    head_label: str | None = None
    project: str | None = None  # --project: verify only this Alembic project (its folder or ini file)


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
    config, config_note = _config(repo, refs, head_blobs, options)
    timeout = options.timeout or config.timeout_seconds

    # plan, while PostgreSQL boots and the workers import Alembic and SQLAlchemy
    redact = Redactor(ServerInfo.from_url(options.database_url).secrets() if options.database_url else [])
    projects: list[ProjectReport] = []
    sweep_stale([Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"),
                 *([Path(os.environ["MIGBOT_PG_TMPDIR"])] if os.environ.get("MIGBOT_PG_TMPDIR") else [])])
    workdir = claim_temp_dir("migbot-")
    server = None
    ctx = RunContext(repo, timeout=timeout, progress=progress, workdir=workdir, redact=redact,
                     project_environ=allowlisted() if options.allowlisted_env else inherited())
    # The branch has nothing of its own when head is the merge-base: say so, skip the live run.
    nothing_new = refs.head == refs.merge_base
    try:
        found = find_projects(sorted(head_blobs), lambda paths: repo.read_files(head, paths))
        ini_paths = project_inis(config, found)
        if options.project is not None:
            ini_paths = select_project(options.project, ini_paths)
        if ini_paths and not nothing_new:
            if not options.database_url:
                progress.step("starting a throwaway PostgreSQL")
                server = launch_server(workdir)
            ctx.prespawn(config.for_project(ini_paths[0]))
        plans = build_plans(repo, refs, config, head_blobs, found)
        if options.project is not None:
            plans, found = keep_project(plans, found, ini_paths[0])
        notes = _notes(repo, options, plans, config, found) + ([config_note] if config_note else [])
        if nothing_new:
            notes.insert(0, f"{refs.head_ref} ({refs.head[:7]}) has no commits that {refs.base_ref} does not have, "
                         "so there is nothing to verify. Is --base the branch this change merges into?")
            database = "none (nothing to verify)"
            skipped = f"{refs.head_ref} has no commits of its own against {refs.base_ref}"
            runs = [(plan, Evidence(base_has_alembic=plan.merge_base.project is not None, live_skipped=skipped))
                    for plan in plans]
        else:
            notes += ctx.check_out(plans)
            database = _provision(ctx, server, options, progress, superuser=config.superuser, notes=notes)
            # run in worker processes, snapshot and compare
            runs = [ProjectRun(ctx, plan, config, index).run() for index, plan in enumerate(plans)]
            _note_unloaded_revision_files(runs)
        notes += _unknown_allowances(config, runs)
        # checks, then each project's report
        for plan, evidence in runs:
            live, drift = run_live_checks(plan, evidence, config)
            static = run_static_checks(plan, config, evidence)
            checks = apply_suppressions(plan, config, _ordered(static, live))
            projects.append(build_project_report(plan, evidence, checks, drift))
            notes += plan.notes
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


def _provision(ctx: RunContext, server, options: VerifyOptions, progress: Progress, *, superuser: bool,
               notes: list[str]) -> str:
    """Wait for migbot's own server (or take --database-url, and drop what killed runs left
    there, noted in `notes`); returns how the report names it."""
    if server is not None:
        server.wait_ready()
        progress.result(f"PostgreSQL {server.version} ready", "pass", sum(server.timings.values()))
        ctx.attach_server(server.info, bindir=server.bindir, superuser=superuser)
        return f"throwaway PostgreSQL {server.version} started by migbot"
    info = ServerInfo.from_url(options.database_url)
    if info.host.startswith("/"):
        twin = tcp_twin(info)
        where = f"--database-url reaches PostgreSQL through the socket in {info.host}"
        if twin is not None:
            info = twin
            notes.append(f"{where}: the host variables given to the project (POSTGRES_SERVER, PGHOST, {{host}}) "
                         f"name 127.0.0.1, where the same server listens on port {info.port}.")
        else:
            notes.append(f"{where}, and it does not listen on 127.0.0.1:{info.port}: the host variables given to "
                         "the project (POSTGRES_SERVER, PGHOST, {host}) name that directory. A project that builds "
                         "its URL from a host and a port needs a TCP --database-url.")
    ctx.attach_server(info, superuser=superuser)
    for line in sweep(ctx.databases.admin(), older_than=LEFTOVER_AGE):
        progress.result(line, "warn")
        notes.append(line[0].upper() + line[1:] + ".")
    return f"PostgreSQL at {info.host}:{info.port} (--database-url); migbot's own databases, dropped afterwards"


def _ordered(*groups):
    """Checks in the catalogue's order, whichever stage produced them."""
    position = {spec.id: i for i, spec in enumerate(CHECKS)}
    return sorted((c for group in groups for c in group), key=lambda c: position[c.id])


def _config(repo: GitRepo, refs: Refs, head_blobs: dict, options: VerifyOptions) -> tuple[MigbotConfig, str | None]:
    """The config to run with, and a note on what the branch changes in it.

    migbot is the required check on the branch under review, so the branch must not set its own
    policy: check levels, `superuser` and `squawk-exclude` come from the base branch, everything about how to run
    the project (interpreter, env, seeds, ...) from the branch. A file chosen with --config is
    the user's own and is taken whole."""
    if options.config_path is not None:
        return read_config({}, options.config_path), None
    names = [options.config_in_repo] if options.config_in_repo else list(CONFIG_FILES)
    head = read_config(repo.read_files(refs.head, [f for f in names if f in head_blobs]),
                       name=options.config_in_repo)
    base_blobs = repo.tree_blobs(refs.base)
    try:
        base = read_config(repo.read_files(refs.base, [f for f in names if f in base_blobs]),
                           name=options.config_in_repo)
    except MigbotError as exc:
        return head.with_policy_of(MigbotConfig()), (
            f"The base branch's migbot config cannot be read ({exc.message}), so this run used the default check "
            "levels.")
    return head.with_policy_of(base), _policy_note(base, head)


def _policy_note(base: MigbotConfig, head: MigbotConfig) -> str | None:
    changes = [f"`{check}` {base.level(check).value} → {head.level(check).value}" for check in BY_ID
               if base.level(check) != head.level(check)]
    if base.superuser != head.superuser:
        changes.append(f"`superuser` {str(base.superuser).lower()} → {str(head.superuser).lower()}")
    if base.squawk_exclude != head.squawk_exclude:
        changes.append("`squawk-exclude`")
    if not changes:
        return None
    return ("This branch changes migbot's policy (" + ", ".join(changes) + "). It takes effect once merged: this "
            "run used the base branch's. Review that change too.")


def _notes(repo: GitRepo, options: VerifyOptions, plans: list[ProjectPlan], config: MigbotConfig,
           found: FoundProjects) -> list[str]:
    notes = []
    if options.head == "HEAD":
        changed, untracked = repo.dirty_paths()
        for paths, what in ((changed, "Uncommitted changes"), (untracked, "Untracked files")):
            if paths:
                shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
                notes.append(f"{what} are not verified ({shown}): migbot checks the committed HEAD.")
    verified = {plan.project.ini_path for plan in plans}
    for ini, why in found.skipped:
        if ini not in verified:
            notes.append(f"{ini} holds an Alembic project that migbot did not verify: {why}. Name it in alembic-ini "
                         "to verify it.")
    for ini in found.inis:
        if ini not in verified:
            notes.append(f"{ini} holds an Alembic project that migbot did not verify: alembic-ini in "
                         f"{config.source} does not name it.")
    for plan in plans:
        if plan.merge_base.project is None:
            notes.append(f"{plan.project.ini_path} does not exist at the merge-base: the base state is an empty "
                         "database.")
    return notes


def _unknown_allowances(config: MigbotConfig, runs: list[tuple[ProjectPlan, Evidence]]) -> list[str]:
    """allow-irreversible entries that name no revision: Alembic's map where it was read."""
    known = {rev for plan, ev in runs for rev in (ev.alembic.revisions if ev.alembic else plan.head.graph.ids)}
    return [f"allow-irreversible names revision {allowed.revision}, which no revision file declares."
            for allowed in config.allow_irreversible if allowed.revision not in known]


def _note_unloaded_revision_files(runs: list[tuple[ProjectPlan, Evidence]]) -> None:
    """Revision-like files the branch changed that no project's Alembic loaded, given to the
    project they most likely belong to (its version folders, else the nearest ini folder).
    A file in a folder that already held revisions at the merge-base, none of which any run
    loads, belongs to a history migbot did not run (env.py chose another folder for this
    database): that is said, as a warning. Any other is a file Alembic never sees."""
    loaded = {path for _plan, ev in runs if ev.alembic is not None for path in ev.alembic.paths}
    loaded_folders = {path.rsplit("/", 1)[0] for path in loaded if "/" in path}
    candidates = runs[0][0].revision_like_changes if runs else []
    for path in candidates:
        if path in loaded:
            continue
        plan, ev = max(runs, key=lambda run: _closeness(run[0], path))
        if ev.alembic is None:
            continue
        folder = path.rsplit("/", 1)[0] if "/" in path else ""
        if folder not in loaded_folders and _held_revisions(plan, folder):
            ev.unverified_histories.setdefault(folder, []).append(path)
        else:
            ev.unloaded_revision_files.append(path)


def _held_revisions(plan: ProjectPlan, folder: str) -> bool:
    """Did `folder` already hold revision files at the merge-base?"""
    blobs = plan.merge_base.blobs
    olds = [p for p in blobs if p.endswith(".py") and (p.rsplit("/", 1)[0] if "/" in p else "") == folder]
    if not olds or plan.parsed is None:
        return False
    return any(rev.revision is not None and rev.down_revision_line is not None
               for rev in plan.parsed.files(olds, blobs).values())


def _closeness(plan: ProjectPlan, path: str) -> tuple[int, int]:
    folder = path.rsplit("/", 1)[0] if "/" in path else ""
    in_versions = any(folder == d or folder.startswith(d + "/") for d in plan.project.version_dirs)
    home = plan.project.directory
    prefix = len(home) + 1 if home and path.startswith(home + "/") else (0 if not home else -1)
    return int(in_versions), prefix


@contextmanager
def _signals_held():
    """Cleanup must not be cut short by a second Ctrl-C."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
