"""A table's CHECK constraints, read with pglast into the ways each can be satisfied.

Each way is a list of needs on the columns that together make the check hold; an OR
gives several ways, cut short at _MAX_WAYS. Understood: IN lists, equalities, bounds,
IS [NOT] NULL, num_nonnulls(...) and num_nulls(...), and comparisons between two columns.
Anything else is an opaque need, which the generated rows can only meet by chance
(the check itself filters them). The ways are ordered cheapest first, and those the
schema shows cannot work (a NOT NULL column that would have to be NULL, bounds that
cross, ...) are set aside; when none is left, the cheapest stays, with the reason.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from itertools import combinations

from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind, BoolExprType, NullTestType

from migbot.provision.table_shapes import Column, Shape

_MAX_WAYS = 16  # ways of satisfying one CHECK that are weighed


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


def read_checks(shape: Shape, fillable: set[str]) -> list[Check]:
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


def merge(ways: list[list[Need]]) -> Needs:
    """What one chosen way per check asks of the columns, together (IN lists intersected, the tightest bounds)."""
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

    try:
        return parse_sql(f"SELECT 1 WHERE {_check_expression(definition)}")[0].stmt.whereClause
    except Exception:  # noqa: BLE001 - an expression pglast cannot read is simply not used
        return None


def _ways(node, negated: bool = False) -> list[list[Need]]:
    """The ways an expression can hold, each a list of needs that together make it hold
    (its disjunctive normal form, cut short). Anything not understood is an opaque need."""

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

    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.ColumnRef) and node.fields and hasattr(node.fields[-1], "sval"):
        return node.fields[-1].sval
    return None


def _list_items(node) -> list:

    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_ArrayExpr):
        return list(node.elements or ())
    if isinstance(node, (list, tuple)):
        return list(node)
    return []


def _constant(node):

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
