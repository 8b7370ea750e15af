"""Every connection the project opens must reach migbot's database for this tree.

The listeners sit on SQLAlchemy's Pool class, so they reach every engine the app
creates, even at import time.
"""


class WrongDatabase(Exception):
    pass


_expected = {"database": None}  # set once the worker knows its tree's database


def expect_database(name):
    _expected["database"] = name


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
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("select current_database()")
        actual = cursor.fetchone()[0]
    finally:
        cursor.close()
    dbapi_connection.rollback()
    if actual != expected:
        raise WrongDatabase(
            "env.py connected to database {!r}, not to migbot's throwaway database {!r}, so migbot ran "
            "nothing. env.py must take its URL from alembic.ini's sqlalchemy.url "
            "(config.get_main_option) or from an environment variable; if it reads a variable other "
            "than DATABASE_URL, map it in the env table of [tool.migbot] "
            "(for example MY_DB_URL = \"{{url}}\").".format(actual, expected)
        )


def install_pool_guards():
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

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
