"""Which objects a snapshot covers: the user's schemas, never what an extension owns."""

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
