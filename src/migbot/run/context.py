"""What a live run shares across projects: its temp dir, trees, databases and workers.

Everything acquired here is released by close(), which the pipeline calls on
every exit path (errors, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from migbot.config import ProjectSettings, project_env
from migbot.discover.git import GitRepo, unreadable_note
from migbot.discover.projects import AlembicProject
from migbot.discover.tree_writer import Unreadable
from migbot.plan.changes import ProjectPlan
from migbot.plan.export_paths import Selection, export_selections
from migbot.progress import Progress
from migbot.provision.binaries import find_pg_dump
from migbot.provision.conninfo import ServerInfo
from migbot.provision.databases import Databases
from migbot.provision.roles import create_owner_role
from migbot.provision.server import cache_root
from migbot.redact import Redactor
from migbot.run import base_cache
from migbot.run.base_cache import BaseCache
from migbot.run.client import Worker, WorkerSpec
from migbot.run.project_user import ProjectUser
from migbot.snapshot.dump import Dumper


class RunContext:
    def __init__(self, repo: GitRepo, *, timeout: float, progress: Progress, workdir: Path, redact: Redactor,
                 project_environ: dict[str, str]):
        self.repo = repo
        self.project_user = ProjectUser.configured()  # who the project's code runs as, when migbot is root
        self.project_environ = dict(project_environ)  # what the project's code starts with (run.environment)
        if self.project_user is not None:
            home = self.project_user.home(workdir)
            self.project_environ.update(HOME=str(home), TMPDIR=str(home))
        self.timeout = timeout
        self.progress = progress
        self.workdir = workdir
        self.redact = redact
        self.server: ServerInfo | None = None
        self.project_server: ServerInfo | None = None  # how the project's code reaches the server
        self.databases: Databases | None = None
        self._dumper: Dumper | None = None
        self._trees: dict[str, Path] = {}
        self.selections: dict[str, Selection] = {}  # commit -> the paths exported of it
        self._base_cache: BaseCache | None | bool = False  # False: not looked for yet
        self._workers: list[Worker] = []
        self._idle: list[Worker] = []  # spawned, not yet given a tree

    def attach_server(self, server: ServerInfo, bindir: Path | None = None, *, superuser: bool = False) -> None:
        """The PostgreSQL server to use, once it accepts connections (`bindir`: its binaries,
        when migbot started it). The project's code reaches it as the databases' owner role
        (provision.roles), or as migbot's own user with `superuser`."""
        self.server = server
        self.databases = Databases(server, timeout=self.timeout, bindir=bindir)
        self.redact.secrets.extend(server.secrets())
        self.project_server = server
        if not superuser:
            role = create_owner_role(self.databases.admin(), f"{self.databases.prefix}_owner", lent=not server.owned)
            self.databases.owner = role.name
            self.project_server = replace(server, user=role.name, password=role.password)
            self.redact.secrets.extend(self.project_server.secrets())

    def dumper(self) -> Dumper:
        """pg_dump for the server (its own, or one at least as new), found once;
        MIGBOT_PG_DUMP names one, or turns the backstop off with `none`."""
        if self._dumper is None:
            chosen = os.environ.get("MIGBOT_PG_DUMP", "")
            if chosen.lower() == "none":
                pg_dump, missing = None, "the pg_dump backstop is off (MIGBOT_PG_DUMP=none)"
            else:
                pg_dump, missing = find_pg_dump(self.databases.server_major(), self.databases.bindir,
                                                chosen or None)
            self._dumper = Dumper(pg_dump, self.databases.server.admin_kwargs(), missing)
        return self._dumper

    def base_cache(self) -> BaseCache | None:
        """The cache of base states (run.base_cache), unless it is off or there is no pg_dump."""
        if self._base_cache is False:
            dumper = self.dumper()
            self._base_cache = None if base_cache.mode() == "off" or dumper.pg_dump is None else \
                BaseCache(cache_root(), dumper)
        return self._base_cache

    def base_cache_key(self, commit: str, settings: ProjectSettings, *, superuser: bool) -> str | None:
        """The cache key of the base state built from `commit` (None: its files are not known)."""
        selection = self.selections.get(commit)
        if selection is None:
            return None
        files = [(path, sha) for _mode, sha, path in self.repo.tree_entries(commit) if selection.wanted(path)]
        server = self.databases.server
        where = "own" if server.owned else f"{server.host}:{server.port}/{server.user}"
        return base_cache.cache_key(files=files, settings=settings.model_dump_json(), superuser=superuser,
                                    server=f"{self.databases.server_version()} {where}",
                                    python=self.python(settings))

    def check_out(self, plans: list[ProjectPlan]) -> list[str]:
        """Export, side by side and concurrently, the files each plan's trees need (plan.export_paths);
        returns notes on the files left out because git could not read them (which the projects
        were not found to need), and on `export` entries that name nothing."""
        selections = {c: s for c, s in export_selections(self.repo, plans).items() if c not in self._trees}
        self.selections.update(selections)
        paths = {c: self.workdir / f"tree-{c[:12]}" for c in selections}

        def export(commit: str) -> list[Unreadable]:
            selection = selections[commit]
            return self.repo.export_tree(commit, paths[commit], wanted=selection.wanted, required=selection.is_needed)

        with ThreadPoolExecutor(max_workers=max(1, len(selections))) as pool:
            left_out = dict(zip(selections, pool.map(export, selections)))
        self._trees.update(paths)
        unmatched = set.intersection(*(s.unmatched for s in selections.values())) if selections else set()
        alike: dict[tuple[Unreadable, ...], list[str]] = {}  # one note for files left out of both trees
        for commit, files in left_out.items():
            if files:
                alike.setdefault(tuple(files), []).append(commit)
        return [unreadable_note(commits, list(files)) for files, commits in alike.items()] + [
            f"`export` names {path}, which is in none of the commits migbot ran." for path in sorted(unmatched)]

    def tree(self, commit: str) -> Path:
        """The exported tree of `commit`: the whole commit, if check_out did not export it."""
        if commit not in self._trees:
            path = self.workdir / f"tree-{commit[:12]}"
            self.repo.export_tree(commit, path)
            self._trees[commit] = path
        return self._trees[commit]

    def prespawn(self, settings: ProjectSettings, count: int = 2) -> None:
        """Start worker interpreters now, so they import Alembic and SQLAlchemy while
        migbot plans, checks out trees and starts PostgreSQL."""
        for _ in range(count):
            worker = self._new_worker(self.python(settings))
            worker.spawn()
            self._idle.append(worker)

    def _new_worker(self, python: str) -> Worker:
        worker = Worker(python, self.workdir / f"worker-{len(self._workers)}.log", timeout=self.timeout,
                        base_env=self.project_environ, run_as=self.project_user)
        self._workers.append(worker)
        return worker

    def worker(self, *, role: str, project: AlembicProject, settings: ProjectSettings, tree: Path,
               dbname: str) -> Worker:
        ini = tree / project.ini_path
        # Configured entries first (as documented), then the tree root, the ini's folder and src/.
        sys_path = [str((tree / p).resolve()) for p in settings.sys_path] + [str(tree), str(ini.parent)]
        if (tree / "src").is_dir():
            sys_path.append(str(tree / "src"))
        env_py = tree / project.env_py
        spec = WorkerSpec(
            name=role,
            project_root=tree,
            cwd=(tree / project.run_dir) if project.run_dir is not None else ini.parent,
            ini_path=ini,
            sys_path=list(dict.fromkeys(sys_path)),
            env=project_env(settings),
            placeholders=self.project_server.placeholders(dbname),
            env_py_text=env_py.read_text(errors="replace") if env_py.is_file() else "",
            ini_driver=project.ini_url_driver,
            set_url=settings.set_sqlalchemy_url,
            toml_file=str(tree / project.toml_file) if project.toml_file else None,
            runner=settings.runner,
        )
        python = self.python(settings)
        worker = next((w for w in self._idle if w.python == python), None)
        if worker is not None:
            self._idle.remove(worker)
        else:
            worker = self._new_worker(python)
        worker.configure(spec)
        return worker

    def python(self, settings: ProjectSettings) -> str:
        """The project's interpreter: config, then the active or repo virtualenv, then migbot's own."""
        root = self.repo.root
        if settings.python:
            path = Path(settings.python).expanduser()
            if not path.is_absolute() and os.sep in settings.python:
                path = root / path
            return str(path) if path.is_absolute() else (shutil.which(settings.python) or settings.python)
        candidates = []
        if os.environ.get("VIRTUAL_ENV"):
            candidates.append(Path(os.environ["VIRTUAL_ENV"]) / "bin" / "python")
        candidates += [root / ".venv" / "bin" / "python", root / "venv" / "bin" / "python"]
        for candidate in candidates:
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        return sys.executable

    def close(self) -> None:
        """Release everything; a failure here is reported, never raised over the real outcome."""
        problems = []
        for worker in self._workers:
            try:
                worker.stop()
            except OSError as exc:
                problems.append(f"a worker could not be stopped: {exc}")
        if self.databases is not None:
            try:
                problems += self.databases.drop_all()
            except Exception as exc:  # noqa: BLE001 - keep the run's own outcome
                problems.append(f"the databases could not be dropped: {exc}")
        for problem in problems:
            print(f"migbot: warning: {self.redact(problem)}", file=sys.stderr)
