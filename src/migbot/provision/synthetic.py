"""Synthetic rows for empty tables, generated from the catalog (table_shapes.py), in SQL.

Most migrations that break in production pass on an empty database. Before the new
revisions run over data, every table the base seeds left empty gets rows: one
`INSERT ... SELECT ... FROM generate_series(1, n)` per table, in foreign-key order.
Values follow the column types (lengths, precision, enum labels, domains) and are
unique where uniqueness could matter. Foreign keys take the referenced rows in turn:
two keys to the same table point at different rows, and a key to the table itself
points at an earlier row. Columns with a default (serials, identities, now(), ...)
keep it unless a CHECK reads them. About one row in ten leaves a nullable column
NULL, as real data does.

CHECK constraints are read as the ways each can hold (check_ways.py): IN lists,
equalities, bounds, IS [NOT] NULL, num_nonnulls(...), and comparisons between two
columns, where one column is then made from the other.
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

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from migbot.provision.check_ways import Check, Needs, merge, read_checks
from migbot.provision.table_shapes import (
    Column,
    ForeignKey,
    Shape,
    fk_order,
    read_shapes,
    row_counts,
)

_BATCH = 25  # rows per statement once the set-based insert has failed
_MAX_FAILED_ROWS = 20  # single rows tried in vain before a table is given up
_MAX_VARIANTS = 3  # plans tried per table, each taking the next workable way through the checks


@dataclass
class FillResult:
    filled: dict[str, int] = field(default_factory=dict)  # table -> rows inserted
    skipped: dict[str, str] = field(default_factory=dict)  # table -> why not


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
    shapes = read_shapes(conn, version_tables)
    by_oid = {s.oid: s for s in shapes}
    counts = row_counts(conn, shapes)
    for shape in fk_order(shapes):
        if counts[shape.oid]:
            continue  # it has rows (from the seeds): leave it as it is
        problem = _fill(conn, shape, by_oid, rows, counts)
        if problem:
            result.skipped[shape.qualified] = problem
        else:
            result.filled[shape.qualified] = counts[shape.oid]
    return result


# ---- one table -------------------------------------------------------------------------------


def _fill(conn: psycopg.Connection, shape: Shape, by_oid: dict[int, Shape], rows: int,
          counts: dict[int, int]) -> str | None:
    """Insert rows into one empty table (recording how many in `counts`); or say why not."""
    keys = _key_values(shape, by_oid, counts)
    if isinstance(keys, str):
        return keys
    checks = read_checks(shape, _fillable(shape, keys))
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
    needs = merge([check.ways[min(variant, len(check.ways) - 1)] for check in checks])
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
