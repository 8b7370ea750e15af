"""Sequences whose next value is already taken: a sequence re-created (or a table refilled)
without `setval`, so the next insert that takes the default collides with an existing row."""

from __future__ import annotations

import psycopg
from psycopg import sql

_OWNED = """
    SELECT sn.nspname, s.relname, tn.nspname, t.relname, a.attname, q.seqincrement
    FROM pg_depend d
    JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
    JOIN pg_namespace sn ON sn.oid = s.relnamespace
    JOIN pg_class t ON t.oid = d.refobjid
    JOIN pg_namespace tn ON tn.oid = t.relnamespace
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
    JOIN pg_sequence q ON q.seqrelid = s.oid
    WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
      AND q.seqincrement > 0 AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
    ORDER BY 1, 2
"""


def sequences_behind(conn: psycopg.Connection) -> dict[str, str]:
    """{sequence: what is wrong}, for each sequence owned by an integer column whose next
    value is not above the column's largest value."""
    found = {}
    for seq_schema, seq, schema, table, column, step in conn.execute(_OWNED).fetchall():
        last, called = conn.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(
            sql.Identifier(seq_schema, seq))).fetchone()
        top = conn.execute(sql.SQL("SELECT max({}) FROM {}").format(
            sql.Identifier(column), sql.Identifier(schema, table))).fetchone()[0]
        following = last + step if called else last
        if top is not None and following <= top:
            found[f"{seq_schema}.{seq}"] = (f"`{seq_schema}.{seq}` would give {following} next, but "
                                            f"`{schema}.{table}.{column}` already holds values up to {top}")
    return found
