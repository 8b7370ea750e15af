"""The tables to fill, as the catalog describes them: columns and their types, unique keys,
foreign keys and CHECK constraints; and the order to fill them in (referenced tables first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from migbot.user_objects import DATA_TABLES

_TABLES = f"""
SELECT c.oid, n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {DATA_TABLES}
ORDER BY 2, 3
"""
_COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.atthasdef OR a.attidentity <> '', a.attidentity = 'a' OR a.attgenerated <> '',
       bt.typname, bt.typtype, bt.typcategory, coalesce(information_schema._pg_char_max_length(bt.oid, coalesce(nullif(t.typtypmod, -1), a.atttypmod)), 0),
       coalesce(information_schema._pg_numeric_precision(bt.oid, coalesce(nullif(t.typtypmod, -1), a.atttypmod)), 0),
       coalesce(information_schema._pg_numeric_scale(bt.oid, coalesce(nullif(t.typtypmod, -1), a.atttypmod)), 0),
       coalesce((SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = bt.oid), '{}'),
       a.attidentity <> '' OR coalesce(pg_get_expr(ad.adbin, ad.adrelid) LIKE 'nextval(%%', false)
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE a.attrelid = ANY(%(oids)s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
_CONSTRAINTS = """
SELECT con.conrelid, con.contype, con.conname, pg_get_constraintdef(con.oid),
       array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o)::text[],
       con.confrelid,
       array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o)::text[]
FROM pg_constraint con
WHERE con.conrelid = ANY(%(oids)s) AND con.contype IN ('p', 'u', 'f', 'c')
UNION ALL  -- unique indexes that are not constraints
SELECT i.indrelid, 'u', ic.relname, pg_get_indexdef(i.indexrelid),
       array(SELECT a.attname FROM unnest(i.indkey) k(n) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n)::text[],
       0, '{}'
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = ANY(%(oids)s) AND i.indisunique AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
"""


@dataclass
class Column:
    name: str
    type_sql: str
    not_null: bool
    has_default: bool
    not_insertable: bool  # generated, or identity ALWAYS
    base_type: str
    type_kind: str  # pg_type.typtype of the base type: b, e, r, ...
    category: str  # pg_type.typcategory
    max_length: int
    precision: int
    scale: int
    labels: list[str]
    numbered: bool = False  # its default draws from a sequence (serial, identity)


@dataclass
class ForeignKey:
    name: str
    columns: list[str]
    ref_oid: int
    ref_columns: list[str]


@dataclass
class Shape:
    oid: int
    schema: str
    name: str
    columns: list[Column] = field(default_factory=list)
    unique: list[list[str]] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)  # name -> definition
    check_columns: dict[str, list[str]] = field(default_factory=dict)  # name -> the columns it reads

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def read_shapes(conn: psycopg.Connection, version_tables: tuple[str, ...]) -> list[Shape]:
    """The user tables (not partitions, an extension's, or the version tables), with their columns and constraints."""
    shapes = {oid: Shape(oid, schema, name) for oid, schema, name in
              conn.execute(_TABLES, {"version_tables": list(version_tables)}).fetchall()}
    oids = list(shapes)
    for row in conn.execute(_COLUMNS, {"oids": oids}).fetchall():
        shapes[row[0]].columns.append(Column(*row[1:]))
    for oid, kind, name, definition, columns, ref_oid, ref_columns in conn.execute(_CONSTRAINTS, {"oids": oids}):
        shape = shapes[oid]
        if kind in ("p", "u"):
            shape.unique.append(columns)
        elif kind == "f":
            shape.foreign_keys.append(ForeignKey(name, columns, ref_oid, ref_columns))
        else:
            shape.checks[name] = definition
            shape.check_columns[name] = columns
    return list(shapes.values())


def row_counts(conn: psycopg.Connection, shapes: list[Shape]) -> dict[int, int]:
    """Every table's row count, in one statement."""
    if not shapes:
        return {}
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}::oid, count(*) FROM {}").format(sql.Literal(s.oid), sql.Identifier(s.schema, s.name))
        for s in shapes)
    return {oid: count for oid, count in conn.execute(query).fetchall()}


def fk_order(shapes: list[Shape]) -> list[Shape]:
    """Referenced tables first; a cycle is broken where it can be (the nullable side goes NULL)."""
    remaining = {s.oid: s for s in shapes}
    order = []
    while remaining:
        ready = [s for s in remaining.values()
                 if all(fk.ref_oid == s.oid or fk.ref_oid not in remaining for fk in s.foreign_keys)]
        if not ready:  # a cycle: take the table whose foreign keys into the cycle are all nullable
            ready = [min(remaining.values(), key=lambda s: (not _cycle_breakable(s, remaining), s.qualified))]
        for shape in sorted(ready, key=lambda s: s.qualified):
            order.append(shape)
            del remaining[shape.oid]
    return order


def _cycle_breakable(shape: Shape, remaining: dict[int, Shape]) -> bool:
    not_null = {c.name for c in shape.columns if c.not_null}
    return all(not (set(fk.columns) & not_null) for fk in shape.foreign_keys if fk.ref_oid in remaining)
