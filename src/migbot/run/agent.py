"""migbot's worker: runs inside the *project's* interpreter, one process per tree.

It is started as a script (``python agent.py``) and must import nothing from
migbot, pydantic or anything else the project may lack: only the standard
library, and the project's own Alembic and SQLAlchemy. Keep it Python 3.8+.

Protocol: one JSON request per line on stdin; one JSON reply per line on the
file descriptor given in MIGBOT_PROTOCOL_FD. The project's own prints go to
stderr (migbot's log file), so they can never corrupt a reply.

The app is imported once, by the first env.py run; every later Alembic command
re-executes env.py (cheap) against the cached modules and one ScriptDirectory.
"""

import json
import os
import sys
import time
import traceback

_here = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _here:
    del sys.path[0]  # our own folder must not shadow the project's modules


class WrongDatabase(Exception):
    pass


class EnvDidNotRun(Exception):
    pass


class ShellFailed(Exception):
    pass


class InterpreterUnusable(Exception):
    pass


def _installed(module):
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def choose_drivers():
    sync = "psycopg" if _installed("psycopg") else ("psycopg2" if _installed("psycopg2") else None)
    if _installed("asyncpg"):
        async_ = "asyncpg"
    elif _installed("psycopg"):
        async_ = "psycopg"
    else:
        async_ = None
    return sync, async_


def expand(template, values):
    """str.format-style {name} replacement that leaves unknown braces alone."""
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return out


class Agent:
    def __init__(self, spec):
        self.spec = spec
        self.root = os.path.realpath(spec["project_root"])
        self.version_dirs = []
        self.config = None
        self.script = None
        self.revision_files = {}

    # --- set-up -----------------------------------------------------------------
    def prepare_environment(self):
        if _PREIMPORT_ERROR:
            raise InterpreterUnusable(
                "The project's Python interpreter {} cannot import Alembic and SQLAlchemy ({}).".format(
                    sys.executable, _PREIMPORT_ERROR))
        spec = self.spec
        sync, async_ = choose_drivers()
        env_py = spec.get("env_py_text") or ""
        is_async = "async_engine_from_config" in env_py or "create_async_engine" in env_py or "AsyncEngine" in env_py
        ini_driver = spec.get("ini_driver")  # e.g. "asyncpg" from the ini's own placeholder URL
        values = dict(spec["placeholders"])
        netloc, dbname, query = values.pop("netloc"), values["dbname"], values.pop("query", "")

        def url(driver):
            return "postgresql{}://{}/{}{}".format("+" + driver if driver else "", netloc, dbname, query)

        values["sync_url"] = url(sync)
        values["async_url"] = url(async_ or "asyncpg")
        self.sync_url, self.async_url = values["sync_url"], values["async_url"]
        if ini_driver:
            values["url"] = url(ini_driver)
        else:
            values["url"] = values["async_url"] if is_async else values["sync_url"]
        self.url = values["url"]
        for key, template in spec["env"].items():
            os.environ[key] = expand(template, values)
        for path in reversed(spec["sys_path"]):
            if path not in sys.path:
                sys.path.insert(0, path)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            spec["sys_path"] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        )
        os.chdir(spec["cwd"])
        global _EXPECTED_DATABASE
        _EXPECTED_DATABASE = spec["placeholders"]["dbname"]
        return {
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "drivers": {"sync": sync, "async": async_},
            "async_env": is_async,
            "url_driver": self.url.split("://", 1)[0],
            "alembic": _installed("alembic"),
        }

    def load_scripts(self):
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        _install_pool_guards()
        ini = self.spec["ini_path"]
        kwargs = {}
        if self.spec.get("toml_file"):
            kwargs["toml_file"] = self.spec["toml_file"]  # Alembic 1.16+: [tool.alembic]
        self.config = Config(ini, **kwargs)
        if self.spec.get("set_url", True):
            self.config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        self.script = ScriptDirectory.from_config(self.config)
        revisions = []
        for rev in self.script.walk_revisions():
            path = os.path.realpath(rev.path)
            self.revision_files[path] = rev.revision
            revisions.append({
                "revision": rev.revision,
                "down_revisions": list(rev._versioned_down_revisions),
                "path": path,
                "doc": rev.doc or "",
            })
        return {"revisions": revisions}

    # --- running env.py -----------------------------------------------------------
    def run_env(self, body, destination=None, read_only=False):
        """Run env.py once with `body(rev, context)` as Alembic's fn; return its result.
        read_only: like `alembic current`, never create the version table."""
        from alembic.runtime.environment import EnvironmentContext

        outcome = {}

        def fn(rev, context):
            self.guard(context)
            outcome["result"] = body(rev, context)
            outcome["ran"] = True
            return outcome["result"] if isinstance(outcome["result"], list) else []

        options = {"dont_mutate": True} if read_only else {}
        with EnvironmentContext(self.config, self.script, fn=fn, as_sql=False, starting_rev=None,
                                destination_rev=destination, **options):
            self.script.run_env()
        if not outcome.get("ran"):
            raise EnvDidNotRun(
                "env.py finished without running migrations: it never called context.run_migrations() "
                "in online mode, so migbot cannot apply anything through it."
            )
        return outcome.get("result")

    def guard(self, context):
        """Refuse to touch any database but the one migbot created for this tree."""
        conn = getattr(context, "connection", None)
        if conn is None:
            raise WrongDatabase("env.py ran in offline mode (no connection); migbot needs an online env.py.")
        actual = conn.exec_driver_sql("select current_database()").scalar()
        if actual != self.spec["placeholders"]["dbname"]:
            raise WrongDatabase("env.py connected to database {!r}, not to migbot's throwaway database {!r}, "
                                "so migbot ran nothing.".format(actual, self.spec["placeholders"]["dbname"]))

    def cmd_load(self, req):
        info = self.load_scripts()
        metadata = {}

        def probe(rev, context):
            metadata["present"] = context.opts.get("target_metadata") is not None
            metadata["version_table"] = context.opts.get("version_table") or "alembic_version"
            metadata["version_table_schema"] = context.opts.get("version_table_schema")
            return []

        self.run_env(probe, read_only=True)
        info["has_metadata"] = metadata.get("present", False)
        info["version_table"] = metadata.get("version_table", "alembic_version")
        info["version_table_schema"] = metadata.get("version_table_schema")
        info["imported_files"] = self.project_modules()
        return info

    def cmd_upgrade(self, req):
        target = req["target"]
        self.run_env(lambda rev, context: self.script._upgrade_revs(target, rev), destination=target)

    def cmd_downgrade(self, req):
        target = req["target"]
        self.run_env(lambda rev, context: self.script._downgrade_revs(target, rev), destination=target)

    def cmd_shell(self, req):
        """Run a configured shell command (bootstrap, seeds) with the tree's environment.

        A shell command runs outside the connection guard, and `alembic ...` in it reads
        alembic.ini: the tree's copy (migbot's own export) is pointed at migbot's database
        first, so that even a URL hard-coded in the ini cannot be reached."""
        import subprocess

        if self.spec.get("set_url", True):
            _point_ini_at(self.spec["ini_path"], self.url)
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        proc = subprocess.run(req["command"], shell=True, cwd=req.get("cwd") or os.getcwd(), env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = proc.stdout.decode("utf-8", "replace")
        sys.stderr.write(output)
        if proc.returncode != 0:
            raise ShellFailed("`{}` exited with code {}:\n{}".format(
                req["command"], proc.returncode, "\n".join(output.strip().splitlines()[-15:])))
        return {"exit_code": proc.returncode}

    def cmd_seed(self, req):
        """Run one seed set: its modules in order, or its shell command."""
        if req.get("command"):
            return self.cmd_shell({"command": req["command"]})
        timings = []
        for name in req["modules"]:
            started = time.monotonic()
            self.run_seed_module(name)
            timings.append({"module": name, "seconds": round(time.monotonic() - started, 3)})
        return {"modules": timings}

    def run_seed_module(self, name):
        """run(session) / seed(session), else main(), else the module as a script (docs/config.md)."""
        import importlib
        import importlib.util
        import inspect
        import runpy

        spec = importlib.util.find_spec(name)
        if spec is None:
            raise ModuleNotFoundError("No seed module named {!r}".format(name))
        entry = _entry_point_of(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
        if entry is None:
            runpy.run_module(name, run_name="__main__", alter_sys=True)
            return
        function = getattr(importlib.import_module(name), entry)
        takes_session = entry != "main" and len(inspect.signature(function).parameters) > 0
        if inspect.iscoroutinefunction(function):
            import asyncio

            asyncio.run(self._run_async_seed(function, takes_session))
        elif takes_session:
            from sqlalchemy import create_engine
            from sqlalchemy.orm import Session
            from sqlalchemy.pool import NullPool

            engine = create_engine(self.sync_url, poolclass=NullPool)
            try:
                with Session(engine) as session:
                    function(session)
                    session.commit()
            finally:
                engine.dispose()
        else:
            function()

    async def _run_async_seed(self, function, takes_session):
        if not takes_session:
            await function()
            return
        from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
        from sqlalchemy.pool import NullPool

        engine = create_async_engine(self.async_url, poolclass=NullPool)
        try:
            async with AsyncSession(engine) as session:
                await function(session)
                await session.commit()
        finally:
            await engine.dispose()

    def cmd_drift(self, req):
        from alembic.autogenerate import compare_metadata

        def body(rev, context):
            target = context.opts.get("target_metadata")
            if target is None:
                return {"has_metadata": False, "diffs": []}
            diffs = []
            for md in (target if isinstance(target, (list, tuple)) else [target]):
                diffs.extend(compare_metadata(context, md))
            return {"has_metadata": True, "diffs": [d for item in diffs for d in describe_diff(item)]}

        return self.run_env(body, read_only=True)

    def project_modules(self):
        files = set()
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if not path:
                continue
            path = os.path.realpath(path)
            if path.startswith(self.root + os.sep) and "site-packages" not in path:
                files.add(os.path.relpath(path, self.root))
        return sorted(files)

    # --- errors ---------------------------------------------------------------------
    def project_traceback(self, exc, frames):
        """The frames of the project's own files (revisions, env.py, models) and the
        error: what a reviewer can act on, without the library internals."""
        mine = [f for f in frames if _in_project(self.root, f.filename)]
        shown = mine[-8:] if mine else frames[-3:]
        heading = "Traceback (project files only):\n" if mine else "Traceback (most recent call last):\n"
        tail = "".join(traceback.format_exception_only(type(exc), exc)).splitlines(keepends=True)
        tail = [line for line in tail if not line.startswith("(Background on this error at")]
        return heading + "".join(traceback.format_list(shown)) + "".join(tail)

    def describe_error(self, exc):
        tb = exc.__traceback__
        frames = traceback.extract_tb(tb) if tb else []
        location = None
        for frame in reversed(frames):
            path = os.path.realpath(frame.filename)
            if path in self.revision_files:
                location = (path, frame.lineno)
                break
        if location is None:
            for frame in reversed(frames):
                if _in_project(self.root, frame.filename):
                    location = (os.path.realpath(frame.filename), frame.lineno)
                    break
        if isinstance(exc, SyntaxError) and exc.filename:
            location = (os.path.realpath(exc.filename), exc.lineno)
        elif location is None:
            # An ImportError raised while importing a project file names it in its chain.
            for cause in _chain(exc):
                filename = getattr(cause, "filename", None)
                if filename and os.path.realpath(filename).startswith(self.root + os.sep):
                    location = (os.path.realpath(filename), getattr(cause, "lineno", None))
                    break
        error = {
            "type": type(exc).__name__,
            "message": clean_message(exc),
            "traceback": self.project_traceback(exc, frames),
        }
        if location:
            error["file"] = location[0]
            error["line"] = location[1]
            error["revision"] = self.revision_files.get(location[0])
        error.update(_sql_diagnostics(exc))
        if any(isinstance(e, WrongDatabase) for e in _chain(exc)):
            error["kind"] = "wrong-database"
            error["message"] = next(str(e) for e in _chain(exc) if isinstance(e, WrongDatabase))
        elif isinstance(exc, InterpreterUnusable):
            error["kind"] = "interpreter"
        return error


_EXPECTED_DATABASE = None  # set once the worker knows its tree's database


def _close_on_checkin(dbapi_connection, connection_record):
    if dbapi_connection is not None:
        connection_record.invalidate()


def _refuse_other_databases(dbapi_connection, connection_record):
    """Every new connection the project opens must reach migbot's database, checked
    before Alembic or the app can run anything on it."""
    if _EXPECTED_DATABASE is None:
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("select current_database()")
        actual = cursor.fetchone()[0]
    finally:
        cursor.close()
    dbapi_connection.rollback()
    if actual != _EXPECTED_DATABASE:
        raise WrongDatabase(
            "env.py connected to database {!r}, not to migbot's throwaway database {!r}, so migbot ran "
            "nothing. env.py must take its URL from alembic.ini's sqlalchemy.url "
            "(config.get_main_option) or from an environment variable; if it reads a variable other "
            "than DATABASE_URL, map it in the env table of [tool.migbot] "
            "(for example MY_DB_URL = \"{{url}}\").".format(actual, _EXPECTED_DATABASE)
        )


def _install_pool_guards():
    """On the Pool class, so they reach every engine the app creates, even at import time.

    - Between commands migbot drops and re-clones the database, and env.py may use the
      app's own pooled engine (sync, or async bound to the loop of one asyncio.run): a
      connection kept in a pool would fail the next command for no fault of the branch.
    - A connection to any other database is refused before anything runs on it.
    """
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    for name, listener in (("checkin", _close_on_checkin), ("connect", _refuse_other_databases)):
        if not event.contains(Pool, name, listener):
            event.listen(Pool, name, listener)


def _point_ini_at(ini_path, url):
    import re

    with open(ini_path, encoding="utf-8") as handle:
        text = handle.read()
    line = "sqlalchemy.url = " + url.replace("%", "%%")
    pattern = re.compile(r"^[ \t]*sqlalchemy\.url[ \t]*[=:].*$", re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _match: line, text)
    else:
        text = re.sub(r"^\[alembic\][ \t]*$", lambda match: match.group(0) + "\n" + line, text, count=1,
                      flags=re.MULTILINE)
    with open(ini_path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _entry_point_of(path):
    """The seed entry point a module file defines (run, seed or main), without importing it."""
    import ast

    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError):
        return None  # a syntax error surfaces, with its line, when the module runs
    names = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return next((n for n in ("run", "seed", "main") if n in names), None)


def _in_project(root, filename):
    if not filename or filename.startswith("<"):
        return False  # <frozen importlib...>, <string>: not files
    path = os.path.realpath(filename)
    return path.startswith(root + os.sep) and "site-packages" not in path


def _sql_diagnostics(exc):
    """The table, constraint and column PostgreSQL named, from psycopg's or psycopg2's diag or
    from asyncpg's exception attributes."""
    for cause in _chain(exc):
        for source in (getattr(cause, "orig", None), cause):
            diag = getattr(source, "diag", None) or source
            found = {key: getattr(diag, attr, None) for key, attr in
                     (("table", "table_name"), ("constraint", "constraint_name"), ("column", "column_name"))}
            if any(found.values()):
                return {key: value for key, value in found.items() if value}
    return {}


def _chain(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def clean_message(exc):
    text = str(exc).strip() or type(exc).__name__
    lines = [line for line in text.splitlines() if not line.startswith("(Background on this error at")]
    text = "\n".join(lines).strip()
    if len(text) > 2000:
        text = text[:2000] + " ..."
    if isinstance(exc, SyntaxError) and exc.text:
        text = "{} ({}:{}): {}".format(exc.msg, os.path.basename(exc.filename or "?"), exc.lineno, exc.text.strip())
    return text


# --- model drift, rendered for people -------------------------------------------------
def _type(t, dialect=None):
    if t is None:
        return "?"
    try:
        from sqlalchemy.dialects import postgresql

        return str(t.compile(dialect=dialect or postgresql.dialect()))
    except Exception:
        return str(t)


def _default(value):
    if value is None:
        return "none"
    text = getattr(value, "arg", value)
    text = getattr(text, "text", text)
    return str(text)


def _qual(schema, name):
    return "{}.{}".format(schema, name) if schema else str(name)


def _cols(obj):
    try:
        return ", ".join(c.name for c in obj.columns)
    except Exception:
        return ""


def describe_diff(item):
    """One Alembic compare_metadata diff as dicts with a sentence a reviewer can read."""
    if isinstance(item, list):  # column modifications come grouped
        return [d for sub in item for d in describe_diff(sub)]
    kind = item[0]
    out = {"kind": kind, "table": None, "object": None, "text": "", "key": ""}
    if kind in ("add_table", "remove_table"):
        table = item[1]
        out["table"] = _qual(table.schema, table.name)
        out["text"] = ("table `{}` is in the models but not in the database" if kind == "add_table"
                       else "table `{}` is in the database but not in the models").format(out["table"])
    elif kind in ("add_column", "remove_column"):
        schema, tname, column = item[1], item[2], item[3]
        out["table"] = _qual(schema, tname)
        out["object"] = column.name
        where = "in the models but not in the database" if kind == "add_column" else "in the database but not in the models"
        out["text"] = "column `{}.{}` ({}) is {}".format(out["table"], column.name, _type(column.type), where)
    elif kind in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        obj = item[1]
        table = getattr(obj, "table", None)
        out["table"] = _qual(getattr(table, "schema", None), getattr(table, "name", "?"))
        out["object"] = obj.name or "({})".format(_cols(obj))
        noun = {"index": "index", "constraint": type(obj).__name__.replace("Constraint", " constraint").lower().strip(),
                "fk": "foreign key"}[kind.split("_", 1)[1]]
        where = "in the models but not in the database" if kind.startswith("add") else "in the database but not in the models"
        out["text"] = "{} `{}` on `{}` ({}) is {}".format(noun, out["object"], out["table"], _cols(obj), where)
    elif kind.startswith("modify_"):
        schema, tname, cname = item[1], item[2], item[3]
        existing, new = item[5], item[6]
        out["table"] = _qual(schema, tname)
        out["object"] = cname
        what = kind[len("modify_"):]
        if what == "type":
            db, models = _type(existing), _type(new)
        elif what == "nullable":
            db, models = ("NULL" if existing else "NOT NULL"), ("NULL" if new else "NOT NULL")
        elif what == "default":
            db, models = _default(existing), _default(new)
        else:
            db, models = str(existing), str(new)
        out["text"] = "column `{}.{}` {}: database has {}, models have {}".format(out["table"], cname, what, db, models)
    elif kind in ("add_table_comment", "remove_table_comment"):
        table = item[1]
        out["table"] = _qual(table.schema, table.name)
        out["text"] = "table `{}` comment differs between the models and the database".format(out["table"])
    else:
        out["text"] = "{}: {}".format(kind, ", ".join(str(x) for x in item[1:]))
    out["key"] = "|".join(str(x or "") for x in (kind, out["table"], out["object"]))
    return [out]


_PREIMPORT_ERROR = None


def _preimport():
    """Import the libraries every Alembic project needs before knowing which tree this
    worker will serve. They live in the interpreter's site-packages, not in the trees,
    so importing them early changes nothing but the time it takes. (It also means a
    project folder named `alembic/` cannot shadow the real package.)"""
    global _PREIMPORT_ERROR
    try:
        import alembic.autogenerate  # noqa: F401
        import alembic.config  # noqa: F401
        import alembic.op  # noqa: F401
        import alembic.runtime.environment  # noqa: F401
        import alembic.script  # noqa: F401
        import sqlalchemy  # noqa: F401

        _install_pool_guards()
    except ImportError as exc:
        _PREIMPORT_ERROR = "{}: {}".format(type(exc).__name__, exc)
    except Exception:  # noqa: BLE001 - anything else surfaces, with its traceback, in `load`
        pass


# --- main loop ------------------------------------------------------------------------------
def main():
    proto = os.fdopen(int(os.environ.pop("MIGBOT_PROTOCOL_FD")), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # the project's prints go to the log, never into the protocol
    sys.stdout = sys.stderr

    def reply(payload):
        proto.write(json.dumps(payload, default=str) + "\n")
        proto.flush()

    _preimport()  # while migbot plans, checks out trees and starts PostgreSQL
    spec = json.loads(sys.stdin.readline())
    agent = Agent(spec)
    try:
        reply({"ok": True, "result": agent.prepare_environment()})
    except BaseException as exc:  # noqa: BLE001 - everything goes back to migbot
        reply({"ok": False, "error": agent.describe_error(exc)})
        return
    for line in sys.stdin:
        request = json.loads(line)
        started = time.monotonic()
        try:
            result = getattr(agent, "cmd_" + request["cmd"])(request)
            reply({"ok": True, "result": result, "seconds": time.monotonic() - started})
        except BaseException as exc:  # noqa: BLE001 - SystemExit from env.py is a failure too
            reply({"ok": False, "error": agent.describe_error(exc), "seconds": time.monotonic() - started})


if __name__ == "__main__":
    main()
