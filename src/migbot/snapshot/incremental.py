"""Snapshots of one database taken again and again, as the stairway does: the catalogs'
digest (snapshot.digest) tells which relations changed since the last snapshot, and only
their objects are read again. Anything else that changed (a type, a function, a schema,
an extension, a role's name) reads everything, as does the first snapshot.

MIGBOT_SNAPSHOT_CHECK=1 reads everything every time as well and fails on any difference:
the test suite's way to hold the partial reads to the full ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psycopg

from migbot.errors import InfraError
from migbot.snapshot.catalog import read_objects
from migbot.snapshot.digest import PARTIAL_RELKINDS, Digest, read_dependents, read_digest
from migbot.snapshot.types import Definition, Snapshot

# Kinds keyed by their relation's name; the other partial kinds name it in their "table" field.
_KEYED_BY_RELATION = ("table", "view", "sequence", "column order")

Objects = dict[str, dict[str, Definition]]


@dataclass(frozen=True)
class Basis:
    """The last snapshot's objects, the digest they were read at, and which relations that
    snapshot read again (None: it read everything)."""
    objects: Objects
    digest: Digest
    reread: tuple[str, ...] | None = None


def snapshot_since(conn: psycopg.Connection, version_tables: tuple[str, ...],
                   basis: Basis | None) -> tuple[Snapshot, Basis]:
    digest = read_digest(conn)
    partial = _partial(conn, version_tables, basis, digest) if basis is not None else None
    if partial is None:
        objects, reread = read_objects(conn, version_tables), None
    else:
        objects, reread = partial
        if os.environ.get("MIGBOT_SNAPSHOT_CHECK"):
            _check(objects, read_objects(conn, version_tables))
    # Built without validation: the catalogs' rows are already plain strings, and a stairway takes hundreds.
    return Snapshot.model_construct(objects=objects), Basis(objects, digest, reread)


def _partial(conn, version_tables, basis: Basis, digest: Digest) -> tuple[Objects, tuple[str, ...]] | None:
    """The objects, from `basis` and the relations that changed, and the names of those read
    again; None when only a full read will do."""
    if digest.others != basis.digest.others:
        return None
    before, now = basis.digest.relations, digest.relations
    changed = [oid for oid, relation in now.items() if before.get(oid) != relation]
    gone = [oid for oid in before if oid not in now]
    if any(relation.relkind not in PARTIAL_RELKINDS for relation in (*(now[o] for o in changed),
                                                                     *(before[o] for o in gone))):
        return None
    if not changed and not gone:
        return basis.objects, ()
    reread = set(changed) | (read_dependents(conn, changed) & now.keys())
    stale = {before[oid].name for oid in (*reread, *gone) if oid in before}
    fresh = read_objects(conn, version_tables, relations=sorted(reread))
    objects = {}
    for kind, entries in basis.objects.items():
        if kind not in fresh:
            objects[kind] = entries
            continue
        kept = {key: d for key, d in entries.items() if not _belongs(kind, key, d, stale)}
        kept.update(fresh[kind])
        objects[kind] = dict(sorted(kept.items()))
    return objects, tuple(sorted(now[oid].name for oid in reread))


def _belongs(kind: str, key: str, definition: Definition, relations: set[str]) -> bool:
    if kind in _KEYED_BY_RELATION:
        return key in relations
    return definition.get("table") in relations


def _check(partial: Objects, full: Objects) -> None:
    if partial != full:
        kinds = sorted(kind for kind in full.keys() | partial.keys() if partial.get(kind) != full.get(kind))
        raise InfraError(f"MIGBOT_SNAPSHOT_CHECK: the partial snapshot differs from the full one in {kinds}")
