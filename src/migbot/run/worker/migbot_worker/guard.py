"""Every connection the project opens must reach migbot's database for this tree.

Two layers, both checked with `select current_database()` before anything else runs on
the connection; a connection to another database is closed and WrongDatabase raised:

- the drivers themselves: psycopg (3) `Connection.connect` / `AsyncConnection.connect` (and
  `psycopg.connect`), psycopg2's `connect` (through its module-level `_connect`, so
  `connection_factory` and references bound earlier are covered too) and asyncpg's
  `connect` (which `asyncpg.create_pool` uses). The drivers are patched as soon as they are
  imported, by a finder first on sys.meta_path; a driver that is not installed costs nothing;
- SQLAlchemy's Pool class ("connect" listener): every engine the app creates, even at
  import time, whatever its driver (a connection a patched driver checked is not asked twice).

The refusal names the code that connected (the project's file and line: env.py, a model
module, a seed), and is remembered, so that a project that swallows it still fails the
command (main.Worker.handle).
"""

import contextlib
import functools
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


def _refusal(actual, location):
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
    patch_loaded_drivers()


def refusal():
    """The first connection refused during the current command, if any."""
    return _refusals[0] if _refusals else None


def _remember(connection):
    try:
        _checked.add(connection)
    except TypeError:  # not weakly referenceable: the pool listener asks again, that is all
        pass


def _was_checked(connection):
    try:
        return connection in _checked
    except TypeError:
        return False


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
        refused = _refusal(actual, connecting_frame())
        _close_quietly(dbapi_connection.close)
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


# --- the drivers -----------------------------------------------------------------------------
def _guarded(function):
    function._migbot_guard = True
    return function


def _is_guarded(function):
    return getattr(getattr(function, "__func__", function), "_migbot_guard", False)


def _verdict(connection, actual, close):
    """Remember a connection to the right database; close and refuse any other."""
    if actual == _expected["database"]:
        _remember(connection)
        return
    refused = _refusal(actual, connecting_frame())
    _close_quietly(close)
    raise refused


def _close_quietly(close):
    with contextlib.suppress(Exception):  # the refusal, or the original error, is what matters
        close()


async def _close_quietly_async(close):
    with contextlib.suppress(Exception):
        await close()


# psycopg (3)
def _check_psycopg(conn):
    from psycopg.rows import tuple_row

    try:
        with conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute("select current_database()")
            actual = cursor.fetchone()[0]
        conn.rollback()
    except BaseException:
        _close_quietly(conn.close)
        raise
    _verdict(conn, actual, conn.close)


async def _check_psycopg_async(conn):
    from psycopg.rows import tuple_row

    try:
        async with conn.cursor(row_factory=tuple_row) as cursor:
            await cursor.execute("select current_database()")
            actual = (await cursor.fetchone())[0]
        await conn.rollback()
        if actual == _expected["database"]:
            _remember(conn)
            return
    except BaseException:
        await _close_quietly_async(conn.close)
        raise
    refused = _refusal(actual, connecting_frame())
    await _close_quietly_async(conn.close)
    raise refused


def _patch_psycopg(psycopg):
    sync_class = getattr(psycopg, "Connection", None)
    original = sync_class.__dict__.get("connect") if sync_class is not None else None
    if isinstance(original, classmethod) and not _is_guarded(original.__func__):
        function = original.__func__

        @functools.wraps(function)
        def connect(cls, *args, **kwargs):
            conn = function(cls, *args, **kwargs)
            if _expected["database"] is not None:
                _check_psycopg(conn)
            return conn

        sync_class.connect = classmethod(_guarded(connect))
        # psycopg/__init__.py: `connect = Connection.connect`, bound when it was imported.
        if getattr(psycopg.__dict__.get("connect"), "__func__", None) is function:
            psycopg.connect = sync_class.connect

    async_class = getattr(psycopg, "AsyncConnection", None)
    original = async_class.__dict__.get("connect") if async_class is not None else None
    if isinstance(original, classmethod) and not _is_guarded(original.__func__):
        async_function = original.__func__

        @functools.wraps(async_function)
        async def connect_async(cls, *args, **kwargs):
            conn = await async_function(cls, *args, **kwargs)
            if _expected["database"] is not None:
                await _check_psycopg_async(conn)
            return conn

        async_class.connect = classmethod(_guarded(connect_async))


# psycopg2
def _dsn_database(dsn):
    """The database a libpq DSN names plainly, or None (not named, or a dbname that is itself
    a connection string)."""
    from psycopg2.extensions import parse_dsn

    try:
        name = parse_dsn(dsn or "").get("dbname")
    except Exception:  # noqa: BLE001 - psycopg2 itself will say what is wrong with it
        return None
    return name if name and "=" not in name and "://" not in name else None


def _check_psycopg2(conn):
    from psycopg2.extensions import connection, cursor

    close = functools.partial(connection.close, conn)  # the C type's own: a factory may override them
    try:
        if getattr(conn, "async_", False):
            actual = conn.info.dbname  # not connected yet: libpq's PQdb, what the server is asked for
        else:
            cur = connection.cursor(conn, cursor_factory=cursor)
            try:
                cur.execute("select current_database()")
                actual = cur.fetchone()[0]
            finally:
                cur.close()
            connection.rollback(conn)
    except BaseException:
        _close_quietly(close)
        raise
    _verdict(conn, actual, close)


def _patch_psycopg2(psycopg2):
    # psycopg2.connect() calls the module-level _connect (C) by its global name: wrapping that
    # covers connect(), whoever bound it first, and connection_factory.
    original = psycopg2.__dict__.get("_connect")
    if original is None or _is_guarded(original):
        return

    @functools.wraps(original)
    def _connect(dsn, connection_factory=None, **kwargs):
        expected = _expected["database"]
        if expected is not None and connection_factory is not None:
            # A factory's own __init__ may run SQL before we can ask: refuse a plainly named
            # other database before connecting at all.
            named = _dsn_database(dsn)
            if named is not None and named != expected:
                raise _refusal(named, connecting_frame())
        conn = original(dsn, connection_factory=connection_factory, **kwargs)
        if expected is not None:
            _check_psycopg2(conn)
        return conn

    psycopg2._connect = _guarded(_connect)


# asyncpg
async def _check_asyncpg(conn):
    try:
        actual = await conn.fetchval("select current_database()")
        if actual == _expected["database"]:
            _remember(conn)
            return
    except BaseException:
        conn.terminate()
        raise
    refused = _refusal(actual, connecting_frame())
    await _close_quietly_async(conn.close)
    raise refused


def _patch_asyncpg(asyncpg):
    # asyncpg.connect is asyncpg.connection.connect; Pool (create_pool) calls the latter by its
    # module attribute, when the pool is made.
    module = getattr(asyncpg, "connection", None)
    original = getattr(module, "connect", None)
    if original is None or _is_guarded(original):
        return

    @functools.wraps(original)
    async def connect(*args, **kwargs):
        conn = await original(*args, **kwargs)
        if _expected["database"] is not None:
            await _check_asyncpg(conn)
        return conn

    module.connect = _guarded(connect)
    if asyncpg.__dict__.get("connect") is original:
        asyncpg.connect = module.connect


_PATCHES = {"psycopg": _patch_psycopg, "psycopg2": _patch_psycopg2, "asyncpg": _patch_asyncpg}


def _patch(name, module):
    # An unexpected driver version must not break the import; the SQLAlchemy listener still
    # checks what goes through a pool.
    with contextlib.suppress(Exception):
        _PATCHES[name](module)


def patch_loaded_drivers():
    for name in _PATCHES:
        module = sys.modules.get(name)
        if module is not None:
            _patch(name, module)


class _DriverImportHook:
    """First on sys.meta_path: finds a driver's package through the finders after it, and
    patches the package right after it has run, before the importer gets it."""

    def __init__(self):
        self._finding = set()

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _PATCHES or fullname in self._finding:
            return None
        self._finding.add(fullname)
        try:
            spec = None
            for finder in list(sys.meta_path):
                if isinstance(finder, _DriverImportHook):
                    continue
                find_spec = getattr(finder, "find_spec", None)
                if find_spec is None:
                    return None  # a legacy finder: let importlib decide; start_command() patches
                spec = find_spec(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._finding.discard(fullname)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module):
            try:
                original(module)
            finally:
                try:
                    del loader.exec_module  # the loader's own again (it is per file)
                except AttributeError:
                    pass
            _patch(fullname, module)

        try:
            loader.exec_module = exec_module
        except (AttributeError, TypeError):  # a loader that takes no attributes
            pass
        return spec


def install_driver_guards():
    """Idempotent. Patches the drivers already imported, and the others when they are."""
    if not any(isinstance(finder, _DriverImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _DriverImportHook())
    patch_loaded_drivers()
