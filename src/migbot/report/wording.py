"""Sentences for facts the run sent back as data (the worker words nothing)."""

from __future__ import annotations

WHERE = {"models": "in the models but not in the database", "database": "in the database but not in the models"}


def drift_sentence(fact: dict) -> str:
    """One compare_metadata difference (run/worker/migbot_worker/drift.py) in words."""
    what, table, obj, side = fact.get("what"), fact.get("table"), fact.get("object"), fact.get("side")
    kind = fact.get("kind", "")
    if what == "table":
        return f"table `{table}` is {WHERE[side]}"
    if what == "column" and side:
        column_type = fact.get("models") or fact.get("database") or "?"
        return f"column `{table}.{obj}` ({column_type}) is {WHERE[side]}"
    if side and kind.split("_", 1)[-1] in ("index", "constraint", "fk"):
        return f"{what} `{obj}` on `{table}` ({', '.join(fact.get('columns') or [])}) is {WHERE[side]}"
    if kind.startswith("modify_"):
        return (f"column `{table}.{obj}` {what}: database has {_value(fact.get('database'))}, "
                f"models have {_value(fact.get('models'))}")
    if what == "table comment":
        return f"table `{table}` comment differs between the models and the database"
    return f"{kind}: {fact.get('database') or ''}".rstrip(": ")


def _value(value: str | None) -> str:
    return "none" if value is None else value
