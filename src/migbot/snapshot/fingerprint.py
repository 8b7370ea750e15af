"""Table contents compared in SQL: a fingerprint per table, and what changed.

A fingerprint is the row count and an md5 over the rows' md5s, ordered by primary
key (by row hash for a table without one). No row ever comes into Python. To say
*how* a table changed, remember() first keeps each row's key and hash in migbot's
private schema (`_migbot`, left out of schema snapshots); changes() later joins
the table against them: rows added, removed and changed, with a few sample keys.

Columns whose changes are expected (updated_at, ...) can be left out of the hash.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql
from pydantic import BaseModel

PRIVATE_SCHEMA = "_migbot"
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


class Fingerprint(BaseModel):
    rows: int
    digest: str


class TableChange(BaseModel):
    table: str
    added: int = 0
    removed: int = 0
    changed: int = 0
    sample_added: list[str] = []
    sample_removed: list[str] = []
    sample_changed: list[str] = []

    @property
    def text(self) -> str:
        parts = []
        for count, word, samples in ((self.added, "added", self.sample_added), (self.removed, "removed", self.sample_removed),
                                     (self.changed, "changed", self.sample_changed)):
            if count:
                keys = f" (e.g. {', '.join(samples)})" if samples else ""
                parts.append(f"{count} row{'s' if count != 1 else ''} {word}{keys}")
        return f"`{self.table}`: " + "; ".join(parts)


def user_tables(conn: psycopg.Connection, version_tables: tuple[str, ...] = ("alembic_version",)) -> list[Table]:
    rows = conn.execute(
        """
        SELECT n.nspname, c.relname,
               array(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                     AND NOT a.attisdropped ORDER BY a.attnum)::text[],
               coalesce(array(SELECT a.attname FROM pg_index i
                              JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
                              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                              WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY k.ord)::text[], '{}')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND n.nspname NOT IN ('pg_catalog', 'information_schema', %(private)s)
          AND n.nspname NOT LIKE 'pg\\_%%'
          AND NOT (c.relname = ANY(%(version_tables)s))
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype = 'e')
        ORDER BY 1, 2
        """,
        {"private": PRIVATE_SCHEMA, "version_tables": list(version_tables)},
    ).fetchall()
    return [Table(schema, name, tuple(columns), tuple(pk)) for schema, name, columns, pk in rows]


def _hashed_columns(table: Table, ignore: list[str]) -> list[str]:
    ignored = {i.rsplit(".", 1)[-1] for i in ignore if i.count(".") == 0}
    ignored |= {i.rsplit(".", 1)[-1] for i in ignore if i.rsplit(".", 1)[0] in (table.name, table.qualified)}
    return [c for c in table.columns if c not in ignored]


def _row_hash(table: Table, ignore: list[str]) -> sql.Composable:
    columns = _hashed_columns(table, ignore)
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


def _store(tag: str, index: int) -> sql.Composable:
    return sql.Identifier(PRIVATE_SCHEMA, f"{tag}_{index}")


def remember(conn: psycopg.Connection, tables: list[Table], tag: str, ignore: list[str] = ()) -> None:
    """Keep every row's key and hash, to say later how a table changed."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(PRIVATE_SCHEMA)))
    for index, table in enumerate(tables):
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_store(tag, index)))
        conn.execute(sql.SQL("CREATE UNLOGGED TABLE {store} AS SELECT {key} AS k, {hash} AS h FROM {table}").format(
            store=_store(tag, index), key=_key(table), hash=_row_hash(table, list(ignore)), table=table.ident()))


def changes(conn: psycopg.Connection, tables: list[Table], tag: str, ignore: list[str] = (),
            only: set[str] | None = None) -> list[TableChange]:
    """How each table (of those remembered under `tag`) differs from then."""
    found = []
    for index, table in enumerate(tables):
        if only is not None and table.qualified not in only:
            continue
        now = sql.SQL("SELECT {key} AS k, {hash} AS h FROM {table}").format(
            key=_key(table), hash=_row_hash(table, list(ignore)), table=table.ident())
        if table.primary_key:
            query = sql.SQL("""
                WITH now AS ({now}), was AS (SELECT k, h FROM {store})
                SELECT count(*) FILTER (WHERE was.k IS NULL),
                       count(*) FILTER (WHERE now.k IS NULL),
                       count(*) FILTER (WHERE now.h <> was.h),
                       (array_agg(now.k ORDER BY now.k) FILTER (WHERE was.k IS NULL))[1:{n}],
                       (array_agg(was.k ORDER BY was.k) FILTER (WHERE now.k IS NULL))[1:{n}],
                       (array_agg(now.k ORDER BY now.k) FILTER (WHERE now.h <> was.h))[1:{n}]
                FROM now FULL JOIN was ON now.k = was.k
            """)
        else:
            # Without a key, rows compare as a multiset of hashes: added or removed, never "changed".
            query = sql.SQL("""
                WITH now AS (SELECT h, count(*) AS c FROM ({now}) AS n GROUP BY h),
                     was AS (SELECT h, count(*) AS c FROM {store} GROUP BY h)
                SELECT coalesce(sum(greatest(coalesce(now.c, 0) - coalesce(was.c, 0), 0)), 0)::bigint,
                       coalesce(sum(greatest(coalesce(was.c, 0) - coalesce(now.c, 0), 0)), 0)::bigint,
                       0, '{{}}'::text[], '{{}}'::text[], '{{}}'::text[]
                FROM now FULL JOIN was ON now.h = was.h
            """)
        row = conn.execute(query.format(now=now, store=_store(tag, index), n=sql.Literal(SAMPLES))).fetchone()
        added, removed, changed = (int(v or 0) for v in row[:3])
        if added or removed or changed:
            found.append(TableChange(table=table.qualified, added=added, removed=removed, changed=changed,
                                     sample_added=_keys(row[3]), sample_removed=_keys(row[4]),
                                     sample_changed=_keys(row[5])))
    return found


def _keys(values: list[str] | None) -> list[str]:
    # ROW(id, NULL)::text is "(42,)": show just "42" (or "(1,2)" for composite keys).
    out = []
    for value in values or []:
        inner = value[1:-1].rstrip(",") if value.startswith("(") and value.endswith(",)") else value
        out.append(inner if "," not in inner else f"({inner})")
    return out


def forget(conn: psycopg.Connection) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(PRIVATE_SCHEMA)))
