"""The drivers' own connect functions, patched to check the database before the project
gets the connection (the rules, and the refusal, are guard's):

- psycopg (3): `Connection.connect` / `AsyncConnection.connect`, and `psycopg.connect`;
- psycopg2: its module-level `_connect`, so that `connect`, `connection_factory` and
  references bound earlier are covered too;
- asyncpg: `connect` (which `asyncpg.create_pool` uses).

The drivers are patched as soon as they are imported, by a finder first on sys.meta_path;
a driver that is not installed costs nothing.
"""

import contextlib
import functools
import sys

from migbot_worker.guard import close_quietly, connecting_frame, expected_database, refuse, remember_checked


def _guarded(function):
    function._migbot_guard = True
    return function


def _is_guarded(function):
    return getattr(getattr(function, "__func__", function), "_migbot_guard", False)


def _verdict(connection, actual, close):
    """Remember a connection to the right database; close and refuse any other."""
    if actual == expected_database():
        remember_checked(connection)
        return
    refused = refuse(actual, connecting_frame())
    close_quietly(close)
    raise refused


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
        close_quietly(conn.close)
        raise
    _verdict(conn, actual, conn.close)


async def _check_psycopg_async(conn):
    from psycopg.rows import tuple_row

    try:
        async with conn.cursor(row_factory=tuple_row) as cursor:
            await cursor.execute("select current_database()")
            actual = (await cursor.fetchone())[0]
        await conn.rollback()
        if actual == expected_database():
            remember_checked(conn)
            return
    except BaseException:
        await _close_quietly_async(conn.close)
        raise
    refused = refuse(actual, connecting_frame())
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
            if expected_database() is not None:
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
            if expected_database() is not None:
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
        close_quietly(close)
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
        expected = expected_database()
        if expected is not None and connection_factory is not None:
            # A factory's own __init__ may run SQL before we can ask: refuse a plainly named
            # other database before connecting at all.
            named = _dsn_database(dsn)
            if named is not None and named != expected:
                raise refuse(named, connecting_frame())
        conn = original(dsn, connection_factory=connection_factory, **kwargs)
        if expected is not None:
            _check_psycopg2(conn)
        return conn

    psycopg2._connect = _guarded(_connect)


# asyncpg
async def _check_asyncpg(conn):
    try:
        actual = await conn.fetchval("select current_database()")
        if actual == expected_database():
            remember_checked(conn)
            return
    except BaseException:
        conn.terminate()
        raise
    refused = refuse(actual, connecting_frame())
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
        if expected_database() is not None:
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
