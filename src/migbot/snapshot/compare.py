"""Differences between two schema snapshots, in words a reviewer can read."""

from __future__ import annotations

from migbot.snapshot.types import FieldChange, ObjectDiff, SchemaDiff, Snapshot

# The order differences are listed in: containers first, then what hangs off them.
KIND_ORDER = ("schema", "extension", "type", "sequence", "table", "column", "constraint", "index",
              "view", "function", "trigger", "policy")


# How to word a difference, by what was compared with what.
AFTER_DOWNGRADE = {"added": "left behind by the downgrade", "removed": "dropped by the downgrade, but it existed before the upgrade",
                   "changed": "not restored by the downgrade"}
AFTER_SECOND_UPGRADE = {"added": "only after the second upgrade", "removed": "missing after the second upgrade",
                        "changed": "different after the second upgrade"}


def compare(before: Snapshot, after: Snapshot) -> SchemaDiff:
    changes: list[ObjectDiff] = []
    for kind in KIND_ORDER:
        old, new = before.get(kind), after.get(kind)
        for name in sorted(set(old) | set(new)):
            if name not in new:
                changes.append(ObjectDiff(kind=kind, name=name, change="removed", table=old[name].get("table"),
                                          definition=old[name]))
            elif name not in old:
                columns = [c.rsplit(".", 1)[1] for c in after.get("column") if c.rsplit(".", 1)[0] == name] \
                    if kind == "table" else []
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
    return SchemaDiff(changes=changes)
