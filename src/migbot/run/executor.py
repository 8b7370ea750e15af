"""The Alembic verbs of one worker, for one tree and one database.

Every outcome comes back localized (paths relative to the repository, secrets out,
run-specific noise out: see redact.stable_text), and every command that runs
something marks the database as changed. The live phases (base.py, stairway.py, ...)
talk to this class only, never to the worker protocol.

The stairway's steps go through `step()` and `stamp_step()`: one run of env.py serves
them all (a session, see worker/migbot_worker/session.py) where env.py lets each step
commit on its own, else each is a command of its own. Any other command ends the session
first.
"""

from __future__ import annotations

import os
from pathlib import Path

from migbot.errors import UsageError
from migbot.evidence import AlembicMap, LiveRevision, StepError, StepOutcome
from migbot.redact import stable_text
from migbot.run.client import Worker
from migbot.run.database import Database


class Abandoned(Exception):
    """The run no longer wants this executor's results: it was interrupted, or failed elsewhere."""


class SessionLost(Exception):
    """A step ran in the session, but its transaction did not commit: the database is in doubt."""


class TreeExecutor:
    def __init__(self, worker: Worker, tree: Path, db: Database, *, redact, workdir: Path):
        self.worker = worker
        self.tree = tree
        self.db = db
        self.redact = redact
        self.workdir = workdir
        self._session = None  # the worker process whose env.py run serves steps now, if any
        self.sessions_unavailable: str | None = None  # why steps run one command each, once known
        self.abandoned = False

    # --- the verbs ------------------------------------------------------------------------
    def submit_load(self) -> StepOutcome | None:
        """Start `load` without waiting (collect_load() waits): the app imports meanwhile."""
        self.end_session()
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
        self.end_session()
        return self.worker.submit("drift")

    def collect(self) -> StepOutcome:
        return self._finish(self.worker.collect())

    def shell(self, command: str) -> StepOutcome:
        return self._call("shell", changes=True, command=command)

    def seed(self, modules: list[str], command: str | None) -> StepOutcome:
        return self._call("seed", changes=True, modules=modules, command=command)

    def stop(self) -> None:
        self._session = None
        self.worker.stop()

    def abandon(self) -> None:
        """From another thread: stop the worker, and refuse every command from now on."""
        self.abandoned = True
        self.stop()

    # --- the stairway's steps, in a session where env.py allows it -------------------------
    def step(self, revision: str, *, upgrade: bool, observe: bool = False) -> StepOutcome:
        """One revision in one direction, committed when it returns; observe as in apply()."""
        if not self._in_session():
            return self.apply([revision], upgrade=upgrade, observe=observe)
        return self._session_call("step", revision=revision, upgrade=upgrade, observe=observe)

    def stamp_step(self, target: str) -> StepOutcome:
        if not self._in_session():
            return self.stamp(target)
        return self._session_call("stamp", target=target)

    def end_session(self) -> None:
        if self._session is None:
            return
        self._session = None
        ended = self.worker.request("end")
        if not ended.ok:
            # env.py failed after its steps had run: commands of their own will show how.
            self.sessions_unavailable = "env.py failed after the steps of a session"

    def _in_session(self) -> bool:
        if self.abandoned:
            raise Abandoned()
        process = self.worker.process
        if self._session is not None:
            if process is self._session and process.poll() is None:
                return True
            self._session = None  # the worker was stopped or died: its session with it
        if self.sessions_unavailable is not None:
            return False
        opened = self.worker.request("session")
        if opened.ok and opened.result.get("ready"):
            self._session = self.worker.process
            return True
        if opened.ok:  # env.py keeps a transaction of its own around the run: no session; it ends
            self.worker.collect()
            self.sessions_unavailable = "env.py runs its migrations in one transaction of its own"
        else:  # env.py failed before any step: a command of its own reports it
            self.sessions_unavailable = "env.py failed to start a session"
        return False

    def _session_call(self, cmd: str, **args) -> StepOutcome:
        outcome = self._call(cmd, changes=True, in_session=True, **args)
        if not outcome.ok:
            self._session = None  # a step that fails ends env.py's run
            if outcome.error is not None and outcome.error.kind == "session":
                self.sessions_unavailable = outcome.error.message
                raise SessionLost(outcome.error.message)
        return outcome

    # --- outcomes -------------------------------------------------------------------------
    def _call(self, cmd: str, *, changes: bool = False, in_session: bool = False, **args) -> StepOutcome:
        if self.abandoned:
            raise Abandoned()
        if not in_session:
            self.end_session()
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
