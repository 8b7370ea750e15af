"""What a revision file says, read with `ast` and never executed.

Gives the revision id, its parents, a one-line "what it does" built from the
op.* calls of upgrade(), and what the file means, part by part (each function, each
module-level assignment), ignoring formatting, comments, docstrings, type annotations
and imports: so a reformat is not an edit, and an edit confined to downgrade() can be
told from one that changes what the revision does on the way up.

This reading is for the checks that run before anything executes (syntax, ids,
links) and for descriptions. Which files are revisions, and in what order they run,
is Alembic's to say (see run/executor.py).
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field

from migbot.discover.suppressions import Suppression, read_suppressions


@dataclass
class RevisionFile:
    path: str  # repo-relative, POSIX
    revision: str | None = None
    down_revisions: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    branch_labels: tuple[str, ...] = ()
    message: str = ""
    ops: list[str] = field(default_factory=list)
    # ok | empty | not-implemented | raises | missing: its shape, for wording only (what a
    # downgrade does is decided by running it: checks/reversibility.py)
    downgrade: str = "ok"
    downgrade_line: int | None = None
    revision_line: int | None = None
    down_revision_line: int | None = None
    syntax_error: str | None = None
    syntax_error_line: int | None = None
    fingerprint: str = ""  # what the file means (see meaning())
    parts: dict[str, str] = field(default_factory=dict)  # "def upgrade", "revision =", ... -> digest
    text_hash: str = ""
    suppressions: list[Suppression] = field(default_factory=list)  # `# migbot: ignore[...]` comments

    @property
    def summary(self) -> str:
        """What the migration does, for the Migrations section."""
        if self.syntax_error:
            return f"cannot be read: syntax error on line {self.syntax_error_line}"
        if self.ops:
            shown = self.ops[:4]
            more = f" (+{len(self.ops) - 4} more)" if len(self.ops) > 4 else ""
            return "; ".join(shown) + more
        return self.message or "no schema operations found"


def parse_revision(path: str, source: bytes) -> RevisionFile:
    info = RevisionFile(path=path, text_hash=hashlib.sha256(source).hexdigest())
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        info.syntax_error = f"{exc.msg}" + (f": {exc.text.strip()}" if exc.text else "")
        info.syntax_error_line = exc.lineno
        info.fingerprint = info.text_hash
        return info
    doc = ast.get_docstring(tree)
    if doc:
        info.message = doc.strip().splitlines()[0].strip()
    functions: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        target, value = _assignment(node)
        if target == "revision":
            info.revision = _string(value)
            info.revision_line = node.lineno
        elif target == "down_revision":
            info.down_revisions = _strings(value)
            info.down_revision_line = node.lineno
        elif target == "depends_on":
            info.depends_on = _strings(value)
        elif target == "branch_labels":
            info.branch_labels = _strings(value)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions[node.name] = node
    if "upgrade" in functions:
        info.ops = describe_ops(functions["upgrade"])
    if "downgrade" in functions:
        info.downgrade_line = functions["downgrade"].lineno
        info.downgrade = _downgrade_kind(functions["downgrade"])
    else:
        info.downgrade = "missing"
    info.suppressions = read_suppressions(source, tree)
    info.parts = meaning(tree)
    info.fingerprint = hashlib.sha256(repr(sorted(info.parts.items())).encode()).hexdigest()
    return info


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return node.target.id, node.value
    return None, None


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _strings(node: ast.expr | None) -> tuple[str, ...]:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            return tuple(s.strip() for s in node.value.split(",") if s.strip())
        return ()
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return tuple(s for s in (_string(e) for e in node.elts) if s)
    return ()


def _body_without_docstring(fn: ast.FunctionDef) -> list[ast.stmt]:
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]
    return body


def _is_empty(fn: ast.FunctionDef) -> bool:
    return all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
               for s in _body_without_docstring(fn))


def _downgrade_kind(fn: ast.FunctionDef) -> str:
    body = _body_without_docstring(fn)
    if _is_empty(fn):
        return "empty"
    for stmt in body:
        if isinstance(stmt, ast.Raise) and stmt.exc is not None:
            exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return "not-implemented"
    if len(body) == 1 and isinstance(body[0], ast.Raise):
        return "raises"
    return "ok"


def meaning(tree: ast.Module) -> dict[str, str]:
    """A digest per meaningful top-level part: each function by name, each assignment by
    target, any other statement by position. Docstrings, type annotations and imports do not
    count (imports only make names available; a missing one fails when Alembic loads the file)."""
    parts: dict[str, str] = {}
    for position, node in enumerate(_without_annotations(_without_docstrings(tree)).body):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            key = f"def {node.name}"
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            key = f"{node.targets[0].id} ="
        else:
            key = f"statement {position}"
        parts[key] = hashlib.sha256(ast.dump(node).encode()).hexdigest()[:16]
    return parts


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


class _DropAnnotations(ast.NodeTransformer):
    def visit_FunctionDef(self, node):  # noqa: N802 - ast's visitor naming
        node.returns = None
        node.type_comment = None
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_arg(self, node):  # noqa: N802
        node.annotation = None
        node.type_comment = None
        return node

    def visit_AnnAssign(self, node):  # noqa: N802
        if node.value is None:
            return None  # `x: int` alone does nothing at run time
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno), node)


def _without_annotations(tree: ast.Module) -> ast.Module:
    return ast.fix_missing_locations(_DropAnnotations().visit(tree))


# --- "what it does" -------------------------------------------------------------------
def _literal(node: ast.expr | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    # op.f("name") and sa.text("...") wrap the literal we want.
    if isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute) and node.func.attr in ("f", "text"):
        return _literal(node.args[0])
    return None


def _arg(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[index] if len(call.args) > index else None


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def _column_name(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Call) and node.args:
        return _literal(node.args[0])
    return None


def describe_ops(fn: ast.FunctionDef) -> list[str]:
    """Phrases for the op.* (and batch_op.*) calls in a function, in source order. A batch
    variable means the table of the `with op.batch_alter_table(...)` block it is used in."""
    found: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, batch_tables: dict[str, str]) -> None:
        if isinstance(node, (ast.With, ast.AsyncWith)):
            inner = dict(batch_tables)
            for item in node.items:
                call = item.context_expr
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "batch_alter_table" and isinstance(item.optional_vars, ast.Name)):
                    inner[item.optional_vars.id] = _literal(_arg(call, 0, "table_name")) or "?"
                visit(call, batch_tables)
            for statement in node.body:
                visit(statement, inner)
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            owner, name = node.func.value.id, node.func.attr
            phrase = None
            if owner in batch_tables:
                phrase = _describe_call(name, node, batch_table=batch_tables[owner])
            elif owner == "op":
                phrase = _describe_call(name, node)
            if phrase:
                found.append((node.lineno, node.col_offset, phrase))
        for child in ast.iter_child_nodes(node):
            visit(child, batch_tables)

    for statement in fn.body:
        visit(statement, {})
    return [phrase for _line, _col, phrase in sorted(found)]


# Where each op.* call takes its table argument; batch_op.* calls omit it.
_TABLE_POSITION = {
    "add_column": 0, "drop_column": 0, "alter_column": 0,
    "create_index": 1, "drop_index": 1, "create_unique_constraint": 1, "create_check_constraint": 1,
    "create_primary_key": 1, "create_foreign_key": 1, "drop_constraint": 1,
}


def _describe_call(name: str, call: ast.Call, batch_table: str | None = None) -> str | None:
    table_position = _TABLE_POSITION.get(name, 0)

    def table() -> str:
        if batch_table is not None:
            return batch_table
        keyword = "source_table" if name == "create_foreign_key" else "table_name"
        return _literal(_arg(call, table_position, keyword)) or "?"

    def lit(i: int, kw: str) -> str:
        """The argument at op-form position i (one earlier in batch form, past the table)."""
        if batch_table is not None and i > table_position:
            i -= 1
        return _literal(_arg(call, i, kw)) or "?"

    if name == "create_table":
        return f"create table `{lit(0, 'table_name')}`"
    if name == "drop_table":
        return f"drop table `{lit(0, 'table_name')}`"
    if name == "rename_table":
        return f"rename table `{lit(0, 'old_table_name')}` to `{lit(1, 'new_table_name')}`"
    if name == "add_column":
        column = _arg(call, 1 if batch_table is None else 0, "column")
        return f"add column `{table()}.{_column_name(column) or '?'}`"
    if name == "drop_column":
        return f"drop column `{table()}.{lit(1, 'column_name')}`"
    if name == "alter_column":
        details = [kw.arg.replace("_", " ").strip() for kw in call.keywords
                   if kw.arg in ("type_", "nullable", "server_default", "new_column_name")]
        suffix = f" ({', '.join(details)})" if details else ""
        return f"alter column `{table()}.{lit(1, 'column_name')}`{suffix}"
    if name == "create_index":
        return f"create index `{lit(0, 'index_name')}` on `{table()}`"
    if name == "drop_index":
        return f"drop index `{lit(0, 'index_name')}`"
    if name in ("create_unique_constraint", "create_check_constraint", "create_primary_key"):
        kind = {"create_unique_constraint": "unique constraint", "create_check_constraint": "check constraint",
                "create_primary_key": "primary key"}[name]
        return f"add {kind} `{lit(0, 'constraint_name')}` on `{table()}`"
    if name == "create_foreign_key":
        return f"add foreign key `{lit(0, 'constraint_name')}` on `{table()}`"
    if name == "drop_constraint":
        return f"drop constraint `{lit(0, 'constraint_name')}` on `{table()}`"
    if name == "execute":
        sql = _literal(_arg(call, 0, "sqltext"))
        return f"run SQL `{_shorten(sql, 60)}`" if sql else "run SQL"
    if name == "bulk_insert":
        return "insert rows"
    if name in ("f", "get_bind", "get_context", "batch_alter_table", "inline_literal", "invoke"):
        return None
    return name.replace("_", " ")
