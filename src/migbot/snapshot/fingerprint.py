"""Table contents compared in SQL: a fingerprint per table, and what changed.

A fingerprint is the row count and an md5 over the rows' md5s, ordered by primary
key (by row hash for a table without one), computed by PostgreSQL. To say *how* a
table whose fingerprint changed differs, row_hashes() reads each row's key and
hash (never the row) from the two databases being compared, and diff() names the
rows added, removed and changed, with a few sample keys. The "before" side is a
database migbot keeps untouched: the base data's template, or a clone taken
before the seeds' second run.

Columns whose changes are expected (updated_at, ...) can be left out of the hash.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from migbot.snapshot.types import Fingerprint, TableChange
from migbot.user_objects import DATA_TABLES

SAMPLES = 5


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def ident(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.name)


def user_tables(conn: psycopg.Connection, version_tables: tuple[str, ...] = ("alembic_version",)) -> list[Table]:
    rows = conn.execute(
        f"""
        SELECT n.nspname, c.relname,
               array(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                     AND NOT a.attisdropped ORDER BY a.attnum)::text[],
               coalesce(array(SELECT a.attname FROM pg_index i
                              JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
                              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                              WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY k.ord)::text[], '{{}}')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {DATA_TABLES}
        ORDER BY 1, 2
        """,
        {"version_tables": list(version_tables)},
    ).fetchall()
    return [Table(schema, name, tuple(columns), tuple(pk)) for schema, name, columns, pk in rows]


def hashed_columns(table: Table, ignore: list[str]) -> list[str]:
    """The columns a row's hash covers, by name: a column moved to another position is the same data."""
    ignored = {i.rsplit(".", 1)[-1] for i in ignore if i.count(".") == 0}
    ignored |= {i.rsplit(".", 1)[-1] for i in ignore if i.rsplit(".", 1)[0] in (table.name, table.qualified)}
    return sorted(c for c in table.columns if c not in ignored)


def common_shape(before: Table, after: Table) -> Table:
    """The table as both sides have it: the columns both have, and the primary key if both agree.
    Rows are compared on what both sides can hold; a column added or dropped is a schema
    difference, reported by the schema comparison."""
    columns = tuple(c for c in after.columns if c in before.columns)
    key = after.primary_key if after.primary_key == before.primary_key and set(after.primary_key) <= set(columns) \
        else ()
    return Table(after.schema, after.name, columns, key)


def _row_hash(table: Table, ignore: list[str]) -> sql.Composable:
    columns = hashed_columns(table, ignore)
    if not columns:
        return sql.SQL("md5('')")
    return sql.SQL("md5(ROW({}, NULL)::text)").format(sql.SQL(", ").join(map(sql.Identifier, columns)))


def _key(table: Table) -> sql.Composable:
    if not table.primary_key:
        return sql.SQL("NULL::text")
    return sql.SQL("ROW({}, NULL)::text").format(sql.SQL(", ").join(map(sql.Identifier, table.primary_key)))


def fingerprints(conn: psycopg.Connection, tables: list[Table], ignore: list[str] = ()) -> dict[str, Fingerprint]:
    result = {}
    for table in tables:
        order = (sql.SQL(", ").join(map(sql.Identifier, table.primary_key)) if table.primary_key
                 else sql.SQL("1"))
        query = sql.SQL(
            "SELECT count(*), coalesce(md5(string_agg(migbot_h_, '' ORDER BY {order}, migbot_h_)), '') "
            "FROM (SELECT {hash} AS migbot_h_, * FROM {table}) AS rows_"
        ).format(order=order, hash=_row_hash(table, list(ignore)), table=table.ident())
        count, digest = conn.execute(query).fetchone()
        result[table.qualified] = Fingerprint(rows=count, digest=digest)
    return result


def row_hashes(conn: psycopg.Connection, table: Table, ignore: list[str] = ()) -> dict[str, list[str]]:
    """Each row's key and hash (rows themselves never leave PostgreSQL), for a table whose
    fingerprint changed. Without a primary key the hash stands in for the key."""
    query = sql.SQL("SELECT {key}, {hash} FROM {table}").format(
        key=_key(table), hash=_row_hash(table, list(ignore)), table=table.ident())
    found: dict[str, list[str]] = {}
    with conn.cursor(name="migbot_row_hashes") if not conn.autocommit else conn.cursor() as cursor:
        cursor.execute(query)
        for key, digest in cursor:
            found.setdefault(key if key is not None else digest, []).append(digest)
    return found


def diff(table: Table, before: dict[str, list[str]], after: dict[str, list[str]]) -> TableChange:
    """Rows added, removed and changed between two row_hashes() of the same table."""
    added = sorted(k for k in after if k not in before)
    removed = sorted(k for k in before if k not in after)
    if table.primary_key:
        changed = sorted(k for k in after if k in before and after[k] != before[k])
        extra_added = extra_removed = 0
    else:  # keyed by hash: a multiset, where a changed row is one removed and one added
        changed = []
        extra_added = sum(max(len(after[k]) - len(before[k]), 0) for k in after if k in before)
        extra_removed = sum(max(len(before[k]) - len(after[k]), 0) for k in before if k in after)
        added_count = sum(len(after[k]) for k in added) + extra_added
        removed_count = sum(len(before[k]) for k in removed) + extra_removed
        return TableChange(table=table.qualified, added=added_count, removed=removed_count)
    return TableChange(table=table.qualified, added=len(added), removed=len(removed), changed=len(changed),
                       sample_added=_keys(added[:SAMPLES]), sample_removed=_keys(removed[:SAMPLES]),
                       sample_changed=_keys(changed[:SAMPLES]))


def _keys(values: list[str] | None) -> list[str]:
    # ROW(id, NULL)::text is "(42,)": show just "42" (or "(1,2)" for composite keys).
    out = []
    for value in values or []:
        inner = value[1:-1].rstrip(",") if value.startswith("(") and value.endswith(",)") else value
        out.append(inner if "," not in inner else f"({inner})")
    return out


def changed_columns(old: psycopg.Connection, new: psycopg.Connection, table: Table,
                    columns: list[str]) -> dict[str, int]:
    """For a keyed table whose rows changed: how many rows changed in each of `columns`, matching
    rows by key. Each side sends a key and a digest per column, never the values."""
    if not table.primary_key or not columns:
        return {}
    query = sql.SQL("SELECT {key}, {digests} FROM {table}").format(
        key=_key(table), table=table.ident(),
        digests=sql.SQL(", ").join(sql.SQL("md5({}::text)").format(sql.Identifier(c)) for c in columns))
    before = {row[0]: row[1:] for row in old.execute(query)}
    counts = dict.fromkeys(columns, 0)
    for key, *digests in new.execute(query):
        previous = before.get(key)
        if previous is not None:
            for column, was, now in zip(columns, previous, digests):
                counts[column] += was != now
    return {c: n for c, n in counts.items() if n}
