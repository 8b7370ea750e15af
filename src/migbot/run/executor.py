"""The Alembic verbs of one worker, for one tree and one database.

Every outcome comes back localized (paths relative to the repository, secrets out,
run-specific noise out: see redact.stable_text), and every command that runs
something marks the database as changed. The live phases (base.py, stairway.py, ...)
talk to this class only, never to the worker protocol.
"""

from __future__ import annotations

import os
from pathlib import Path

from migbot.errors import UsageError
from migbot.evidence import AlembicMap, LiveRevision, StepError, StepOutcome
from migbot.redact import stable_text
from migbot.run.client import Worker
from migbot.run.database import Database


class TreeExecutor:
    def __init__(self, worker: Worker, tree: Path, db: Database, *, redact, workdir: Path):
        self.worker = worker
        self.tree = tree
        self.db = db
        self.redact = redact
        self.workdir = workdir

    # --- the verbs ------------------------------------------------------------------------
    def submit_load(self) -> StepOutcome | None:
        """Start `load` without waiting (collect_load() waits): the app imports meanwhile."""
        return self.worker.submit("load")

    def collect_load(self, early: StepOutcome | None = None) -> StepOutcome:
        return self._finish(early if early is not None else self.worker.collect())

    def load(self) -> StepOutcome:
        return self._call("load")

    def plan(self, from_heads: list[str]) -> StepOutcome:
        return self._call("plan", from_heads=list(from_heads))

    def upgrade(self, target: str) -> StepOutcome:
        return self._call("upgrade", changes=True, target=target)

    def apply(self, revisions: list[str], *, upgrade: bool, observe: bool = False) -> StepOutcome:
        """Exactly these revisions, in this order and direction, in one run of env.py; observe:
        record the rows each step wrote (see worker/migbot_worker/observe.py)."""
        return self._call("apply", changes=True, revisions=list(revisions), upgrade=upgrade, observe=observe)

    def stamp(self, target: str) -> StepOutcome:
        return self._call("stamp", changes=True, target=target)

    def drift(self) -> StepOutcome:
        return self._call("drift")

    def submit_drift(self) -> StepOutcome | None:
        return self.worker.submit("drift")

    def collect(self) -> StepOutcome:
        return self._finish(self.worker.collect())

    def shell(self, command: str) -> StepOutcome:
        return self._call("shell", changes=True, command=command)

    def seed(self, modules: list[str], command: str | None) -> StepOutcome:
        return self._call("seed", changes=True, modules=modules, command=command)

    def stop(self) -> None:
        self.worker.stop()

    # --- outcomes -------------------------------------------------------------------------
    def _call(self, cmd: str, *, changes: bool = False, **args) -> StepOutcome:
        outcome = self._finish(self.worker.request(cmd, **args))
        if changes:
            self.db.changed()
        if outcome.error is not None and outcome.error.kind in ("timeout", "crash"):
            # The killed worker's backend may still hold locks the next step would wait on.
            self.db.disconnect_all()
        return outcome

    def _finish(self, outcome: StepOutcome) -> StepOutcome:
        raise_if_interpreter_unusable(outcome, self.worker)
        return self._localize(outcome)

    def _localize(self, outcome: StepOutcome) -> StepOutcome:
        """Secrets out, tree paths made repo-relative, run-specific noise out."""
        err = outcome.error
        if err is None:
            return outcome
        file = err.file
        if file:
            file = os.path.relpath(file, self.tree)
            if file.startswith(".."):
                file = None  # outside the repository: not worth pointing at

        def clean(text: str) -> str:
            # The same error at base and at head reads the same: the trees live in different folders.
            text = self.redact(text) or ""
            return stable_text(text, {str(self.tree) + os.sep: "", str(self.workdir): "<migbot's temp dir>"})

        outcome.error = StepError(
            type=err.type, message=clean(err.message), file=file, line=err.line, revision=err.revision,
            traceback=clean(err.traceback), kind=err.kind, table=err.table, constraint=err.constraint,
            column=err.column, deliberate=err.deliberate,
        )
        return outcome

    def alembic_map(self, loaded: dict) -> AlembicMap:
        """The worker's report of Alembic's revision map, with paths relative to the repository."""
        raw = loaded["map"]
        revisions = {
            rev["id"]: LiveRevision(id=rev["id"], down_revisions=tuple(rev["down_revisions"]),
                                    dependencies=tuple(rev["dependencies"]), branch_labels=tuple(rev["branch_labels"]),
                                    path=self._relative(rev["path"]) or rev["path"], doc=rev.get("doc", ""))
            for rev in raw["revisions"]
        }
        dirs = [self._relative(d) for d in raw["version_dirs"]]
        return AlembicMap(
            revisions=revisions, heads=list(raw["heads"]),
            script_dir=self._relative(raw["script_dir"]),
            version_dirs=[d for d in dirs if d is not None],
            outside_tree=[d for d, r in zip(raw["version_dirs"], dirs) if r is None],
        )

    def _relative(self, path: str) -> str | None:
        """Repo-relative POSIX path ("" for the root), or None outside the tree."""
        root = os.path.realpath(self.tree)
        relative = os.path.relpath(os.path.realpath(path), root)
        if relative == ".":
            return ""
        return None if relative.startswith("..") else relative.replace(os.sep, "/")


def raise_if_interpreter_unusable(outcome: StepOutcome, worker: Worker) -> None:
    """An interpreter that cannot run Alembic is the setup's fault, not the branch's."""
    if outcome.error is not None and outcome.error.kind == "interpreter":
        raise UsageError(
            outcome.error.message,
            hint=f"migbot runs env.py with the project's own interpreter, and picked {worker.python}. "
            "Set `python` in [tool.migbot] (pyproject.toml) to the one from your project's virtualenv, "
            "or install your project's dependencies (with alembic) into it.",
        )
