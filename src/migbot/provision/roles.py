"""The role the project's code runs as: the owner of migbot's databases, not a superuser.

Managed PostgreSQL (RDS, Cloud SQL, Azure) gives an application an owner role like this one:
it may create what its databases hold and trusted extensions, and may not `ALTER SYSTEM`,
create untrusted extensions, read server files or create event triggers. Running the
project's migrations, seeds and env.py as such a role makes a migration that needs more
fail here rather than on deploy. Its password is random and per run, so the password of
a server migbot was lent (--database-url) never reaches the project's code.

`superuser = true` in the config runs the project's code as migbot's own user instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import sql

from migbot.errors import UsageError, first_line
from migbot.provision.leftovers import LEFTOVER_AGE, birth_comment


@dataclass(frozen=True)
class OwnerRole:
    name: str
    password: str = field(repr=False)


def create_owner_role(admin: psycopg.Connection, name: str, *, lent: bool) -> OwnerRole:
    """Create the login role `name`, and let migbot's own user act as it (to create databases
    it owns, PostgreSQL asks for membership)."""
    role = OwnerRole(name, secrets.token_urlsafe(24))
    # A SCRAM verifier, not the password, goes over the wire: a lent server may log DDL. The
    # role expires when a later run would sweep it anyway.
    verifier = scram_verifier(role.password)
    try:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                              "NOBYPASSRLS PASSWORD {} VALID UNTIL {}").format(
            sql.Identifier(name), sql.Literal(verifier),
            sql.Literal((datetime.now(timezone.utc) + timedelta(seconds=LEFTOVER_AGE)).isoformat())))
        # When it was made, so that a later run can drop it if this one is killed (leftovers).
        admin.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(sql.Identifier(name), sql.Literal(birth_comment())))
        if not _is_superuser(admin):
            admin.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(name)))
    except psycopg.errors.InsufficientPrivilege as exc:
        if lent:
            raise UsageError(
                f"The user in --database-url may not create roles ({first_line(exc)}).",
                hint="migbot runs the project's code as a throwaway role that owns its databases but is not a "
                "superuser, so the URL's own password never reaches that code: give the user CREATEROLE, or set "
                "`superuser = true` in [tool.migbot] to run the project's code as the URL's user.") from None
        raise
    return role


# PostgreSQL's default of 4096 PBKDF2 rounds slows down brute-forcing a human's password; this
# one is 192 random bits, and every connection of the project's code (each Alembic command
# opens one) would pay those rounds twice, in the client and in the server.
SCRAM_ITERATIONS = 16


def scram_verifier(password: str, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 secret PostgreSQL stores for `password` (RFC 5802/5803)."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored_key = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _is_superuser(admin: psycopg.Connection) -> bool:
    return admin.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
