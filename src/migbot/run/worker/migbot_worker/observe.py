"""What each migration step wrote, asked of PostgreSQL inside the step's own transaction.

pg_stat_xact_user_tables counts the rows the current transaction inserted, updated and
deleted, per table; a table whose relfilenode changed was rewritten (TRUNCATE, a type
change, ...). Reading both right before and right after a step's migration function
gives what that step did to rows, whatever SQL it used, and whether the step ran in
its own transaction or shared one with others.

When env.py runs migrations outside a transaction (AUTOCOMMIT), or a step commits along
the way (an autocommit block), the transaction's counts do not cover the step: the
observation is None, and migbot says it could not tell.
"""

import functools
import json
import sys
import time

# One round trip before and one after each step: the transaction's start (to see a commit
# along the way), the rows written per table, and each table's file.
_STATE = """
SELECT transaction_timestamp()::text,
  (SELECT coalesce(json_agg(json_build_array(s.relid, s.schemaname || '.' || s.relname,
                                             s.n_tup_ins + s.n_tup_upd + s.n_tup_del)), '[]')
   FROM pg_stat_xact_user_tables s WHERE left(s.schemaname, 7) <> 'pg_temp')::text,
  (SELECT coalesce(json_agg(json_build_array(c.oid, n.nspname || '.' || c.relname, c.relfilenode)), '[]')
   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_')::text
"""


def _autocommit(connection):
    dbapi = getattr(getattr(connection, "connection", None), "dbapi_connection", None)
    return bool(getattr(dbapi, "autocommit", False))


def _state(connection):
    """(transaction start, {relid: (table, rows written)}, {oid: (table, relfilenode)})."""
    from sqlalchemy import text

    began, counts, files = connection.execute(text(_STATE)).one()
    return (began, {row[0]: (row[1], row[2]) for row in json.loads(counts)},
            {row[0]: (row[1], row[2]) for row in json.loads(files)})


# After each statement of a migration: the relation locks its transaction holds, and the file
# of every table and index (a new relfilenode: the statement rewrote it).
_AFTER_STATEMENT = """
SELECT
  (SELECT coalesce(json_agg(DISTINCT jsonb_build_array(n.nspname || '.' || c.relname, l.mode)), '[]')
   FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE l.pid = pg_backend_pid() AND l.granted AND l.locktype = 'relation' AND c.relkind IN ('r', 'p', 'm')
     AND n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_')::text,
  (SELECT coalesce(json_agg(json_build_array(c.oid, n.nspname || '.' || c.relname, c.relfilenode)), '[]')
   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'i', 'm') AND n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_')::text
"""
MAX_SQL = 4000  # characters of one statement kept
MAX_STATEMENTS = 200  # per step


def _shown_parameters(parameters, executemany):
    """The bound values, short and safe to show: at most 5, each cut to 40 characters."""
    if not parameters:
        return ""
    if executemany:
        rows = list(parameters)
        return "{} rows, first: {}".format(len(rows), _shown_parameters(rows[0], False)) if rows else ""
    values = list(parameters.items()) if isinstance(parameters, dict) else list(enumerate(parameters))
    shown = ["{}={}".format(key, _short(repr(value))) for key, value in values[:5]]
    return ", ".join(shown) + (", ..." if len(values) > 5 else "")


def _short(text, limit=40):
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _call_line(path):
    """The line of the revision file `path` that is running now (the op.* call), if any."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == path:
            return frame.f_lineno
        frame = frame.f_back
    return None


class _Statements:
    """The SQL one migration step runs, captured with SQLAlchemy's cursor events on the step's
    connection: text, bound values, the revision's line that ran it, time, the relation locks
    held after it (each statement's own: those new with it) and the tables and indexes it
    rewrote. migbot's own queries (these reads) are not captured."""

    def __init__(self, connection, path):
        self.connection, self.path = connection, path
        self.files = {}  # oid -> (name, relfilenode), after the last statement
        self.held = set()  # (table, mode) held after the last statement
        self.statements = []
        self.beyond = 0  # statements run after the first MAX_STATEMENTS, not recorded
        self._own = False
        self._started = None

    def _read(self, conn):
        """(locks held, {oid: (name, relfilenode)}), or None if the transaction cannot say."""
        from sqlalchemy import text

        self._own = True
        try:
            locks, files = conn.execute(text(_AFTER_STATEMENT)).one()
        except Exception:  # noqa: BLE001 - an aborted transaction: the statement's own error follows
            return None
        finally:
            self._own = False
        return {tuple(lock) for lock in json.loads(locks)}, {row[0]: (row[1], row[2]) for row in json.loads(files)}

    def __enter__(self):
        from sqlalchemy import event

        self.held, self.files = self._read(self.connection) or (set(), {})
        event.listen(self.connection, "before_cursor_execute", self._before)
        event.listen(self.connection, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(self.connection, "before_cursor_execute", self._before)
        event.remove(self.connection, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if not self._own:
            self._started = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self._own or self._started is None:
            return
        if len(self.statements) >= MAX_STATEMENTS:
            self.beyond += 1
            return
        seconds = time.perf_counter() - self._started
        self._started = None
        try:
            self._record(conn, statement, parameters, executemany, seconds)
        except Exception:  # noqa: BLE001 - observing must never fail the project's migration
            pass

    def _record(self, conn, statement, parameters, executemany, seconds):
        entry = {"sql": statement.strip()[:MAX_SQL], "parameters": _shown_parameters(parameters, executemany),
                 "line": _call_line(self.path), "seconds": round(seconds, 6), "locks": [], "rewrote": []}
        self.statements.append(entry)
        state = self._read(conn)
        if state is None:
            return
        held, now = state
        entry["locks"] = [list(lock) for lock in sorted(held - self.held)]
        entry["rewrote"] = sorted(name for oid, (name, node) in now.items()
                                  if oid in self.files and self.files[oid][1] != node)
        self.held, self.files = self.held | held, now


class Observer:
    """Collects, step by step, the rows each step wrote: [{"revision", "upgrade", "rows", "rewritten"}]."""

    def __init__(self, version_tables):
        self.version_tables = set(version_tables)
        self.steps = []

    def steps_for(self, revision_map, scripts, upgrade, context):
        step_class = _observed_step_class()
        return [step_class(revision_map, script, upgrade, self, context) for script in scripts]

    def observe(self, step, fn, context, kw):
        connection = context.connection
        if connection is None or _autocommit(connection):
            result = fn(**kw)
            self.steps.append({"revision": step.revision.revision, "upgrade": step.is_upgrade, "rows": None,
                               "rewritten": None})
            return result
        began, counts, files = _state(connection)
        with _Statements(connection, step.revision.path) as captured:
            result = fn(**kw)
        ended, counts_after, files_after = _state(connection)
        if ended != began:
            # The step committed along the way (an autocommit block): the counts started over.
            self.steps.append({"revision": step.revision.revision, "upgrade": step.is_upgrade, "rows": None,
                               "rewritten": None})
            return result
        rows = {}
        for relid, (name, count) in counts_after.items():
            written = count - counts.get(relid, (name, 0))[1]
            if written > 0 and name.rsplit(".", 1)[-1] not in self.version_tables:
                rows[name] = written
        rewritten = sorted(name for oid, (name, node) in files_after.items()
                           if oid in files and files[oid][1] != node)
        self.steps.append({"revision": step.revision.revision, "upgrade": step.is_upgrade, "rows": rows,
                           "rewritten": rewritten, "statements": captured.statements,
                           "statements_beyond": captured.beyond})
        return result


_STEP_CLASS = []


def _observed_step_class():
    """Alembic's own step for one revision and direction, observed as it runs. (Made on first
    use: this module is imported before migbot knows the interpreter has Alembic.)"""
    if _STEP_CLASS:
        return _STEP_CLASS[0]
    from alembic.runtime.migration import RevisionStep

    class ObservedStep(RevisionStep):
        def __init__(self, revision_map, revision, is_upgrade, observer, context):
            name = "upgrade" if is_upgrade else "downgrade"
            if not callable(getattr(revision.module, name, None)):
                # A revision without downgrade(): Alembic would fail with an AttributeError.
                setattr(revision.module, name, _missing(revision.revision, name))
            RevisionStep.__init__(self, revision_map, revision, is_upgrade)
            fn = self.migration_fn

            @functools.wraps(fn)
            def observed(**kw):
                return observer.observe(self, fn, context, kw)

            self.migration_fn = observed

    _STEP_CLASS.append(ObservedStep)
    return ObservedStep


def _missing(revision, name):
    def missing(**kw):
        raise NotImplementedError("revision {} has no {}() function".format(revision, name))

    missing.__name__ = name
    return missing
