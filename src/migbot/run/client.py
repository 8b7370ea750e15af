"""migbot's handle on one worker process (see worker/migbot_worker, which runs inside it).

Every request runs under a wall-clock limit. A worker that hangs is killed with
its whole session; one that crashes is reported with the tail of its log. Either
way the caller gets a StepOutcome, never an exception, and the next request
starts a fresh worker.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migbot import _proc
from migbot.errors import UsageError
from migbot.evidence import StepError, StepOutcome
from migbot.run.project_user import ProjectUser, run_as_kwargs

WORKER = Path(__file__).with_name("worker") / "start.py"
# Importing a big app legitimately takes seconds; a tight --timeout meant for
# migrations must not turn a slow import into a failure.
LOAD_TIMEOUT_FLOOR = 60.0


@dataclass
class WorkerSpec:
    """Everything a worker needs to act for one tree."""

    name: str  # "base" or "head"
    project_root: Path  # the tree's checkout
    cwd: Path  # where alembic.ini lives; relative script_location resolves from here
    ini_path: Path
    sys_path: list[str]
    env: dict[str, str]  # templates with {url}-style placeholders
    placeholders: dict[str, str]
    env_py_text: str = ""
    ini_driver: str | None = None
    set_url: bool = True
    toml_file: str | None = None
    runner: str | None = None  # "module:function" that runs each Alembic command (config `runner`)


class Worker:
    """A worker process. spawn() starts the interpreter, which imports Alembic and
    SQLAlchemy straight away; configure() then hands it a tree (WorkerSpec)."""

    def __init__(self, python: str, log_path: Path, timeout: float, base_env: dict[str, str],
                 run_as: ProjectUser | None = None):
        self.python = python
        self.log_path = log_path
        self.timeout = timeout
        self.base_env = base_env  # what the project's code starts with (run.environment)
        self.run_as = run_as  # the OS user it runs as (run.project_user), when migbot is root
        self.spec: WorkerSpec | None = None
        self.process: subprocess.Popen | None = None
        self._reply_fd: int | None = None
        self._buffer = b""
        self._handshake_pending = False
        self._pending: tuple[str, float, float] = ("", 0.0, timeout)
        self.facts: dict = {}  # the interpreter's own report: versions, drivers

    # --- life cycle -----------------------------------------------------------------
    def spawn(self) -> None:
        read_fd, write_fd = os.pipe()
        # The project never sees migbot's own settings (MIGBOT_DATABASE_URL holds the lent
        # server's admin credentials): run.environment says what it sees instead.
        env = dict(self.base_env)
        env["MIGBOT_PROTOCOL_FD"] = str(write_fd)
        log = os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        try:
            self.process = _proc.spawn(
                [self.python, str(WORKER)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                pass_fds=(write_fd,),
                env=env,
                cwd=str(self.log_path.parent),
                **run_as_kwargs(self.run_as),
            )
        except OSError as exc:
            os.close(read_fd)
            raise UsageError(
                f"Could not start the project's Python interpreter {self.python}: {exc.strerror}.",
                hint="Set `python` in [tool.migbot] to the interpreter that has your project's dependencies.",
            ) from None
        finally:
            os.close(write_fd)
            log.close()
        self._reply_fd = read_fd
        self._buffer = b""

    def configure(self, spec: WorkerSpec) -> None:
        """Give the worker its tree; spawns the process first if there is none. Its
        handshake reply is read by the next collect(), so commands can queue behind it."""
        self.spec = spec
        if self.process is None:
            self.spawn()
        self._handshake_pending = True
        self._send({
            "project_root": str(spec.project_root),
            "cwd": str(spec.cwd),
            "ini_path": str(spec.ini_path),

            "sys_path": spec.sys_path,
            "env": spec.env,
            "placeholders": spec.placeholders,
            "env_py_text": spec.env_py_text,
            "ini_driver": spec.ini_driver,
            "set_url": spec.set_url,
            "toml_file": spec.toml_file,
            "runner": spec.runner,
        })

    def handshake(self) -> StepOutcome:
        """Wait for the worker's first reply: interpreter facts, drivers, env set."""
        self._handshake_pending = False
        return self._receive(started=time.monotonic(), what="starting the worker",
                             limit=max(self.timeout, LOAD_TIMEOUT_FLOOR))

    def request(self, cmd: str, **args: Any) -> StepOutcome:
        """Run one command in the worker and wait for its outcome."""
        failed = self.submit(cmd, **args)
        return failed if failed is not None else self.collect()

    def submit(self, cmd: str, **args: Any) -> StepOutcome | None:
        """Send a command without waiting (collect() waits). Returns an outcome only if
        a restarted worker failed before the command could be sent."""
        if self.process is None or self.process.poll() is not None:
            self.stop()
            assert self.spec is not None, "configure() the worker before sending it commands"
            self.configure(self.spec)
            if cmd != "load":
                loaded = self.request("load")
                if not loaded.ok:
                    return loaded
        limit = max(self.timeout, LOAD_TIMEOUT_FLOOR) if cmd == "load" else self.timeout
        self._pending = (cmd, time.monotonic(), limit)
        try:
            self._send({"cmd": cmd, **args})
        except (BrokenPipeError, OSError):
            pass  # collect() reports the crash with the log tail
        return None

    def collect(self) -> StepOutcome:
        cmd, started_at, limit = self._pending
        # A command queued early (the head tree's `load`, while the base is built) is timed
        # from when migbot starts waiting for it: the wait until then is not its own.
        if cmd == "load":
            started_at = time.monotonic()
        if self._handshake_pending:
            started = self.handshake()
            if not started.ok:
                self.stop()  # the queued command was never run
                return started
            self.facts = started.result
        return self._receive(started=started_at, what=cmd, limit=limit)

    def stop(self) -> None:
        """Kill the worker at once: it holds no state worth a clean interpreter shutdown
        (which takes most of a second for a big app)."""
        if self.process is not None:
            _proc.terminate(self.process, first=signal.SIGKILL, grace=2)
            self.process = None
        if self._reply_fd is not None:
            os.close(self._reply_fd)
            self._reply_fd = None
        self._buffer = b""

    # --- protocol -----------------------------------------------------------------
    def _send(self, payload: dict) -> None:
        assert self.process and self.process.stdin
        self.process.stdin.write((json.dumps(payload) + "\n").encode())
        self.process.stdin.flush()

    def _receive(self, *, started: float, what: str, limit: float) -> StepOutcome:
        deadline = started + limit
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._reply_fd], [], [], 0)
            if not ready and remaining <= 0:
                self.stop()
                return StepOutcome(False, time.monotonic() - started, error=StepError(
                    type="Timeout", kind="timeout",
                    message=f"{what} did not finish within {limit:g} s; migbot stopped it.",
                    traceback=self.log_tail(),
                ))
            if not ready:
                select.select([self._reply_fd], [], [], min(max(remaining, 0), 1.0))
                continue
            chunk = os.read(self._reply_fd, 65536)
            if not chunk:
                try:
                    code = self.process.wait(timeout=5) if self.process else None
                except subprocess.TimeoutExpired:
                    code = "unknown: it closed migbot's pipe and kept running"
                self.stop()
                return StepOutcome(False, time.monotonic() - started, error=StepError(
                    type="WorkerCrashed", kind="crash",
                    message=f"the worker process exited during {what} (exit code {code}).",
                    traceback=self.log_tail(),
                ))
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        reply = json.loads(line)
        # The worker's own measure: a command queued early was not waited for all along.
        seconds = reply.get("seconds", time.monotonic() - started)
        if reply.get("ok"):
            return StepOutcome(True, seconds, result=reply.get("result"))
        err = reply["error"]
        return StepOutcome(False, seconds, error=StepError(
            type=err.get("type", "Error"), message=err.get("message", ""), file=err.get("file"),
            line=err.get("line"), revision=err.get("revision"), traceback=err.get("traceback", ""),
            kind=err.get("kind", ""), table=err.get("table"), constraint=err.get("constraint"),
            column=err.get("column"), deliberate=bool(err.get("deliberate")),
        ))

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
