"""What a live run shares across projects: its temp dir, trees, databases and workers.

Everything acquired here is released by close(), which the pipeline calls on
every exit path (errors, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from migbot.config import ProjectSettings, project_env
from migbot.discover.git import GitRepo
from migbot.discover.projects import AlembicProject
from migbot.provision.conninfo import ServerInfo
from migbot.provision.databases import Databases
from migbot.run.client import StepError, StepOutcome, Worker, WorkerSpec

REDACTED = "********"


class Progress:
    """Where the pipeline reports what it is doing; the terminal renderer shows it."""

    def step(self, text: str) -> None:  # noqa: D102 - no-op by default
        pass

    def result(self, text: str, status: str, seconds: float | None = None) -> None:
        pass


@dataclass
class Redactor:
    secrets: list[str] = field(default_factory=list)

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def outcome(self, outcome: StepOutcome) -> StepOutcome:
        if outcome.error:
            err = outcome.error
            outcome.error = StepError(
                type=err.type, message=self(err.message) or "", file=err.file, line=err.line,
                revision=err.revision, traceback=self(err.traceback) or "", kind=err.kind,
            )
        return outcome


class RunContext:
    def __init__(self, repo: GitRepo, server: ServerInfo, *, timeout: float, progress: Progress,
                 workdir: Path, redact: Redactor):
        self.repo = repo
        self.server = server
        self.timeout = timeout
        self.progress = progress
        self.workdir = workdir
        self.redact = redact
        self.databases = Databases(server, timeout=timeout)
        self._trees: dict[str, Path] = {}
        self._workers: list[Worker] = []

    def tree(self, commit: str) -> Path:
        """A checkout of `commit` (one per commit, shared by projects)."""
        if commit not in self._trees:
            path = self.workdir / f"tree-{commit[:12]}"
            self.repo.add_worktree(commit, path)
            self._trees[commit] = path
        return self._trees[commit]

    def worker(self, *, role: str, project: AlembicProject, settings: ProjectSettings, tree: Path,
               dbname: str) -> Worker:
        ini = tree / project.ini_path
        sys_path = [str(tree), str(ini.parent)]
        if (tree / "src").is_dir():
            sys_path.append(str(tree / "src"))
        sys_path += [str((tree / p).resolve()) for p in settings.sys_path]
        env_py = tree / project.env_py
        spec = WorkerSpec(
            name=role,
            python=self.python(settings),
            project_root=tree,
            cwd=ini.parent,
            ini_path=ini,
            sys_path=list(dict.fromkeys(sys_path)),
            env=project_env(settings),
            placeholders=self.server.placeholders(dbname),
            log_path=self.workdir / f"{role}-{dbname}.log",
            env_py_text=env_py.read_text(errors="replace") if env_py.is_file() else "",
            ini_driver=project.ini_url_driver,
            set_url=settings.set_sqlalchemy_url,
            toml_file=str(tree / project.toml_file) if project.toml_file else None,
        )
        worker = Worker(spec, timeout=self.timeout)
        self._workers.append(worker)
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
        for worker in self._workers:
            worker.stop()
        try:
            self.databases.drop_all()
        finally:
            for path in self._trees.values():
                self.repo.remove_worktree(path)


def make_workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="migbot-"))
    os.chmod(path, 0o711)  # the server's unprivileged user must be able to enter it
    (path / "pid").write_text(str(os.getpid()))  # lets a later run sweep it if this one is killed
    return path
