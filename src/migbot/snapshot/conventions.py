"""Facts for the convention rules, asked of the catalogs at head: foreign keys that no index
covers, and tables without a primary key. Keys are the snapshot's ("schema.table.constraint",
"schema.table"), so the checks can tell which the branch added.

A foreign key is covered by a valid, non-partial index whose leading columns are the key's
columns, in any order: PostgreSQL can then find the referencing rows of a deleted or updated
parent row without scanning the table.
"""

from __future__ import annotations

import psycopg

from migbot.user_objects import DATA_TABLES, USER_NAMESPACES, not_extension_member

UNINDEXED_FOREIGN_KEYS = f"""
    SELECT n.nspname || '.' || c.relname || '.' || con.conname AS key,
           n.nspname || '.' || c.relname AS "table",
           (SELECT string_agg(a.attname, ', ' ORDER BY k.ord)
            FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS columns,
           (SELECT rn.nspname || '.' || r.relname FROM pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace
            WHERE r.oid = con.confrelid) AS referenced
    FROM pg_constraint con
    JOIN pg_class c ON c.oid = con.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE con.contype = 'f' AND c.relnamespace IN ({USER_NAMESPACES})
      AND {not_extension_member('pg_class', 'c.oid')}
      AND NOT EXISTS (
        SELECT 1 FROM pg_index i
        WHERE i.indrelid = con.conrelid AND i.indpred IS NULL AND i.indisvalid
          AND (i.indkey::int2[])[0:cardinality(con.conkey) - 1] @> con.conkey
          AND (i.indkey::int2[])[0:cardinality(con.conkey) - 1] <@ con.conkey)
    ORDER BY 1
"""

TABLES_WITHOUT_PRIMARY_KEY = f"""
    SELECT n.nspname || '.' || c.relname AS key
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE {DATA_TABLES}
      AND NOT EXISTS (SELECT 1 FROM pg_constraint p WHERE p.conrelid = c.oid AND p.contype = 'p')
    ORDER BY 1
"""


def read_conventions(conn: psycopg.Connection, version_tables: tuple[str, ...]) -> dict:
    """{"unindexed_foreign_keys": [{key, table, columns, referenced}], "tables_without_primary_key": [key]}."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        unindexed = cur.execute(UNINDEXED_FOREIGN_KEYS, {}).fetchall()
        keyless = cur.execute(TABLES_WITHOUT_PRIMARY_KEY, {"version_tables": list(version_tables)}).fetchall()
    return {"unindexed_foreign_keys": [dict(row) for row in unindexed],
            "tables_without_primary_key": [row["key"] for row in keyless]}
