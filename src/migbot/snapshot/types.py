"""The plain data types of snapshots and comparisons: what the catalogs held, how two
snapshots differ, and how a table's rows changed. Pure data (pydantic, no database
access): the run's evidence and the report hold them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Definition = dict[str, str | None]

KIND_LABELS = {"structure": "pg_dump entry"}  # other kinds are their own label ("table", "event trigger", ...)


class Snapshot(BaseModel):
    """Every user object in a database: kind -> key -> definition fields; and, as a backstop
    for what the kinds do not cover, the database's normalised pg_dump (or why it is missing)."""

    objects: dict[str, dict[str, Definition]] = {}
    dump: dict[str, str] | None = None
    dump_missing: str | None = None

    def get(self, kind: str) -> dict[str, Definition]:
        return self.objects.get(kind, {})


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
        if self.kind == "column order":
            change = self.fields[0]
            return f"columns of `{self.name}` are in another order: {change.before} → {change.after}"
        if self.change == "changed":
            parts = "; ".join(
                f"{c.field.replace('_', ' ')} {_show(c.before)} → {_show(c.after)}" for c in self.fields
            )
            return f"{label} `{self.name}` {verb}: {parts}"
        detail = _detail(self.kind, self.definition)
        if self.kind == "table" and self.change == "added" and self.columns:
            detail = f"{len(self.columns)} columns: {', '.join(self.columns)}"
        return f"{label} `{self.name}` {verb}" + (f" ({detail})" if detail else "")


class SchemaDiff(BaseModel):
    changes: list[ObjectDiff] = []
    unchecked: str | None = None  # why the pg_dump backstop did not compare, if it did not

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def structural(self) -> list[ObjectDiff]:
        """Every difference but column order (which only SELECT * and positional INSERT see)."""
        return [c for c in self.changes if c.kind != "column order"]

    @property
    def reordered(self) -> list[ObjectDiff]:
        return [c for c in self.changes if c.kind == "column order"]

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
    if kind in ("constraint", "index", "statistics", "rule", "structure"):
        text = " ".join((definition.get("definition") or "").split())
        return text if len(text) <= 160 else text[:159] + "…"
    return ""


class Fingerprint(BaseModel):
    rows: int
    digest: str


class TableChange(BaseModel):
    table: str
    added: int = 0
    removed: int = 0
    changed: int = 0
    sample_added: list[str] = []
    sample_removed: list[str] = []
    sample_changed: list[str] = []
    columns: list[str] = []  # for changed rows: the columns whose values differ, when known
    column_rows: dict[str, int] = {}  # and in how many rows each

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    @property
    def text(self) -> str:
        parts = []
        for count, word, samples in ((self.added, "added", self.sample_added),
                                     (self.removed, "removed", self.sample_removed),
                                     (self.changed, "changed", self.sample_changed)):
            if count:
                keys = f" (e.g. {', '.join(samples)})" if samples else ""
                parts.append(f"{count} row{'s' if count != 1 else ''} {word}{keys}")
        if self.changed and self.column_rows:
            parts[-1] += ": " + ", ".join(f"`{c}` in {n} row{'s' if n != 1 else ''}"
                                          for c, n in self.column_rows.items())
        elif self.changed and self.columns:
            parts[-1] += f", in column{'s' if len(self.columns) != 1 else ''} " + ", ".join(
                f"`{c}`" for c in self.columns)
        if not parts:  # the fingerprint moved, but no row can be named by its key
            parts.append("its rows differ, though none can be named by its key")
        return f"`{self.table}`: " + "; ".join(parts)
