"""Models vs the database: Alembic's compare_metadata, sent back as structured facts.

The metadata compared must be the one the project declares, not one a migration
changed in memory: a migration that reflects old tables into the models' shared
MetaData (to drop them) leaves them there for the rest of the process. So the
worker records each target metadata's tables and columns when env.py first loads
them, before any migration runs. At compare time, tables added since are set aside;
if a table the models declared changed, the worker says so, and migbot compares in a
fresh worker that never ran a migration.
"""


def metadatas(target):
    if target is None:
        return []
    return list(target) if isinstance(target, (list, tuple)) else [target]


def signature(target):
    """{metadata index: {table key: column names}} for env.py's target_metadata."""
    return {i: {key: sorted(c.key for c in table.columns) for key, table in md.tables.items()}
            for i, md in enumerate(metadatas(target))}


def restore_declared(target, declared):
    """Set aside tables added since `declared` (signature() at load). Returns a reason when the
    declared tables themselves changed, which only a fresh import can undo."""
    now = signature(target)
    if set(now) != set(declared):
        return "env.py's target_metadata is not the same list of MetaData objects as when it loaded"
    for i, md in enumerate(metadatas(target)):
        tables = now[i]
        for key, columns in declared[i].items():
            if key not in tables:
                return "table {} disappeared from the models' metadata".format(key)
            if tables[key] != columns:
                return "the columns of {} in the models' metadata changed".format(key)
        for key in set(tables) - set(declared[i]):
            md.remove(md.tables[key])
    return None


def compare(context, target):
    from alembic.autogenerate import compare_metadata

    diffs = []
    for md in metadatas(target):
        diffs.extend(compare_metadata(context, md))
    return [fact for item in diffs for fact in diff_facts(item)]


def _type(t):
    if t is None:
        return None
    try:
        from sqlalchemy.dialects import postgresql

        return str(t.compile(dialect=postgresql.dialect()))
    except Exception:  # noqa: BLE001 - a type the dialect cannot render still has a name
        return str(t)


def _default(value):
    if value is None:
        return None
    text = getattr(value, "arg", value)
    text = getattr(text, "text", text)
    return str(text)


def _qual(schema, name):
    return "{}.{}".format(schema, name) if schema else str(name)


def _columns(obj):
    try:
        return [c.name for c in obj.columns]
    except Exception:  # noqa: BLE001 - an expression index has no plain columns
        return []


def _constraint_kind(obj):
    name = type(obj).__name__
    return {"UniqueConstraint": "unique constraint", "CheckConstraint": "check constraint",
            "PrimaryKeyConstraint": "primary key", "ForeignKeyConstraint": "foreign key"}.get(name, name)


def diff_facts(item):
    """One compare_metadata diff as facts: what kind, which table and object, and the values
    on each side. `side` is "models" (only in the models) or "database" (only in the database)."""
    if isinstance(item, list):  # column modifications come grouped
        return [fact for sub in item for fact in diff_facts(sub)]
    kind = item[0]
    fact = {"kind": kind, "table": None, "object": None, "side": None, "what": None,
            "database": None, "models": None, "columns": []}
    if kind in ("add_table", "remove_table"):
        table = item[1]
        fact.update(table=_qual(table.schema, table.name), what="table")
    elif kind in ("add_column", "remove_column"):
        column = item[3]
        side = "models" if kind == "add_column" else "database"
        fact.update({"table": _qual(item[1], item[2]), "object": column.name, "what": "column",
                     side: _type(column.type)})
    elif kind in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        obj = item[1]
        table = getattr(obj, "table", None)
        what = {"index": "index", "fk": "foreign key"}.get(kind.split("_", 1)[1]) or _constraint_kind(obj)
        columns = _columns(obj)
        fact.update(table=_qual(getattr(table, "schema", None), getattr(table, "name", "?")),
                    object=obj.name or "({})".format(", ".join(columns)), what=what, columns=columns)
    elif kind.startswith("modify_"):
        existing, new = item[5], item[6]
        what = kind[len("modify_"):]
        if what == "type":
            existing, new = _type(existing), _type(new)
        elif what == "nullable":
            existing, new = ("NULL" if existing else "NOT NULL"), ("NULL" if new else "NOT NULL")
        elif what == "default":
            existing, new = _default(existing), _default(new)
        else:
            existing, new = (None if existing is None else str(existing)), (None if new is None else str(new))
        fact.update(table=_qual(item[1], item[2]), object=item[3], what=what, database=existing, models=new)
    elif kind in ("add_table_comment", "remove_table_comment"):
        table = item[1]
        fact.update(table=_qual(table.schema, table.name), what="table comment")
    else:
        fact.update(what=kind, database=", ".join(str(x) for x in item[1:]))
    if kind.startswith("add_"):
        fact["side"] = "models"
    elif kind.startswith("remove_"):
        fact["side"] = "database"
    fact["key"] = "|".join(str(x or "") for x in (kind, fact["table"], fact["object"]))
    return [fact]
