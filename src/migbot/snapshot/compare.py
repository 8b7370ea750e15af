"""Differences between two schema snapshots, in words a reviewer can read.

Three layers: the itemised kinds, object by object; column order, on its own (a
different order is a warning, not a failure); and the pg_dump backstop, for whatever
the itemised kinds do not name.
"""

from __future__ import annotations

import re

from migbot.snapshot.types import FieldChange, ObjectDiff, SchemaDiff, Snapshot

# The order differences are listed in: containers first, then what hangs off them.
KIND_ORDER = ("schema", "extension", "collation", "type", "sequence", "table", "column", "constraint", "index",
              "statistics", "view", "function", "trigger", "rule", "policy", "default privileges", "publication",
              "event trigger", "text search configuration", "text search dictionary", "cast", "operator",
              "foreign server", "database setting")


# How to word a difference, by what was compared with what.
AFTER_DOWNGRADE = {"added": "left behind by the downgrade", "removed": "dropped by the downgrade, but it existed before the upgrade",
                   "changed": "not restored by the downgrade"}
AFTER_SECOND_UPGRADE = {"added": "only after the second upgrade", "removed": "missing after the second upgrade",
                        "changed": "different after the second upgrade"}


def _columns_in_order(snapshot: Snapshot, table: str) -> list[str]:
    """A table's column names in the table's own order (as `\\d` shows them), else by name."""
    listed = [c.rsplit(".", 1)[1] for c in snapshot.get("column") if c.rsplit(".", 1)[0] == table]
    ordered = ((snapshot.get("column order").get(table) or {}).get("columns") or "").split(", ")
    return ordered if sorted(ordered) == sorted(listed) else listed


def compare(before: Snapshot, after: Snapshot) -> SchemaDiff:
    itemised = _itemised(before, after)
    changes = itemised + _column_order(before, after)
    if before.dump is None or after.dump is None:
        return SchemaDiff(changes=changes, unchecked=before.dump_missing or after.dump_missing or "no pg_dump")
    # Only structural differences explain a dump entry: a column order warning must not hide one.
    return SchemaDiff(changes=changes + _unexplained(before.dump, after.dump, itemised))


def _itemised(before: Snapshot, after: Snapshot) -> list[ObjectDiff]:
    changes: list[ObjectDiff] = []
    extra = sorted((set(before.objects) | set(after.objects)) - set(KIND_ORDER) - {"column order"})
    for kind in (*KIND_ORDER, *extra):
        old, new = before.get(kind), after.get(kind)
        for name in sorted(set(old) | set(new)):
            if name not in new:
                changes.append(ObjectDiff(kind=kind, name=name, change="removed", table=old[name].get("table"),
                                          definition=old[name]))
            elif name not in old:
                columns = _columns_in_order(after, name) if kind == "table" else []
                changes.append(ObjectDiff(kind=kind, name=name, change="added", table=new[name].get("table"),
                                          definition=new[name], columns=columns))
            elif old[name] != new[name]:
                fields = [
                    FieldChange(field=f, before=old[name].get(f), after=new[name].get(f))
                    for f in sorted(set(old[name]) | set(new[name]))
                    if old[name].get(f) != new[name].get(f)
                ]
                changes.append(ObjectDiff(kind=kind, name=name, change="changed", table=new[name].get("table"),
                                          definition=new[name], fields=fields))
    return changes


def _column_order(before: Snapshot, after: Snapshot) -> list[ObjectDiff]:
    """Tables whose columns (those both sides have) come in another order."""
    changes = []
    old, new = before.get("column order"), after.get("column order")
    for table in sorted(set(old) & set(new)):
        was, now = (old[table]["columns"] or "").split(", "), (new[table]["columns"] or "").split(", ")
        common = set(was) & set(now)
        was, now = [c for c in was if c in common], [c for c in now if c in common]
        if was != now:
            changes.append(ObjectDiff(kind="column order", name=table, change="changed", table=table,
                                      fields=[FieldChange(field="order", before=", ".join(was),
                                                          after=", ".join(now))]))
    return changes


def _bare_names(change: ObjectDiff) -> set[str]:
    """The unqualified names an itemised difference is about: `public.total(integer)` is
    about `total`, a column about its table too, a cast about both its types."""
    names = {change.name.split("(")[0].rsplit(".", 1)[-1]}
    if change.table:
        names.add(change.table.rsplit(".", 1)[-1])
    if change.kind == "column":
        names.add(change.name.rsplit(".", 2)[-2])
    if change.kind == "cast":
        names |= {side.strip().rsplit(".", 1)[-1] for side in change.name.split(" AS ")}
    return names - {""}


def _unexplained(before: dict[str, str], after: dict[str, str], explained_by: list[ObjectDiff]) -> list[ObjectDiff]:
    """pg_dump entries that differ and that no itemised difference already names."""
    names = set()
    for change in explained_by:
        names |= _bare_names(change)
    if any(change.kind == "default privileges" for change in explained_by):
        names.add("DEFAULT PRIVILEGES")
    found = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new or names & (set(re.split(r"[\s.(),\"]+", key)[1:]) | {key[:18]}):  # DEFAULT PRIVILEGES
            continue
        if new is None:
            found.append(ObjectDiff(kind="structure", name=key, change="removed", definition={"definition": old}))
        elif old is None:
            found.append(ObjectDiff(kind="structure", name=key, change="added", definition={"definition": new}))
        else:
            gone = [line for line in old.splitlines() if line not in new.splitlines()]
            came = [line for line in new.splitlines() if line not in old.splitlines()]
            found.append(ObjectDiff(kind="structure", name=key, change="changed", definition={"definition": new},
                                    fields=[FieldChange(field="statements", before=" ".join(gone) or None,
                                                        after=" ".join(came) or None)]))
    return found
