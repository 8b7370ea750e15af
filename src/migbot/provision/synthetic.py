"""Synthetic rows for empty tables, generated from the catalog, in SQL.

Most migrations that break in production pass on an empty database. Before the new
revisions run over data, every table the base seeds left empty gets rows: one
`INSERT ... SELECT ... FROM generate_series(1, n)` per table, in foreign-key order.
Values follow the column types (lengths, precision, enum labels, domains) and are
unique where uniqueness could matter. Foreign keys take the referenced rows in turn:
two keys to the same table point at different rows, and a key to the table itself
points at an earlier row. Columns with a default (serials, identities, now(), ...)
keep it unless a CHECK reads them. About one row in ten leaves a nullable column
NULL, as real data does.

CHECK constraints are read with pglast as the ways each can hold (an OR gives
several): IN lists, equalities, bounds, IS [NOT] NULL, num_nonnulls(...), and
comparisons between two columns, where one column is then made from the other.
What the reading misses, the table's own CHECK expressions catch: they filter the
generated rows, so only rows that satisfy every check are inserted (and repeated
keys are dropped with ON CONFLICT DO NOTHING). When the set-based insert still
fails, rows go in smaller batches and then one by one, each in a savepoint, and
only the failing ones are left out.

A table migbot cannot fill (an unsupported NOT NULL type, a foreign key to an empty
table, a check no generated row satisfies) is skipped with the reason, naming the
constraint or column, never guessed at.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from itertools import combinations

import psycopg
from psycopg import sql

_BATCH = 25  # rows per statement once the set-based insert has failed
_MAX_FAILED_ROWS = 20  # single rows tried in vain before a table is given up
_MAX_WAYS = 16  # ways of satisfying one CHECK that are weighed
_MAX_VARIANTS = 3  # plans tried per table, each taking the next workable way through the checks

_TABLES = """
SELECT c.oid, n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
  AND NOT (c.relname = ANY(%(version_tables)s))
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
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


@dataclass
class FillResult:
    filled: dict[str, int] = field(default_factory=dict)  # table -> rows inserted
    skipped: dict[str, str] = field(default_factory=dict)  # table -> why not


@dataclass(frozen=True)
class Need:
    """One thing a way of satisfying a CHECK asks of a column."""
    kind: str  # in, low, high, not_null, null, relation, opaque
    column: str = ""
    values: tuple = ()  # in: the values allowed; low, high: the bound
    op: str = ""  # relation: <, <=, = or <> ...
    other: str = ""  # ... against this column


_OPAQUE = Need("opaque")
_COST = {"not_null": 1, "relation": 1, "low": 1, "high": 1, "in": 2, "null": 2, "opaque": 4}


@dataclass
class Check:
    name: str
    definition: str
    columns: list[str]  # the columns it reads
    ways: list[list[Need]]  # the workable ways it can hold, best first (or the least bad one)
    obstacle: str | None = None  # why no way is workable, when the schema shows it

    @property
    def expression(self) -> str:
        return _check_expression(self.definition)


@dataclass
class Needs:
    """What the chosen ways through a table's checks ask of its columns, together."""
    allowed: dict[str, list] = field(default_factory=dict)  # IN lists and equalities
    low: dict[str, int] = field(default_factory=dict)
    high: dict[str, int] = field(default_factory=dict)
    not_null: set[str] = field(default_factory=set)
    null: set[str] = field(default_factory=set)
    relations: list[tuple[str, str, str]] = field(default_factory=list)  # (left, op, right)


@dataclass
class KeyValues:
    """How the foreign-key columns of one table get their values."""
    values: dict[str, sql.Composable] = field(default_factory=dict)  # column -> expression over the joins
    joins: list[sql.Composable] = field(default_factory=list)
    nulls: set[str] = field(default_factory=set)  # columns left NULL: their referenced table has no rows
    parents: list[tuple[ForeignKey, bool]] = field(default_factory=list)  # keys to the table itself, required?
    limit: int | None = None  # a one-to-one key allows one row per referenced row


@dataclass
class Generated:
    """The generated rows of one table, as SQL to insert them or to ask why none would go in."""
    shape: Shape
    values: dict[str, sql.Composable]  # column -> expression over g and the joins
    joins: list[sql.Composable]
    parents: list[tuple[ForeignKey, bool]]
    checks: list[Check]  # those every inserted row is filtered with
    limit: int

    @property
    def columns(self) -> list[str]:
        return list(self.values) + [c for fk, _ in self.parents for c in fk.columns]

    def insert(self, first: int, last: int, skip_conflicts: bool = True) -> sql.Composable:
        """Rows `first` to `last` that satisfy the checks; repeated keys are dropped or fail."""
        names = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        where = [sql.SQL("migbot_row BETWEEN {} AND {}").format(sql.Literal(first), sql.Literal(last))]
        where += [sql.SQL("({}) IS NOT FALSE").format(sql.SQL(c.expression)) for c in self.checks]  # NULL passes a CHECK
        return sql.SQL("{rows} INSERT INTO {table} {names} SELECT {select} FROM candidate WHERE {where}{conflict}").format(
            rows=self._rows(), table=sql.Identifier(self.shape.schema, self.shape.name),
            names=sql.SQL("({})").format(names) if self.columns else sql.SQL(""), select=names,
            where=sql.SQL(" AND ").join(where),
            conflict=sql.SQL(" ON CONFLICT DO NOTHING") if skip_conflicts else sql.SQL(""))

    def count_failing(self) -> sql.Composable:
        """The number of generated rows, then of those each check rejects."""
        failing = [sql.SQL("count(*) FILTER (WHERE ({}) IS FALSE)").format(sql.SQL(c.expression)) for c in self.checks]
        return sql.SQL("{} SELECT {} FROM candidate").format(
            self._rows(), sql.SQL(", ").join([sql.SQL("count(*)"), *failing]))

    def _rows(self) -> sql.Composable:
        items = [sql.SQL("g AS migbot_row")]
        items += [sql.SQL("{} AS {}").format(value, sql.Identifier(name)) for name, value in self.values.items()]
        generated = sql.SQL("SELECT {} FROM generate_series(1, {}) AS g {}").format(
            sql.SQL(", ").join(items), sql.Literal(self.limit), sql.SQL(" ").join(self.joins))
        columns = {c.name: c for c in self.shape.columns}
        items, joins = [sql.SQL("generated.*")], []
        for index, (fk, required) in enumerate(self.parents):
            # Row n points at row n / 2: a tree whose root has no parent, or is its own when one is required.
            alias = sql.Identifier(f"parent{index}")
            parent_row = sql.SQL("greatest(generated.migbot_row / 2, 1)" if required else "generated.migbot_row / 2")
            joins.append(sql.SQL("LEFT JOIN generated AS {alias} ON {alias}.migbot_row = {row}").format(
                alias=alias, row=parent_row))
            items += [sql.SQL("{}.{}::{} AS {}").format(alias, sql.Identifier(ref), sql.SQL(columns[column].type_sql),
                                                        sql.Identifier(column))
                      for column, ref in zip(fk.columns, fk.ref_columns)]
        return sql.SQL("WITH generated AS ({}), candidate AS (SELECT {} FROM generated {})").format(
            generated, sql.SQL(", ").join(items), sql.SQL(" ").join(joins))


def fill_empty_tables(conn: psycopg.Connection, rows: int = 300,
                      version_tables: tuple[str, ...] = ("alembic_version",)) -> FillResult:
    """Give every empty table `rows` rows (fewer where uniqueness allows no more). `conn` must be in autocommit."""
    result = FillResult()
    if rows <= 0:
        return result
    shapes = _read_shapes(conn, version_tables)
    by_oid = {s.oid: s for s in shapes}
    counts = _row_counts(conn, shapes)
    for shape in _fk_order(shapes):
        if counts[shape.oid]:
            continue  # it has rows (from the seeds): leave it as it is
        problem = _fill(conn, shape, by_oid, rows, counts)
        if problem:
            result.skipped[shape.qualified] = problem
        else:
            result.filled[shape.qualified] = counts[shape.oid]
    return result


def _row_counts(conn: psycopg.Connection, shapes: list[Shape]) -> dict[int, int]:
    """Every table's row count, in one statement."""
    if not shapes:
        return {}
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}::oid, count(*) FROM {}").format(sql.Literal(s.oid), sql.Identifier(s.schema, s.name))
        for s in shapes)
    return {oid: count for oid, count in conn.execute(query).fetchall()}


def _read_shapes(conn: psycopg.Connection, version_tables: tuple[str, ...]) -> list[Shape]:
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


def _fk_order(shapes: list[Shape]) -> list[Shape]:
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


# ---- one table -------------------------------------------------------------------------------


def _fill(conn: psycopg.Connection, shape: Shape, by_oid: dict[int, Shape], rows: int,
          counts: dict[int, int]) -> str | None:
    """Insert rows into one empty table (recording how many in `counts`); or say why not."""
    keys = _key_values(shape, by_oid, counts)
    if isinstance(keys, str):
        return keys
    checks = _read_checks(shape, _fillable(shape, keys))
    problem = None
    for variant in range(_variant_count(checks)):
        generated = _generate(shape, keys, checks, variant, rows)
        if isinstance(generated, str):
            return generated
        inserted, why = _insert(conn, generated)
        if inserted:
            counts[shape.oid] = inserted
            return None
        problem = problem or why
    return problem


def _key_values(shape: Shape, by_oid: dict[int, Shape], counts: dict[int, int]) -> KeyValues | str:
    """Foreign-key columns take the referenced rows in turn; NULL where there are none."""
    columns = {c.name: c for c in shape.columns}
    keys = KeyValues()
    keys_so_far: dict[int, int] = {}  # referenced table -> keys of this table to it already placed
    for index, fk in enumerate(shape.foreign_keys):
        ref = by_oid.get(fk.ref_oid)
        required = any(columns[c].not_null for c in fk.columns)
        if ref is not None and ref.oid == shape.oid:
            keys.parents.append((fk, required))
            continue
        available = counts.get(ref.oid, 0) if ref is not None else 0
        if not available:
            if required:
                target = ref.qualified if ref else "another table"
                return f"its foreign key {fk.name} needs rows in {target}, which has none"
            keys.values.update({c: _null(columns[c]) for c in fk.columns})
            keys.nulls.update(fk.columns)
            continue
        alias = sql.Identifier(f"fk{index}")
        ref_cols = sql.SQL(", ").join(map(sql.Identifier, fk.ref_columns))
        keys.joins.append(sql.SQL(
            "JOIN (SELECT {cols}, row_number() OVER (ORDER BY {cols}) - 1 AS rn, count(*) OVER () AS cnt "
            "FROM {ref} WHERE {not_null}) AS {alias} ON {alias}.rn = {position}"
        ).format(cols=ref_cols, ref=sql.Identifier(ref.schema, ref.name), alias=alias,
                 position=_referenced_row(alias, keys_so_far.get(ref.oid, 0)),
                 not_null=sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in fk.ref_columns)))
        keys_so_far[ref.oid] = keys_so_far.get(ref.oid, 0) + 1
        for column, ref_column in zip(fk.columns, fk.ref_columns):
            keys.values[column] = sql.SQL("{}.{}::{}").format(alias, sql.Identifier(ref_column),
                                                              sql.SQL(columns[column].type_sql))
        if any(set(u) <= set(fk.columns) for u in shape.unique):
            keys.limit = min(keys.limit or available, available)  # one-to-one: one row per referenced row
    return keys


def _referenced_row(alias: sql.Composable, earlier_keys: int) -> sql.Composable:
    """Which referenced row (0-based) row g takes. The k-th further key to the same table is shifted
    by k * (1 + round), which is never 0 modulo the count for k = 1 within count - 1 rounds: so
    `follower_id <> followee_id` holds, and the pair repeats only after count * (count - 1) rows."""
    if not earlier_keys:
        return sql.SQL("(g - 1) % {}.cnt").format(alias)
    return sql.SQL("((g - 1) + {k} * (1 + (g - 1) / {a}.cnt)) % {a}.cnt").format(k=sql.Literal(earlier_keys), a=alias)


def _fillable(shape: Shape, keys: KeyValues) -> set[str]:
    """Columns that can hold something other than NULL in the generated rows."""
    return {c.name for c in shape.columns if c.name not in keys.nulls and
            (c.has_default or c.not_insertable or c.name in keys.values or _value(c, shape, None) is not None)}


def _generate(shape: Shape, keys: KeyValues, checks: list[Check], variant: int, rows: int) -> Generated | str:
    """An expression per column for the `variant`-th workable way through the checks; or why none can be had."""
    columns = {c.name: c for c in shape.columns}
    needs = _merge([check.ways[min(variant, len(check.ways) - 1)] for check in checks])
    allowed = _allowed(needs, columns)
    values = _column_values(shape, keys, checks, needs, allowed)
    if isinstance(values, str):
        return values
    forced_null = {name for name in needs.null if not columns[name].not_null}
    values.update({name: _null(columns[name]) for name in forced_null})
    parents = _parent_keys(keys.parents, values, columns, forced_null)
    if isinstance(parents, str):
        return parents
    _follow_relations(values, needs.relations, columns, fixed=set(keys.values) | set(needs.allowed) | forced_null)
    limit = _row_limit(shape, columns, allowed, keys.limit, rows)
    if limit <= 0:
        return "its unique constraints allow no rows of generated values"
    output = set(values) | {c for fk, _ in parents for c in fk.columns}
    filters = [check for check in checks if set(check.columns) <= output]
    return Generated(shape, values, keys.joins, parents, filters, limit)


def _column_values(shape: Shape, keys: KeyValues, checks: list[Check], needs: Needs,
                   allowed: dict[str, list]) -> dict[str, sql.Composable] | str:
    """The foreign keys' values, and one for every other column that does not keep its default."""
    columns = {c.name: c for c in shape.columns}
    divisors = _radix_divisors(shape, columns, allowed)
    self_keyed = {c for fk, _ in keys.parents for c in fk.columns}
    read = {c for check in checks for c in check.columns} | {c for fk, _ in keys.parents for c in fk.ref_columns}
    values = dict(keys.values)
    for column in shape.columns:
        if column.name in values or column.name in self_keyed or column.not_insertable:
            continue
        if column.has_default and (column.numbered or column.name not in read):
            continue  # the default stays, unless a check or a key to this table has to know the value
        expression = _value(column, shape, allowed.get(column.name), divisors.get(column.name, 1))
        if expression is None:
            if column.not_null and not column.has_default:
                return f"migbot cannot generate values of type {column.type_sql} (column {column.name})"
            continue
        if not column.not_null and column.name not in needs.not_null:
            expression = sql.SQL("CASE WHEN g % 10 = 0 THEN NULL ELSE {} END").format(expression)
        values[column.name] = expression
    return values


def _parent_keys(parents: list[tuple[ForeignKey, bool]], values: dict[str, sql.Composable],
                 columns: dict[str, Column], forced_null: set[str]) -> list[tuple[ForeignKey, bool]] | str:
    """The keys to the table itself that can point at earlier rows: those whose referenced columns get
    generated values. The others go NULL (in `values`), or, when they must not, say why not."""
    pointing = []
    for fk, required in parents:
        if all(ref in values for ref in fk.ref_columns) and not set(fk.columns) & forced_null:
            pointing.append((fk, required))
        elif required and not set(fk.columns) & forced_null:
            return (f"its foreign key {fk.name} refers to the table itself, and migbot cannot choose "
                    f"{', '.join(fk.ref_columns)} (a sequence or the server sets them)")
        else:
            values.update({c: _null(columns[c]) for c in fk.columns if not columns[c].not_null})
    return pointing


def _row_limit(shape: Shape, columns: dict[str, Column], allowed: dict[str, list], one_to_one: int | None,
               rows: int) -> int:
    """How many rows to generate: fewer when a unique key can only take so many values."""
    limit = min(rows, one_to_one if one_to_one is not None else rows)
    for unique in shape.unique:
        cardinality = _cardinality([columns[c] for c in unique], allowed)
        if cardinality is not None:
            limit = min(limit, cardinality)
    return limit


def _null(column: Column) -> sql.Composable:
    return sql.SQL("NULL::{}").format(sql.SQL(column.type_sql))


def _follow_relations(values: dict[str, sql.Composable], relations: list[tuple[str, str, str]],
                      columns: dict[str, Column], fixed: set[str]) -> None:
    """Make one side of each comparison between two columns follow from the other, so that every row
    satisfies it: for `start_at < end_at`, end_at is start_at plus a step."""
    for left, op, right in relations:
        if left not in values or right not in values:
            continue
        for source, target, upward in ((left, right, True), (right, left, False)):
            if target in fixed:
                continue
            expression = _stepped(values[source], op, columns[source], columns[target], upward)
            if expression is None:
                continue
            if columns[target].not_null:  # where the source is NULL, the target keeps a value of its own
                expression = sql.SQL("coalesce({}, {})").format(expression, values[target])
            values[target] = expression
            fixed.update((source, target))  # neither may change now: the other one follows it
            break


_STEPS = {"int2": "1", "int4": "1", "int8": "1", "numeric": "1", "float4": "1", "float8": "1", "date": "1",
          "timestamp": "interval '1 day'", "timestamptz": "interval '1 day'", "time": "interval '1 minute'",
          "timetz": "interval '1 minute'", "interval": "interval '1 minute'"}


def _stepped(source: sql.Composable, op: str, source_column: Column, target: Column,
             upward: bool) -> sql.Composable | None:
    """A value for `target` that compares to `source` as `op` asks (target above it when `upward`)."""
    cast = sql.SQL(target.type_sql)
    if op == "=":
        return sql.SQL("({})::{}").format(source, cast)
    if source_column.category != target.category:
        return None
    if op == "<>":
        if source_column.base_type == "bool":
            return sql.SQL("(NOT {})::{}").format(source, cast)
        upward = True  # any difference will do
    step = _STEPS.get(source_column.base_type)
    if step is not None:
        return sql.SQL("({} {} {})::{}").format(source, sql.SQL("+" if upward else "-"), sql.SQL(step), cast)
    if source_column.category == "S" and upward:  # a string sorts before itself with more after it
        return sql.SQL("({} || '~')::{}").format(source, cast)
    return None


def _variant_count(checks: list[Check]) -> int:
    return max([1] + [min(len(check.ways), _MAX_VARIANTS) for check in checks])


# ---- inserting ---------------------------------------------------------------------------------


def _insert(conn: psycopg.Connection, generated: Generated) -> tuple[int, str | None]:
    """Insert the generated rows that satisfy the checks. Returns how many went in, or why none did."""
    try:
        with conn.transaction():  # one table's rows commit together: deferred constraints are checked here
            inserted, problem = _insert_all_or_some(conn, generated)
    except psycopg.Error as exc:
        if conn.closed:
            raise
        return 0, _error_reason(exc)
    if inserted:
        return inserted, None
    return 0, problem or _why_no_row_passes(conn, generated)


def _insert_all_or_some(conn: psycopg.Connection, generated: Generated) -> tuple[int, str | None]:
    """All rows in one statement; when that fails, in batches, and a failing batch row by row,
    so that only the rows that break something are left out."""
    try:
        with conn.transaction():
            return conn.execute(generated.insert(1, generated.limit)).rowcount, None
    except psycopg.Error as exc:
        if conn.closed:
            raise
        problem = _error_reason(exc)
        # A deferrable unique key cannot arbitrate ON CONFLICT: then repeated keys fail their batch or row.
        skip_conflicts = not isinstance(exc, psycopg.errors.ObjectNotInPrerequisiteState)
    inserted = failed = 0
    for first in range(1, generated.limit + 1, _BATCH):
        last = min(first + _BATCH - 1, generated.limit)
        added = _try_insert(conn, generated.insert(first, last, skip_conflicts))
        if added is not None:
            inserted += added
            continue
        for row in range(first, last + 1):
            added = _try_insert(conn, generated.insert(row, row, skip_conflicts))
            if added is not None:
                inserted += added
                continue
            failed += 1
            if failed >= _MAX_FAILED_ROWS:
                return inserted, problem
    return inserted, problem


def _try_insert(conn: psycopg.Connection, statement: sql.Composable) -> int | None:
    """Rows inserted, or None when the statement failed (and was rolled back to its savepoint)."""
    try:
        with conn.transaction():
            return conn.execute(statement).rowcount
    except psycopg.Error:
        if conn.closed:
            raise
        return None


def _error_reason(exc: psycopg.Error) -> str:
    diag, message = exc.diag, str(exc).splitlines()[0]
    if diag.constraint_name:
        return f"generated rows break constraint {diag.constraint_name} ({message})"
    if diag.column_name:
        return f"generated rows break column {diag.column_name} ({message})"
    return f"inserting generated rows fails ({message})"


def _why_no_row_passes(conn: psycopg.Connection, generated: Generated) -> str:
    """Which checks reject every generated row (the insert went through, and took none)."""
    if not generated.checks:
        return "migbot could generate no rows for it"
    try:
        with conn.transaction():
            total, *failing = conn.execute(generated.count_failing()).fetchone()
    except psycopg.Error as exc:
        if conn.closed:
            raise
        return _error_reason(exc)
    if not total:
        return "migbot could generate no rows for it (its foreign keys found no referenced keys)"
    rejecting = [check for check, n in zip(generated.checks, failing) if n == total]
    if not rejecting:
        names = ", ".join(check.name for check, n in zip(generated.checks, failing) if n)
        return f"no generated row satisfies its checks {names} at once" if names else "migbot could generate no rows for it"
    return "; ".join(f"no generated row satisfies its check {check.name} {check.definition}"
                     + (f": {check.obstacle}" if check.obstacle else "") for check in rejecting)


# ---- values ----------------------------------------------------------------------------------


def _radix_divisors(shape: Shape, columns: dict[str, Column], allowed: dict[str, list]) -> dict[str, int]:
    """For a unique constraint over few-valued columns (booleans, enums, IN lists), count through
    the combinations like digits of a number, so that no two rows repeat one."""
    divisors: dict[str, int] = {}
    for unique in shape.unique:
        if _cardinality([columns[c] for c in unique], allowed) is None:
            continue
        divisor = 1
        for name in unique:
            divisors.setdefault(name, divisor)
            divisor *= _cardinality([columns[name]], allowed) or 1
    return divisors


def _value(column: Column, shape: Shape, allowed: list | None, divisor: int = 1) -> sql.Composable | None:
    """An expression of g (1, 2, ...) for the column; unique per row where the type allows."""
    cast = sql.SQL(column.type_sql)
    index = sql.SQL("((g - 1) / {})").format(sql.Literal(divisor)) if divisor > 1 else sql.SQL("(g - 1)")
    if allowed:
        return sql.SQL("(ARRAY[{}])[1 + {} % {}]::{}").format(
            sql.SQL(", ").join(map(sql.Literal, allowed)), index, sql.Literal(len(allowed)), cast)
    t, category = column.base_type, column.category
    salt = sql.Literal(f"{shape.name}.{column.name}.")
    if column.type_kind == "e":
        labels = sql.SQL(", ").join(map(sql.Literal, column.labels))
        return sql.SQL("(ARRAY[{}])[1 + {} % {}]::{}").format(labels, index, sql.Literal(len(column.labels)), cast)
    if category == "A":
        return sql.SQL("'{{}}'::{}").format(cast)
    if t in ("int2",):
        return sql.SQL("(g % 32000)::{}").format(cast)
    if t in ("int4", "int8", "oid"):
        return sql.SQL("g::{}").format(cast)
    if t == "numeric":
        if column.precision:
            top = 10 ** max(column.precision - column.scale, 0) - 1
            return sql.SQL("(g % {})::{}").format(sql.Literal(max(top, 1)), cast) if top >= 1 else \
                sql.SQL("(0.1)::{}").format(cast)
        return sql.SQL("(g * 1.25)::{}").format(cast)
    if t in ("float4", "float8", "money"):
        return sql.SQL("(g * 1.5)::{}").format(cast)
    if t == "bool":
        return sql.SQL("({} % 2 = 1)::{}").format(index, cast)
    if category == "S" or t in ("text", "varchar", "bpchar", "citext", "name"):
        n = column.max_length
        if n and n < 12:
            return sql.SQL("right(lpad(g::text, {n}, '0'), {n})::{}").format(cast, n=sql.Literal(n))
        text = sql.SQL("({} || g::text)").format(sql.Literal(column.name[:20] + "-"))
        return sql.SQL("left({}, {})::{}").format(text, sql.Literal(n), cast) if n else sql.SQL("{}::{}").format(text, cast)
    if t == "uuid":
        return sql.SQL("md5({} || g::text)::uuid::{}").format(salt, cast)
    if t == "date":
        return sql.SQL("(date '2024-01-01' + (g % 3650)::int)::{}").format(cast)
    if t in ("timestamp", "timestamptz"):
        return sql.SQL("(timestamp '2024-01-01' + g * interval '1 hour')::{}").format(cast)
    if t in ("time", "timetz"):
        return sql.SQL("(time '00:00' + (g % 86400) * interval '1 second')::{}").format(cast)
    if t == "interval":
        return sql.SQL("(g * interval '1 minute')::{}").format(cast)
    if t in ("json", "jsonb"):
        return sql.SQL("jsonb_build_object('n', g)::{}").format(cast)
    if t == "bytea":
        return sql.SQL("decode(md5({} || g::text), 'hex')::{}").format(salt, cast)
    if t in ("inet", "cidr"):
        return sql.SQL("('10.' || (g / 65536 % 256) || '.' || (g / 256 % 256) || '.' || (g % 256))::{}").format(cast)
    if t == "tsvector":
        return sql.SQL("to_tsvector('simple', 'word' || g)::{}").format(cast)
    return None


def _cardinality(columns: list[Column], allowed: dict[str, list]) -> int | None:
    """How many distinct value combinations generated values can take, when that is small."""
    total = 1
    for column in columns:
        if column.name in allowed:
            total *= len(allowed[column.name])
        elif column.type_kind == "e":
            total *= len(column.labels)
        elif column.base_type == "bool":
            total *= 2
        else:
            return None
    return total


def _allowed(needs: Needs, columns: dict[str, Column]) -> dict[str, list]:
    """The values each column may take: IN lists and equalities, and numbers within the bounds."""
    allowed = dict(needs.allowed)
    for name in set(needs.low) | set(needs.high):
        column = columns[name]
        if name not in allowed and column.category == "N":
            numbers = _numbers_between(needs.low.get(name), needs.high.get(name), column)
            if numbers:
                allowed[name] = numbers
    return allowed


def _numbers_between(low: int | None, high: int | None, column: Column) -> list[int]:
    if column.base_type == "numeric" and column.precision:  # numeric(p, s) holds no more than this
        top = 10 ** max(column.precision - column.scale, 0) - 1
        low, high = max(low if low is not None else -top, -top), min(high if high is not None else top, top)
    if low is not None and high is not None:
        return list(range(low, min(high, low + 499) + 1))
    if low is not None:
        return list(range(low, low + 500))
    return list(range(high - 499, high + 1))


# ---- reading CHECK constraints -------------------------------------------------------------------


def _read_checks(shape: Shape, fillable: set[str]) -> list[Check]:
    """Each check, with the ways it can hold that the table's columns allow, best first."""
    columns = {c.name: c for c in shape.columns}
    checks = []
    for name, definition in shape.checks.items():
        ways = sorted((_known(way, columns) for way in _ways(_parse_check(definition))),
                      key=lambda way: sum(_COST[need.kind] for need in way))
        workable = [way for way in ways if _obstacle(way, columns, fillable) is None]
        obstacle = None if workable else _obstacle(ways[0], columns, fillable)
        checks.append(Check(name, definition, shape.check_columns.get(name, []), workable or ways[:1], obstacle))
    return checks


def _known(way: list[Need], columns: dict[str, Column]) -> list[Need]:
    """The way with needs about names that are not columns (qualified, or from elsewhere) left opaque."""
    return [need if need.kind == "opaque" or (need.column in columns and need.other in ("", *columns)) else _OPAQUE
            for need in way]


def _obstacle(way: list[Need], columns: dict[str, Column], fillable: set[str]) -> str | None:
    """Why no row can meet every need of `way`, when the schema shows it."""
    nulls = {need.column for need in way if need.kind == "null"}
    lists: dict[str, set] = {}
    low: dict[str, int] = {}
    high: dict[str, int] = {}
    for need in way:
        name = need.column
        if need.kind == "null" and columns[name].not_null:
            return f"column {name} would have to be NULL, and it is NOT NULL"
        if need.kind == "not_null" and name in nulls:
            return f"column {name} would have to be NULL and not NULL at once"
        if need.kind == "not_null" and name not in fillable:
            return f"column {name} would have to be NOT NULL, and migbot has no value for it"
        if need.kind == "in":
            lists[name] = lists[name] & set(need.values) if name in lists else set(need.values)
            if not lists[name]:
                return f"no value of column {name} is in every list it must be in"
        if need.kind in ("low", "high"):
            bounds, pick = (low, max) if need.kind == "low" else (high, min)
            bounds[name] = pick(bounds.get(name, need.values[0]), need.values[0])
            if name in low and name in high and low[name] > high[name]:
                return f"no value of column {name} is both >= {low[name]} and <= {high[name]}"
    return None


def _merge(ways: list[list[Need]]) -> Needs:
    needs = Needs()
    for need in (need for way in ways for need in way):
        name = need.column
        if need.kind == "in":
            common = [v for v in needs.allowed.get(name, need.values) if v in need.values]
            needs.allowed[name] = common or needs.allowed.get(name, list(need.values))
        elif need.kind == "low":
            needs.low[name] = max(needs.low.get(name, need.values[0]), need.values[0])
        elif need.kind == "high":
            needs.high[name] = min(needs.high.get(name, need.values[0]), need.values[0])
        elif need.kind == "not_null":
            needs.not_null.add(name)
        elif need.kind == "null":
            needs.null.add(name)
        elif need.kind == "relation":
            needs.relations.append((name, need.op, need.other))
    return needs


def _check_expression(definition: str) -> str:
    """The boolean expression of a CHECK constraint's definition (pg_get_constraintdef)."""
    expression = definition.removeprefix("CHECK ")
    for suffix in (" NOT VALID", " NO INHERIT"):
        expression = expression.removesuffix(suffix)
    return expression


def _parse_check(definition: str):
    """The expression of a CHECK constraint, parsed; None if pglast cannot read it (then unused)."""
    from pglast import parse_sql

    try:
        return parse_sql(f"SELECT 1 WHERE {_check_expression(definition)}")[0].stmt.whereClause
    except Exception:  # noqa: BLE001 - an expression pglast cannot read is simply not used
        return None


def _ways(node, negated: bool = False) -> list[list[Need]]:
    """The ways an expression can hold, each a list of needs that together make it hold
    (its disjunctive normal form, cut short). Anything not understood is an opaque need."""
    from pglast import ast
    from pglast.enums import BoolExprType, NullTestType

    if isinstance(node, ast.BoolExpr):
        if node.boolop == BoolExprType.NOT_EXPR:
            return _ways(node.args[0], not negated)
        parts = [_ways(arg, negated) for arg in node.args]
        if (node.boolop == BoolExprType.OR_EXPR) != negated:  # an OR, or a NOT over an AND
            return [way for part in parts for way in part][:_MAX_WAYS]
        ways: list[list[Need]] = [[]]
        for part in parts:
            ways = [way + more for way in ways for more in part][:_MAX_WAYS]
        return ways
    if isinstance(node, ast.NullTest) and (column := _column_name(node.arg)):
        is_null = (node.nulltesttype == NullTestType.IS_NULL) != negated
        return [[Need("null" if is_null else "not_null", column)]]
    if isinstance(node, ast.A_Expr):
        return _comparison_ways(node, negated)
    return [[_OPAQUE]]


_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>"}  # a < b is b > a
_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "=": "<>", "<>": "="}
_HOLDS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq,
          "<>": operator.ne}


def _comparison_ways(node, negated: bool) -> list[list[Need]]:
    from pglast.enums import A_Expr_Kind

    op = _op(node)
    if node.kind in (A_Expr_Kind.AEXPR_IN, A_Expr_Kind.AEXPR_OP_ANY) and op == "=" and not negated:
        column, values = _column_name(node.lexpr), [_constant(v) for v in _list_items(node.rexpr)]
        if column and values and None not in values:
            return [[Need("in", column, tuple(values))]]
    elif node.kind == A_Expr_Kind.AEXPR_BETWEEN and not negated:
        column, ends = _column_name(node.lexpr), [_constant(v) for v in _list_items(node.rexpr)]
        if column and len(ends) == 2 and all(_is_number(end) for end in ends):
            return [[_bound(column, ">=", ends[0]), _bound(column, "<=", ends[1])]]
    elif node.kind == A_Expr_Kind.AEXPR_OP and op in _NEGATED:
        op = _NEGATED[op] if negated else op
        left, right = node.lexpr, node.rexpr
        if _column_name(left) is None and _column_name(right) is not None:
            left, right, op = right, left, _FLIPPED[op]
        return _compared(left, op, right)
    return [[_OPAQUE]]


def _compared(left, op: str, right) -> list[list[Need]]:
    column, other, value = _column_name(left), _column_name(right), _constant(right)
    if column and other:
        if op in (">", ">="):
            column, other, op = other, column, _FLIPPED[op]
        return [[Need("relation", column, op=op, other=other)]]
    if column and value is not None:
        if op == "=":
            return [[Need("in", column, (value,))]]
        if op in ("<", "<=", ">", ">=") and _is_number(value):
            return [[_bound(column, op, value)]]
    if (counted := _null_count(left)) is not None and isinstance(value, int):
        return _null_count_ways(*counted, op, value)
    return [[_OPAQUE]]


def _bound(column: str, op: str, value: float) -> Need:
    """A bound on a column's (whole-number) values."""
    if op in (">", ">="):
        return Need("low", column, (math.floor(value) + 1 if op == ">" else math.ceil(value),))
    return Need("high", column, (math.ceil(value) - 1 if op == "<" else math.floor(value),))


def _null_count(node) -> tuple[str, list[str]] | None:
    """num_nonnulls(a, b, ...) or num_nulls(a, b, ...) over plain columns: the function and the columns."""
    from pglast import ast

    if not isinstance(node, ast.FuncCall) or not node.args:
        return None
    function = node.funcname[-1].sval if hasattr(node.funcname[-1], "sval") else ""
    columns = [_column_name(arg) for arg in node.args]
    if function not in ("num_nonnulls", "num_nulls") or None in columns:
        return None
    return function, columns


def _null_count_ways(function: str, columns: list[str], op: str, k: int) -> list[list[Need]]:
    """For `num_nonnulls(a, b) = 1` and the like: which columns are NULL, most filled first."""
    n = len(columns)
    ways = []
    for filled in range(n, -1, -1):
        counted = filled if function == "num_nonnulls" else n - filled
        if _HOLDS[op](counted, k):
            ways += [[Need("not_null" if c in chosen else "null", c) for c in columns]
                     for chosen in combinations(columns, filled)]
    return ways[:_MAX_WAYS] or [[_OPAQUE]]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _op(node) -> str:
    name = node.name or ()
    return name[-1].sval if name and hasattr(name[-1], "sval") else ""


def _column_name(node) -> str | None:
    from pglast import ast

    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.ColumnRef) and node.fields and hasattr(node.fields[-1], "sval"):
        return node.fields[-1].sval
    return None


def _list_items(node) -> list:
    from pglast import ast

    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_ArrayExpr):
        return list(node.elements or ())
    if isinstance(node, (list, tuple)):
        return list(node)
    return []


def _constant(node):
    from pglast import ast

    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_Const) and not node.isnull:
        value = node.val
        for attr in ("ival", "fval", "sval", "boolval"):
            if hasattr(value, attr):
                raw = getattr(value, attr)
                return float(raw) if attr == "fval" else raw
    if isinstance(node, ast.A_Expr) and _op(node) == "-" and node.lexpr is None:  # a negative number
        inner = _constant(node.rexpr)
        return -inner if isinstance(inner, (int, float)) else None
    return None
