"""Databases and roles left on a lent server (--database-url) by runs that were killed outright.

A run drops what it created on every exit path it sees; `kill -9` (a cancelled CI job, an
OOM kill) is one it never sees. So everything migbot creates on a server carries a birth
comment (`birth_comment`), and every --database-url run first sweeps away (`sweep`) what
older runs left: a database or role is removed only when both its name is migbot's
(`migbot_<8 hex>_...`) and its comment is a birth comment older than LEFTOVER_AGE. A
database of a run still going on, or anything migbot did not create, is never touched.
"""

from __future__ import annotations

import os
import re
import socket
import time
from datetime import datetime, timezone

import psycopg
from psycopg import sql

from migbot.errors import first_line

LEFTOVER_AGE = 6 * 3600.0
"""Seconds after which a run's databases and roles are leftovers: 6 hours, GitHub Actions'
limit on a job, so no run can still be alive after that (a self-hosted runner's limit can be
raised, but a migbot run takes minutes). The birth comment records when the database or role
was created, which is never before its run started, so a live run's are always younger."""

DATABASE_NAME = re.compile(r"^migbot_[0-9a-f]{8}_")
ROLE_NAME = re.compile(r"^migbot_[0-9a-f]{8}_owner$")
_BIRTH = re.compile(r"^migbot: created (\S+) by a run \(")


def birth_comment(created: datetime | None = None) -> str:
    """The comment migbot stores on each database and role it creates: when (default: now),
    by which process. `born` reads the time back."""
    created = (created or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    return f"migbot: created {created.isoformat()} by a run (pid {os.getpid()} on host {socket.gethostname()})"


def born(comment: str | None) -> datetime | None:
    """When a birth comment says its object was created; None for any other comment."""
    match = _BIRTH.match(comment or "")
    if not match:
        return None
    try:
        created = datetime.fromisoformat(match.group(1))
    except ValueError:
        return None
    return created if created.tzinfo is not None else None


def sweep(admin: psycopg.Connection, *, older_than: float) -> list[str]:
    """Drop the databases, then the roles, that runs killed more than `older_than` seconds
    ago left on the server `admin` (an autocommit connection) is connected to. Returns one
    line per database or role dropped, or that could not be; never raises for one of them."""
    now = datetime.now(timezone.utc)

    def leftover(name: str, pattern: re.Pattern, comment: str | None) -> datetime | None:
        created = born(comment)
        if pattern.match(name) and created is not None and (now - created).total_seconds() > older_than:
            return created
        return None

    lines: list[str] = []
    try:
        databases = admin.execute(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname ~ '^migbot_[0-9a-f]{8}_' ORDER BY datname").fetchall()
    except psycopg.Error as exc:
        return [f"could not look for databases left by killed migbot runs: {first_line(exc)}"]
    for name, comment in databases:
        created = leftover(name, DATABASE_NAME, comment)
        if created is not None:
            lines += _drop_database(admin, name, created)

    try:
        roles = admin.execute(
            "SELECT r.rolname, shobj_description(r.oid, 'pg_authid') FROM pg_roles r "
            "WHERE r.rolname ~ '^migbot_[0-9a-f]{8}_owner$' "
            "AND NOT EXISTS (SELECT FROM pg_database d WHERE d.datdba = r.oid) ORDER BY r.rolname").fetchall()
    except psycopg.Error as exc:
        return lines + [f"could not look for roles left by killed migbot runs: {first_line(exc)}"]
    for name, comment in roles:
        created = leftover(name, ROLE_NAME, comment)
        if created is not None:
            lines += _drop_role(admin, name, created)
    return lines


def _terminate(admin: psycopg.Connection, column: str, value: str) -> set[int]:
    """End the backends connected to a database (datname) or as a role (usename); their pids."""
    rows = admin.execute(
        sql.SQL("SELECT pid FROM (SELECT pid, pg_terminate_backend(pid) AS ended FROM pg_stat_activity "
                "WHERE {} = %s AND pid <> pg_backend_pid()) AS backends WHERE ended").format(sql.Identifier(column)),
        (value,)).fetchall()
    return {pid for pid, in rows}


def _closed(pids: set[int]) -> str:
    count = len(pids)
    return f" and closed its {count} connection{'s' if count != 1 else ''}" if count else ""


def _drop_database(admin: psycopg.Connection, name: str, created: datetime) -> list[str]:
    left_by = f"left by a run that created it {created.isoformat()} and did not finish"
    force = admin.info.server_version >= 130000
    statement = sql.SQL("DROP DATABASE {}{}").format(sql.Identifier(name),
                                                      sql.SQL(" WITH (FORCE)") if force else sql.SQL(""))
    closed: set[int] = set()
    try:
        for attempt in range(50):
            closed |= _terminate(admin, "datname", name)
            try:
                admin.execute(statement)
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 49:
                    raise
                time.sleep(0.05)  # a backend is still exiting (before PostgreSQL 13: no FORCE)
    except psycopg.errors.InvalidCatalogName:
        return []  # gone already: another run swept it at the same time
    except psycopg.Error as exc:
        return [f"could not drop database {name}, {left_by}: {first_line(exc)}"]
    return [f"dropped database {name}{_closed(closed)}, {left_by}"]


def _drop_role(admin: psycopg.Connection, name: str, created: datetime) -> list[str]:
    left_by = f"left by a run that created it {created.isoformat()} and did not finish"
    try:
        closed = _terminate(admin, "usename", name)
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
    except psycopg.errors.UndefinedObject:
        return []  # gone already: another run swept it at the same time
    except psycopg.Error as exc:
        return [f"could not drop role {name}, {left_by}: {first_line(exc)}"]
    return [f"dropped role {name}{_closed(closed)}, {left_by}"]
