"""SQL fragments naming the user's objects: their schemas, never the system's, never what an
extension owns. Shared by the snapshot (what is compared) and synthetic rows (what is filled)."""

from __future__ import annotations

USER_NAMESPACES = """
    SELECT oid FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema')
      AND nspname NOT LIKE 'pg\\_toast%%' AND nspname NOT LIKE 'pg\\_temp\\_%%'
"""


def not_extension_member(catalog: str, oid: str) -> str:
    return (f"NOT EXISTS (SELECT 1 FROM pg_depend dep_ WHERE dep_.classid = '{catalog}'::regclass "
            f"AND dep_.objid = {oid} AND dep_.deptype = 'e')")


def user_made(catalog: str, oid: str) -> str:
    """Created after initdb (FirstNormalObjectId) and not by an extension: for objects that
    live outside any schema (casts, event triggers, publications, foreign servers)."""
    return f"{oid} >= 16384 AND {not_extension_member(catalog, oid)}"


# Tables whose rows migbot reads and fills (alias c for pg_class): the user's, not partitions
# (their parent holds the rows), not Alembic's version table (%(version_tables)s).
DATA_TABLES = f"""
    c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relnamespace IN ({USER_NAMESPACES})
    AND NOT (c.relname = ANY(%(version_tables)s)) AND {not_extension_member('pg_class', 'c.oid')}
"""


def enabled_state(column: str) -> str:
    """Trigger, rule and event trigger firing modes, in words (origin, the default: NULL)."""
    return f"CASE {column} WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'replica' WHEN 'A' THEN 'always' END"
