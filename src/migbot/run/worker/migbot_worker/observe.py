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
                           "rewritten": rewritten})
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
