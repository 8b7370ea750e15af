"""Databases migbot creates, clones from templates, and always drops.

migbot runs DDL only inside databases it created. On a server it does not own
(--database-url), it connects to the maintenance database only to CREATE and
DROP its own uniquely named databases.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import psycopg
from psycopg import sql

from migbot.errors import InfraError, UsageError, first_line
from migbot.provision.conninfo import ServerInfo
from migbot.provision.leftovers import birth_comment


class Databases:
    def __init__(self, server: ServerInfo, *, timeout: float, bindir: Path | None = None):
        self.server = server
        self.timeout = timeout
        self.bindir = bindir  # the server's binaries, when migbot started it
        self.owner: str | None = None  # the role that owns every database created from now on
        self.prefix = f"migbot_{secrets.token_hex(4)}"
        self.created: list[str] = []
        self._major: int | None = None
        self._admin: psycopg.Connection | None = None
        self._readers: dict[str, psycopg.Connection] = {}

    def name(self, role: str) -> str:
        return f"{self.prefix}_{role}"

    def admin(self) -> psycopg.Connection:
        if self._admin is None or self._admin.closed:
            try:
                self._admin = psycopg.connect(**self.server.admin_kwargs(), autocommit=True, connect_timeout=10)
            except psycopg.Error as exc:
                error = InfraError if self.server.socket_dir else UsageError  # --database-url: the user's value
                raise error(
                    f"Could not connect to PostgreSQL at {self.server.host}:{self.server.port} "
                    f"as {self.server.user}: {first_line(exc)}",
                    hint=None if self.server.socket_dir else "Check --database-url (or MIGBOT_DATABASE_URL).",
                ) from None
            self._major = self._admin.info.server_version // 10000
        return self._admin

    def create(self, role: str, *, template: str | None = None) -> str:
        """Create (or re-create) the database for `role`, optionally as a clone of `template`."""
        name = self.name(role)
        if name in self.created:
            self.drop(name)
        statement = sql.SQL("CREATE DATABASE {} ").format(sql.Identifier(name))
        if self.owner:
            statement += sql.SQL("OWNER {} ").format(sql.Identifier(self.owner))
        if template:
            self.disconnect_all(template)
            statement += sql.SQL("TEMPLATE {} ").format(sql.Identifier(template))
        else:
            statement += sql.SQL("TEMPLATE template0 ENCODING 'UTF8' ")
        if self.server.owned and self.server_major() >= 15:
            # file_copy clones in ~10 ms on migbot's own server; it forces a checkpoint, which
            # is not migbot's to impose on a server it was lent (--database-url).
            statement += sql.SQL("STRATEGY file_copy ")
        try:
            self.admin().execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            # On a server lent with --database-url, the user's own setting: a usage error.
            raise (InfraError if self.server.socket_dir else UsageError)(
                f"User {self.server.user} may not create databases on {self.server.host}:{self.server.port}.",
                hint="migbot creates its own uniquely named databases there and drops them afterwards; "
                "give the user CREATEDB, or let migbot start its own server (omit --database-url).",
            ) from None
        except psycopg.Error as exc:
            raise InfraError(f"Could not create database {name}: {first_line(exc)}") from None
        self.created.append(name)
        ms = int(self.timeout * 1000)
        # Settings stored on the database reach every driver (asyncpg ignores PGOPTIONS).
        try:
            for setting in ("statement_timeout", "lock_timeout"):
                self.admin().execute(
                    sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                        sql.Identifier(name), sql.Identifier(setting), sql.Literal(f"{ms}ms")
                    )
                )
            # Only its owner (and migbot) may connect: on a shared server, one run's project code
            # must not reach another run's databases.
            self.admin().execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(name)))
            if self.owner and template is None and self.server_major() < 15:
                self._give_public_schema(name)
            try:  # what lets a later run drop it, should this one be killed (provision.leftovers)
                self.admin().execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(name), sql.Literal(birth_comment())))
            except psycopg.errors.InsufficientPrivilege:
                pass  # this run still drops it at the end
        except psycopg.Error as exc:
            raise InfraError(f"Could not configure database {name}: {first_line(exc)}") from None
        return name

    def _give_public_schema(self, name: str) -> None:
        """Before PostgreSQL 15 the bootstrap superuser owns `public`; since 15 the database's
        owner does (pg_database_owner). Give it to the owner, as 15 would."""
        with psycopg.connect(**self.server.admin_kwargs(name), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(self.owner)))

    def swap(self, a: str, b: str) -> None:
        """Exchange two databases' names. A worker is bound to a database by name (its
        settings read the URL once): swapping lets it work on a clone of its database."""
        assert a in self.created and b in self.created, "migbot only renames databases it created"
        parked = f"{a}_swap"
        for old, new in ((a, parked), (b, a), (parked, b)):
            self.disconnect_all(old)
            try:
                self.admin().execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old),
                                                                                       sql.Identifier(new)))
            except psycopg.Error as exc:
                raise InfraError(f"Could not rename database {old}: {first_line(exc)}") from None

    def disconnect_all(self, name: str) -> None:
        self.close_reader(name)
        self.admin().execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )

    def drop(self, name: str) -> None:
        if name not in self.created and not name.startswith(self.prefix + "_"):
            raise AssertionError(f"refusing to drop {name}: migbot did not create it")
        for _ in range(50):
            self.disconnect_all(name)
            try:
                self.admin().execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
                break
            except psycopg.errors.ObjectInUse:
                time.sleep(0.05)  # a backend is still exiting
        else:
            raise InfraError(f"Could not drop database {name}: it stayed in use for 2.5 s.")
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> list[str]:
        """Drop everything this run created; called on every exit path. Returns what
        could not be dropped, so the caller can say so without hiding an earlier error."""
        problems = []
        for name in list(reversed(self.created)):
            try:
                self.drop(name)
            except (psycopg.Error, InfraError) as exc:
                problems.append(f"database {name} was not dropped: {getattr(exc, 'message', None) or first_line(exc)}")
        if self.owner and not problems:
            try:
                self.admin().execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(self.owner)))
            except psycopg.Error as exc:
                problems.append(f"role {self.owner} was not dropped: {first_line(exc)}")
        for name in list(self._readers):
            self.close_reader(name)
        if self._admin is not None:
            self._admin.close()
        return problems

    def connect(self, name: str) -> psycopg.Connection:
        """migbot's own connection to one of its databases, to read and fill what the project's
        code made. It acts as the databases' owner role, with the catalog first on the search
        path: a cast, an operator or a function the project created runs with the project's
        rights (never with migbot's own, which may be those of a lent server's admin), and
        cannot shadow a built-in one."""
        kwargs = self.server.admin_kwargs(name)
        # pg_catalog is searched first when it is not named: a database-level search_path the
        # project set (`public, pg_catalog`) must not put its functions before the built-ins.
        kwargs["options"] = (kwargs.get("options", "") + " -c search_path=public").strip()
        conn = psycopg.connect(**kwargs, autocommit=True, connect_timeout=10)
        if self.owner:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(self.owner)))
        return conn

    def reader(self, name: str) -> psycopg.Connection:
        """migbot's own connection to `name`, kept open between reads: the catalog queries a
        snapshot repeats are then planned once (psycopg prepares them). Closed whenever the
        database is cloned, renamed or dropped."""
        conn = self._readers.get(name)
        if conn is None or conn.closed or conn.broken:
            conn = self._readers[name] = self.connect(name)
        return conn

    def close_reader(self, name: str) -> None:
        conn = self._readers.pop(name, None)
        if conn is not None:
            conn.close()

    def server_version(self) -> int:
        """server_version_num, e.g. 150020."""
        return self.admin().info.server_version

    def server_major(self) -> int:
        self.admin()
        return self._major or 0
