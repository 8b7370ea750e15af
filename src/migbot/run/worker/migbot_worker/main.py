"""The worker's protocol and the set-up of its tree's environment.

One JSON request per line on stdin; one JSON reply per line on the file descriptor
given in MIGBOT_PROTOCOL_FD. The project's own prints go to stderr (migbot's log
file), so they can never corrupt a reply. The first request is the tree's spec; the
app is imported once, by the first env.py run, and every later command re-executes
env.py (cheap) against the cached modules and one ScriptDirectory.
"""

import json
import os
import sys
import time

from migbot_worker import guard, seeds
from migbot_worker.errors import InterpreterUnusable, chain, describe_error
from migbot_worker.executor import Executor
from migbot_worker.guard import (
    expect_database,
    install_driver_guards,
    install_pool_guards,
)


def _installed(module):
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _version(distribution):
    try:
        from importlib.metadata import version

        return version(distribution)
    except Exception:  # noqa: BLE001 - not installed, or an odd install: unknown
        return ""


def _drivers():
    sync = "psycopg" if _installed("psycopg") else ("psycopg2" if _installed("psycopg2") else None)
    if _installed("asyncpg"):
        async_ = "asyncpg"
    elif _installed("psycopg"):
        async_ = "psycopg"
    else:
        async_ = None
    return sync, async_


def _expand(template, values):
    """str.format-style {name} replacement that leaves unknown braces alone."""
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return out


class Channel:
    """The protocol, for a command that talks to migbot while it runs (a session)."""

    def __init__(self, reply, requests):
        self.reply, self._requests = reply, requests

    def read(self):
        line = self._requests.readline()
        return json.loads(line) if line else None


class Worker:
    def __init__(self, spec, channel=None):
        self.spec = spec
        self.channel = channel
        self.executor = None

    def prepare_environment(self):
        if _PREIMPORT_ERROR:
            raise InterpreterUnusable(
                "The project's Python interpreter {} cannot import Alembic and SQLAlchemy ({}).".format(
                    sys.executable, _PREIMPORT_ERROR))
        spec = self.spec
        sync, async_ = _drivers()
        env_py = spec.get("env_py_text") or ""
        is_async = "async_engine_from_config" in env_py or "create_async_engine" in env_py or "AsyncEngine" in env_py
        values = dict(spec["placeholders"])
        netloc, dbname, query = values.pop("netloc"), values["dbname"], values.pop("query", "")

        def url(driver):
            return "postgresql{}://{}/{}{}".format("+" + driver if driver else "", netloc, dbname, query)

        values["sync_url"] = url(sync)
        values["async_url"] = url(async_ or "asyncpg")
        if spec.get("ini_driver"):  # e.g. "asyncpg" from the ini's own placeholder URL
            values["url"] = url(spec["ini_driver"])
        else:
            values["url"] = values["async_url"] if is_async else values["sync_url"]
        self.sync_url, self.async_url, self.url = values["sync_url"], values["async_url"], values["url"]
        for key, template in spec["env"].items():
            os.environ[key] = _expand(template, values)
        for path in reversed(spec["sys_path"]):
            if path not in sys.path:
                sys.path.insert(0, path)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            spec["sys_path"] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
        os.chdir(spec["cwd"])
        expect_database(spec["placeholders"]["dbname"], root=spec["project_root"])
        self.executor = Executor(spec, self.url)
        return {
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "alembic": _version("alembic"),
            "sqlalchemy": _version("sqlalchemy"),
            "drivers": {"sync": sync, "async": async_},
            "async_env": is_async,
            "url_driver": self.url.split("://", 1)[0],
        }

    def handle(self, request):
        """One command. A connection the guard refused fails it, even if the project caught
        the refusal (or failed in another way because of it)."""
        guard.start_command()
        try:
            result = self._handle(request)
        except BaseException as exc:
            refused = guard.refusal()
            if refused is not None and not any(e is refused for e in chain(exc)):
                raise refused from exc
            raise
        refused = guard.refusal()
        if refused is not None:
            raise refused
        return result

    def _handle(self, request):
        cmd, ex = request["cmd"], self.executor
        if cmd == "load":
            return ex.load()
        if cmd == "plan":
            return ex.plan(request["from_heads"])
        if cmd == "upgrade":
            return ex.upgrade(request["target"])
        if cmd == "apply":
            return ex.apply(request["revisions"], request["upgrade"], request.get("observe", False))
        if cmd == "stamp":
            return ex.stamp(request["target"])
        if cmd == "session":
            return ex.session(self.channel)
        if cmd == "drift":
            return ex.drift()
        if cmd == "shell":
            return seeds.run_shell(request["command"], self.spec["ini_path"], self.url,
                                   self.spec.get("set_url", True), cwd=request.get("cwd"))
        if cmd == "seed":
            if request.get("command"):
                return seeds.run_shell(request["command"], self.spec["ini_path"], self.url,
                                       self.spec.get("set_url", True))
            return seeds.run_seed_set(request["modules"], self.sync_url, self.async_url)
        raise ValueError("unknown worker command {!r}".format(cmd))

    def describe(self, exc):
        files = self.executor.revision_files if self.executor is not None else {}
        return describe_error(exc, os.path.realpath(self.spec["project_root"]), files)


_PREIMPORT_ERROR = None


def _preimport():
    """Import the libraries every Alembic project needs before knowing which tree this
    worker will serve. They live in the interpreter's site-packages, not in the trees,
    so importing them early changes nothing but the time it takes. (It also means a
    project folder named `alembic/` cannot shadow the real package.)"""
    global _PREIMPORT_ERROR
    install_driver_guards()  # first: nothing may bind a driver's connect before it is guarded
    try:
        import alembic.autogenerate  # noqa: F401
        import alembic.config  # noqa: F401
        import alembic.op  # noqa: F401
        import alembic.runtime.environment  # noqa: F401
        import alembic.script  # noqa: F401
        import sqlalchemy  # noqa: F401

        install_pool_guards()
    except ImportError as exc:
        _PREIMPORT_ERROR = "{}: {}".format(type(exc).__name__, exc)
    except Exception:  # noqa: BLE001 - anything else surfaces, with its traceback, in `load`
        pass


def main():
    proto = os.fdopen(int(os.environ.pop("MIGBOT_PROTOCOL_FD")), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # the project's prints go to the log, never into the protocol
    sys.stdout = sys.stderr

    def reply(payload):
        proto.write(json.dumps(payload, default=str) + "\n")
        proto.flush()

    _preimport()  # while migbot plans, checks out trees and starts PostgreSQL
    worker = Worker(json.loads(sys.stdin.readline()), Channel(reply, sys.stdin))
    try:
        reply({"ok": True, "result": worker.prepare_environment()})
    except BaseException as exc:  # noqa: BLE001 - everything goes back to migbot
        reply({"ok": False, "error": worker.describe(exc)})
        return
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        request = json.loads(line)
        started = time.monotonic()
        try:
            result = worker.handle(request)
            reply({"ok": True, "result": result, "seconds": time.monotonic() - started})
        except BaseException as exc:  # noqa: BLE001 - SystemExit from env.py is a failure too
            reply({"ok": False, "error": worker.describe(exc), "seconds": time.monotonic() - started})
