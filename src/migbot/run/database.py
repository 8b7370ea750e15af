"""One of migbot's databases for a project, and what is known about it.

A Database knows its name, the version table env.py uses, and the schema snapshot
taken since anything last ran on it: the executor tells it when a command ran
(`changed()`), and the next `snapshot()` reads the catalogs again. Nobody else
keeps flags about a database's state.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from migbot.errors import InfraError, first_line
from migbot.provision.databases import Databases
from migbot.snapshot.conventions import read_conventions
from migbot.snapshot.dump import Dumper
from migbot.snapshot.incremental import Basis, snapshot_since
from migbot.snapshot.types import Snapshot


class VersionTable:
    """Where env.py keeps alembic_version (name and schema), once the worker reported it."""

    def __init__(self, name: str = "alembic_version", schema: str | None = None):
        self.name, self.schema = name, schema

    def learn(self, loaded: dict) -> None:
        """From the worker's `load`: what env.py passed to context.configure()."""
        self.name = loaded.get("version_table") or "alembic_version"
        self.schema = loaded.get("version_table_schema")


class Database:
    def __init__(self, databases: Databases, role: str, version_table: VersionTable, *, template: str | None = None,
                 dumper: Dumper):
        self.databases = databases
        self.dumper = dumper
        self.role = role
        self.version_table = version_table
        self.name = databases.create(role, template=template)
        self._snapshot: Snapshot | None = None
        self._dump_skipped = False
        self._basis: Basis | None = None  # what the next snapshot reads again only where it changed

    def reset(self, template: str, snapshot: Snapshot | None = None) -> None:
        """Re-create the database as a clone of `template`; `snapshot` is the template's, if known."""
        self.databases.create(self.role, template=template)
        self._snapshot = snapshot
        self._dump_skipped = False
        self._basis = None

    def changed(self) -> None:
        self._snapshot = None

    def snapshot(self, *, skip_dump: str | None = None) -> Snapshot:
        """The catalogs, itemised, and the pg_dump backstop, read side by side. `skip_dump`:
        why this snapshot needs no dump (the stairway of a long branch); a later call that
        wants one adds it to the same state."""
        cached = self._snapshot
        if cached is not None and (skip_dump or not self._dump_skipped):
            return cached
        pending = None if skip_dump else self.dumper.start(self.name, self.version_table.name)
        try:
            if cached is None:
                cached, self._basis = snapshot_since(self.databases.reader(self.name),
                                                     (self.version_table.name,), self._basis)
            snapshot = cached
        except psycopg.Error as exc:
            self.databases.close_reader(self.name)
            if pending is not None:
                pending.result(timeout=self.databases.timeout)
            raise InfraError(f"Lost the connection to PostgreSQL while reading the schema: {first_line(exc)}") \
                from None
        if pending is not None:
            snapshot.dump, snapshot.dump_missing = pending.result(timeout=self.databases.timeout)
        else:
            snapshot.dump, snapshot.dump_missing = None, skip_dump
        self._snapshot, self._dump_skipped = snapshot, bool(skip_dump)
        return snapshot

    def conventions(self) -> dict:
        """The facts the convention rules judge (snapshot.conventions)."""
        try:
            return read_conventions(self.databases.reader(self.name), (self.version_table.name,))
        except psycopg.Error as exc:
            self.databases.close_reader(self.name)
            raise InfraError(f"Lost the connection to PostgreSQL while reading the schema: {first_line(exc)}") \
                from None

    def heads(self) -> list[str]:
        """alembic_version's rows, wherever env.py's search_path put the table."""
        table, schema = self.version_table.name, self.version_table.schema
        try:
            conn = self.databases.reader(self.name)
            found = conn.execute(
                "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = %s AND c.relkind IN ('r', 'p') AND (%s::text IS NULL OR n.nspname = %s) "
                "ORDER BY n.nspname = 'public' DESC, n.nspname LIMIT 1", (table, schema, schema)).fetchone()
            if found is None:
                return []
            rows = conn.execute(sql.SQL("SELECT version_num FROM {}.{}").format(
                sql.Identifier(found[0]), sql.Identifier(table))).fetchall()
        except psycopg.Error as exc:
            self.databases.close_reader(self.name)
            raise InfraError(f"Lost the connection to PostgreSQL while reading {table}: {first_line(exc)}") from None
        return sorted(row[0] for row in rows)

    def disconnect_all(self) -> None:
        self.databases.disconnect_all(self.name)
