"""Differences between two schema snapshots, in words a reviewer can read."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from migbot.snapshot.catalog import KIND_LABELS, Definition, Snapshot

# The order differences are listed in: containers first, then what hangs off them.
KIND_ORDER = ("schema", "extension", "type", "sequence", "table", "column", "constraint", "index",
              "view", "function", "trigger", "policy")


# How to word a difference, by what was compared with what.
AFTER_DOWNGRADE = {"added": "left behind by the downgrade", "removed": "dropped by the downgrade, but it existed before the upgrade",
                   "changed": "not restored by the downgrade"}
AFTER_SECOND_UPGRADE = {"added": "only after the second upgrade", "removed": "missing after the second upgrade",
                        "changed": "different after the second upgrade"}


class FieldChange(BaseModel):
    field: str
    before: str | None
    after: str | None


class ObjectDiff(BaseModel):
    kind: str
    name: str
    change: Literal["added", "removed", "changed"]
    table: str | None = None
    definition: Definition = {}
    fields: list[FieldChange] = []
    columns: list[str] = []  # for added tables: their column names

    @property
    def text(self) -> str:
        return self.describe()

    def describe(self, verbs: dict[str, str] | None = None) -> str:
        """A sentence; `verbs` rewords added/removed/changed for the comparison's context."""
        verb = (verbs or {}).get(self.change, self.change)
        label = self.definition.get("kind") or KIND_LABELS.get(self.kind, self.kind)
        if self.kind == "type" and self.definition.get("kind") == "enum":
            label = "enum type"
        if self.change == "changed":
            parts = "; ".join(
                f"{c.field} {_show(c.before)} → {_show(c.after)}" for c in self.fields
            )
            return f"{label} `{self.name}` {verb}: {parts}"
        detail = _detail(self.kind, self.definition)
        if self.kind == "table" and self.change == "added" and self.columns:
            detail = f"{len(self.columns)} columns: {', '.join(self.columns)}"
        return f"{label} `{self.name}` {verb}" + (f" ({detail})" if detail else "")


class SchemaDiff(BaseModel):
    changes: list[ObjectDiff] = []

    @property
    def empty(self) -> bool:
        return not self.changes

    def of_kind(self, kind: str, change: str | None = None) -> list[ObjectDiff]:
        return [c for c in self.changes if c.kind == kind and (change is None or c.change == change)]

    def lines(self, limit: int | None = None, verbs: dict[str, str] | None = None) -> list[str]:
        texts = [c.describe(verbs) for c in self.changes]
        if limit is not None and len(texts) > limit:
            return texts[:limit] + [f"... and {len(texts) - limit} more"]
        return texts


def _show(value: str | None) -> str:
    if value is None:
        return "(none)"
    value = " ".join(value.split())
    return f"`{value[:120]}{'...' if len(value) > 120 else ''}`"


def _detail(kind: str, definition: Definition) -> str:
    if kind == "column":
        bits = [definition.get("type") or "", definition.get("nullable") or ""]
        if definition.get("default"):
            bits.append(f"DEFAULT {definition['default']}")
        return " ".join(b for b in bits if b)
    if kind == "type":
        return definition.get("definition") or ""
    if kind in ("constraint", "index"):
        return " ".join((definition.get("definition") or "").split())[:160]
    return ""


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
