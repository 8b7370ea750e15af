"""Every connection the project opens must reach migbot's database for this tree.

Two layers, both checked with `select current_database()` before anything else runs on
the connection; a connection to another database is closed and WrongDatabase raised:

- the drivers themselves, psycopg (3), psycopg2 and asyncpg, patched as soon as they are
  imported (drivers.py);
- SQLAlchemy's Pool class ("connect" listener): every engine the app creates, even at
  import time, whatever its driver (a connection a patched driver checked is not asked twice).

The refusal names the code that connected (the project's file and line: env.py, a model
module, a seed), and is remembered, so that a project that swallows it still fails the
command (main.Worker.handle).
"""

import contextlib
import os
import sys
import weakref


class WrongDatabase(Exception):
    def __init__(self, message, file=None, line=None):
        super().__init__(message)
        self.file = file  # the project's file that connected (realpath), if known
        self.line = line


_expected = {"database": None, "root": None}  # set once the worker knows its tree's database
_refusals = []  # refusals during the current command, even if the project caught them
_checked = weakref.WeakSet()  # driver connections a patched driver found on the right database
_WORKER_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # start.py and migbot_worker/
_LIBRARIES = frozenset(("psycopg", "psycopg2", "psycopg_pool", "psycopg_c", "psycopg_binary", "asyncpg",
                        "sqlalchemy", "alembic", "greenlet", "migbot_worker"))


def expect_database(name, root=None):
    _expected["database"] = name
    if root is not None:
        _expected["root"] = os.path.realpath(root)


def expected_database():
    """None until the worker knows its tree's database: until then nothing is checked."""
    return _expected["database"]


# --- who connected -------------------------------------------------------------------------
def _stdlib_dirs():
    import sysconfig

    paths = sysconfig.get_paths()
    return tuple({os.path.realpath(paths[key]) + os.sep for key in ("stdlib", "platstdlib") if paths.get(key)})


def connecting_frame(frame=None):
    """(realpath, line) of the code that opened the connection: the innermost frame in the
    project's own files; else the innermost frame outside the drivers, SQLAlchemy, Alembic,
    migbot's worker and the standard library; else None (a pool's background thread)."""
    root = _expected["root"]
    stdlib = None
    fallback = None
    frame = frame or sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        top = (frame.f_globals.get("__name__") or "").partition(".")[0]
        if top not in _LIBRARIES and filename and not filename.startswith("<"):
            path = os.path.realpath(filename)
            if not path.startswith(_WORKER_DIR + os.sep):
                if root and path.startswith(root + os.sep) and "site-packages" not in path:
                    return path, frame.f_lineno
                if fallback is None:
                    stdlib = stdlib if stdlib is not None else _stdlib_dirs()
                    if "site-packages" in path or not path.startswith(stdlib):
                        fallback = (path, frame.f_lineno)
        frame = frame.f_back
    return fallback


def refuse(actual, location):
    """The WrongDatabase to raise for a connection to `actual`, remembered for the command."""
    expected = _expected["database"]
    if location is not None and os.path.basename(location[0]) == "env.py":
        message = (
            f"env.py connected to database {actual!r}, not to migbot's throwaway database {expected!r}, so "
            "migbot ran nothing. env.py must take its URL from alembic.ini's sqlalchemy.url "
            "(config.get_main_option) or from an environment variable; if it reads a variable other "
            "than DATABASE_URL, map it in the env table of [tool.migbot] "
            "(for example MY_DB_URL = \"{url}\")."
        )
    else:
        if location is None:
            who = "The project's code (in a thread or asyncio task that does not show who started it)"
        else:
            path, line = location
            root = _expected["root"]
            shown = os.path.relpath(path, root) if root and path.startswith(root + os.sep) else path
            who = f"{shown.replace(os.sep, '/')}:{line}"
        message = (
            f"{who} connected to database {actual!r}, not to migbot's throwaway database {expected!r}; "
            "migbot closed that connection before anything ran on it. The project's code (env.py, models, "
            "seeds) must connect with the URL migbot gives it: alembic.ini's sqlalchemy.url, or DATABASE_URL "
            "(map any other variable in the env table of [tool.migbot], for example MY_DB_URL = \"{url}\")."
        )
    refusal = WrongDatabase(message, *(location or (None, None)))
    _refusals.append(refusal)
    return refusal


def start_command():
    """Called before each worker command: forget earlier refusals, patch drivers a finder
    placed before ours let through."""
    del _refusals[:]
    from migbot_worker import drivers  # here, not at the top: drivers imports this module

    drivers.patch_loaded_drivers()


def refusal():
    """The first connection refused during the current command, if any."""
    return _refusals[0] if _refusals else None


def remember_checked(connection):
    """A connection a patched driver found on the right database: the pool listener need not ask."""
    try:
        _checked.add(connection)
    except TypeError:  # not weakly referenceable: the pool listener asks again, that is all
        pass


def _was_checked(connection):
    try:
        return connection in _checked
    except TypeError:
        return False


def close_quietly(close):
    with contextlib.suppress(Exception):  # the refusal, or the original error, is what matters
        close()


# --- the drivers (drivers.py) ----------------------------------------------------------------
def install_driver_guards():
    """Idempotent. Patches the drivers already imported, and the others when they are."""
    from migbot_worker import drivers  # here, not at the top: drivers imports this module

    drivers.install_driver_guards()


# --- SQLAlchemy ------------------------------------------------------------------------------
def _close_on_checkin(dbapi_connection, connection_record):
    """Between commands migbot drops and re-clones the database, and env.py may use the app's
    own pooled engine (sync, or async bound to the loop of one asyncio.run): a connection kept
    in a pool would fail the next command for no fault of the branch."""
    if dbapi_connection is not None:
        connection_record.invalidate()


def _refuse_other_databases(dbapi_connection, connection_record):
    """Checked before Alembic or the app can run anything on the connection."""
    expected = _expected["database"]
    if expected is None:
        return
    if _was_checked(dbapi_connection) or _was_checked(getattr(dbapi_connection, "driver_connection", None)):
        return  # a patched driver checked it a moment ago
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("select current_database()")
        actual = cursor.fetchone()[0]
    finally:
        cursor.close()
    dbapi_connection.rollback()
    if actual != expected:
        refused = refuse(actual, connecting_frame())
        close_quietly(dbapi_connection.close)
        raise refused


def install_pool_guards():
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    install_driver_guards()
    for name, listener in (("checkin", _close_on_checkin), ("connect", _refuse_other_databases)):
        if not event.contains(Pool, name, listener):
            event.listen(Pool, name, listener)


def check_context(context):
    """The connection env.py handed to Alembic, checked once more inside the run."""
    conn = getattr(context, "connection", None)
    if conn is None:
        raise WrongDatabase("env.py ran in offline mode (no connection); migbot needs an online env.py.")
    from sqlalchemy import text

    actual = conn.execute(text("select current_database()")).scalar()  # text(): SQLAlchemy 1.3 too
    if actual != _expected["database"]:
        raise WrongDatabase("env.py connected to database {!r}, not to migbot's throwaway database {!r}, "
                            "so migbot ran nothing.".format(actual, _expected["database"]))
