"""How to reach a PostgreSQL server, and the URLs and placeholders built from it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, parse_qs

from migbot.errors import UsageError


@dataclass(frozen=True)
class ServerInfo:
    host: str
    port: int
    user: str
    password: str
    maintenance_db: str
    socket_dir: str | None = None  # set for migbot's own server: its admin path

    @classmethod
    def from_url(cls, url: str) -> "ServerInfo":
        """Parse --database-url; any postgresql[+driver]:// URL is accepted."""
        parts = urlsplit(url)
        scheme = parts.scheme.split("+", 1)[0]
        if scheme not in ("postgresql", "postgres"):
            raise UsageError(
                "--database-url must be a URL like postgresql://user:password@host:5432/postgres.",
                hint="It names a database to connect to for CREATE DATABASE (usually postgres); migbot creates "
                "and drops its own databases there. Example: postgresql://postgres@127.0.0.1:5432/postgres",
            )
        query = parse_qs(parts.query)
        host = parts.hostname or (query.get("host") or ["127.0.0.1"])[0]
        try:
            port = parts.port or 5432
        except ValueError:
            raise UsageError("--database-url has a port that is not a number.") from None
        return cls(
            host=host,
            port=port,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            maintenance_db=unquote(parts.path.lstrip("/")) or "postgres",
        )

    def admin_kwargs(self, dbname: str | None = None) -> dict:
        """psycopg.connect() keyword arguments for migbot's own connections."""
        kwargs = {"dbname": dbname or self.maintenance_db, "user": self.user}
        if self.socket_dir:
            kwargs["host"] = self.socket_dir
            kwargs["port"] = self.port
        else:
            kwargs.update(host=self.host, port=self.port)
            if self.password:
                kwargs["password"] = self.password
        return kwargs

    def placeholders(self, dbname: str) -> dict[str, str]:
        """Values for {url}, {async_url}, {host}, ... in the project's env config.

        {url} and {async_url} are completed with the driver the project has
        installed, once the worker has reported it (see run.client).
        """
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        netloc = f"{auth}@{self.host}:{self.port}"
        return {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "password": self.password,
            "dbname": dbname,
            "netloc": netloc,
            "libpq_url": f"postgresql://{netloc}/{quote(dbname)}",
        }

    def secrets(self) -> list[str]:
        return [self.password] if self.password else []
