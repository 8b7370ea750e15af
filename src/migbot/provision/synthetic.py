"""Synthetic rows for empty tables, generated from the catalog, in SQL.

Most migrations that break in production pass on an empty database. Before the new
revisions run over data, every table the base seeds left empty gets rows: one
`INSERT ... SELECT ... FROM generate_series(1, n)` per table, in foreign-key order.
Values follow the column types (lengths, precision, enum labels, domains), are
unique where uniqueness could matter, take foreign keys from the referenced rows,
and satisfy simple CHECK constraints (IN lists, comparisons, BETWEEN) read with
pglast. Columns with a default (serials, identities, now(), ...) keep it. About one
row in ten leaves a nullable column NULL, as real data does.

A table migbot cannot fill (an unsupported NOT NULL type, a foreign key to an empty
table, a check it cannot satisfy) is skipped with the reason, never guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

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
       coalesce((SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = bt.oid), '{}')
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
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

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass
class FillResult:
    filled: dict[str, int] = field(default_factory=dict)  # table -> rows inserted
    skipped: dict[str, str] = field(default_factory=dict)  # table -> why not


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


def _fill(conn: psycopg.Connection, shape: Shape, by_oid: dict[int, Shape], rows: int,
          counts: dict[int, int]) -> str | None:
    """Insert rows into one empty table (recording how many in `counts`); or say why not."""
    columns = {c.name: c for c in shape.columns}
    values: dict[str, sql.Composable] = {}
    joins: list[sql.Composable] = []
    limit = rows
    for index, fk in enumerate(shape.foreign_keys):
        ref = by_oid.get(fk.ref_oid)
        required = any(columns[c].not_null for c in fk.columns)
        available = counts.get(ref.oid, 0) if ref is not None and ref.oid != shape.oid else 0  # self: NULL
        if not available:
            if required:
                target = ref.qualified if ref else "another table"
                return f"its foreign key {fk.name} needs rows in {target}, which has none"
            for column in fk.columns:
                values[column] = sql.NULL
            continue
        alias = sql.Identifier(f"fk{index}")
        ref_cols = sql.SQL(", ").join(map(sql.Identifier, fk.ref_columns))
        joins.append(sql.SQL(
            "JOIN (SELECT {cols}, row_number() OVER (ORDER BY {cols}) - 1 AS rn, count(*) OVER () AS cnt "
            "FROM {ref} WHERE {not_null}) AS {alias} ON {alias}.rn = (g - 1) % {alias}.cnt"
        ).format(cols=ref_cols, ref=sql.Identifier(ref.schema, ref.name), alias=alias,
                 not_null=sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in fk.ref_columns)))
        for column, ref_column in zip(fk.columns, fk.ref_columns):
            values[column] = sql.SQL("{}.{}").format(alias, sql.Identifier(ref_column))
        if any(set(u) <= set(fk.columns) for u in shape.unique):
            limit = min(limit, available)  # one-to-one: one row per referenced row
    allowed = _check_constraint_values(shape)
    divisors = _radix_divisors(shape, columns, allowed)
    for column in shape.columns:
        if column.name in values or column.not_insertable or column.has_default:
            continue
        expression = _value(column, shape, allowed.get(column.name), divisors.get(column.name, 1))
        if expression is None:
            if column.not_null:
                return f"migbot cannot generate values of type {column.type_sql} (column {column.name})"
            continue
        if not column.not_null:
            expression = sql.SQL("CASE WHEN g % 10 = 0 THEN NULL ELSE {} END").format(expression)
        values[column.name] = expression
    for unique in shape.unique:
        cardinality = _cardinality([columns[c] for c in unique], allowed)
        if cardinality is not None:
            limit = min(limit, cardinality)
    if limit <= 0:
        return "its unique constraints allow no rows of generated values"
    statement = sql.SQL("INSERT INTO {table} ({cols}) SELECT {values} FROM generate_series(1, {n}) AS g {joins}").format(
        table=sql.Identifier(shape.schema, shape.name),
        cols=sql.SQL(", ").join(map(sql.Identifier, values)),
        values=sql.SQL(", ").join(values.values()),
        n=sql.Literal(limit),
        joins=sql.SQL(" ").join(joins),
    )
    if not values:
        statement = sql.SQL("INSERT INTO {} SELECT FROM generate_series(1, {})").format(
            sql.Identifier(shape.schema, shape.name), sql.Literal(limit))
    try:
        with conn.transaction():
            conn.execute(statement)
    except psycopg.Error as exc:
        diag = exc.diag
        what = f"constraint {diag.constraint_name}" if diag.constraint_name else "its constraints"
        return f"generated rows break {what} ({str(exc).splitlines()[0]})"
    counts[shape.oid] = limit
    return None


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


def _check_constraint_values(shape: Shape) -> dict[str, list]:
    """Values that satisfy simple CHECK constraints: IN lists, comparisons, BETWEEN."""
    allowed: dict[str, list] = {}
    parsed = [tree for tree in map(_parse_check, shape.checks.values()) if tree is not None]
    for tree in parsed:
        for column, values in _in_lists(tree):
            allowed[column] = values
    for column, bounds in _bounds(shape, parsed).items():
        low, high = bounds
        if column in allowed:
            continue
        if low is not None and high is not None and high >= low:
            allowed[column] = list(range(int(low), int(min(high, low + 500)) + 1))
        elif low is not None:
            allowed[column] = list(range(int(low) + 1, int(low) + 501))
        elif high is not None:
            allowed[column] = list(range(int(high) - 500, int(high)))
    return allowed


def _parse_check(definition: str):
    """The expression of a CHECK constraint, parsed; None if pglast cannot read it (then unused)."""
    from pglast import parse_sql

    try:
        return parse_sql(f"SELECT 1 WHERE {definition.removeprefix('CHECK ').removesuffix(' NOT VALID')}")[0].stmt.whereClause
    except Exception:  # noqa: BLE001 - an expression pglast cannot read is simply not used
        return None


def _in_lists(tree):
    from pglast import ast
    from pglast.enums import A_Expr_Kind

    for node in _walk(tree):
        if isinstance(node, ast.A_Expr) and node.kind in (A_Expr_Kind.AEXPR_IN, A_Expr_Kind.AEXPR_OP_ANY) \
                and _op(node) == "=":
            column = _column_name(node.lexpr)
            values = [_constant(v) for v in _list_items(node.rexpr)]
            if column and values and all(v is not None for v in values):
                yield column, values


def _bounds(shape: Shape, parsed: list) -> dict[str, tuple]:
    from pglast import ast
    from pglast.enums import A_Expr_Kind

    numeric = {c.name for c in shape.columns if c.category == "N"}
    bounds: dict[str, list] = {}
    for tree in parsed:
        for node in _walk(tree):
            if not isinstance(node, ast.A_Expr):
                continue
            if node.kind in (A_Expr_Kind.AEXPR_BETWEEN,):
                column = _column_name(node.lexpr)
                items = [_constant(v) for v in _list_items(node.rexpr)]
                if column in numeric and len(items) == 2 and None not in items:
                    bounds.setdefault(column, [None, None])[:] = [items[0], items[1]]
            elif node.kind == A_Expr_Kind.AEXPR_OP and _op(node) in (">", ">=", "<", "<="):
                column, value = _column_name(node.lexpr), _constant(node.rexpr)
                if column not in numeric or not isinstance(value, (int, float)):
                    continue
                bounds.setdefault(column, [None, None])
                if _op(node) in (">", ">="):
                    bounds[column][0] = value if _op(node) == ">=" else value + (1 if isinstance(value, int) else 0.5)
                else:
                    bounds[column][1] = value if _op(node) == "<=" else value - (1 if isinstance(value, int) else 0.5)
    return {k: tuple(v) for k, v in bounds.items()}


def _walk(node):
    from pglast import ast

    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (list, tuple)):
            stack.extend(current)
        elif isinstance(current, ast.Node):
            yield current
            stack.extend(getattr(current, name) for name in current.__slots__)


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
