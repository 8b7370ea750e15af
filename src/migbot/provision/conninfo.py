"""How to reach a PostgreSQL server, and the URLs and placeholders built from it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from migbot.errors import UsageError


@dataclass(frozen=True)
class ServerInfo:
    host: str
    port: int
    user: str
    password: str
    maintenance_db: str
    socket_dir: str | None = None  # set for migbot's own server: its admin path
    query: tuple[tuple[str, str], ...] = ()  # extra URL parameters to keep (sslmode, ...)
    # For a unix-socket URL: a TCP host where the same server listens, for {host} (see tcp_twin).
    tcp_host: str | None = None

    @property
    def owned(self) -> bool:
        """migbot started this server (its admin path is a private socket)."""
        return self.socket_dir is not None

    @classmethod
    def from_url(cls, url: str) -> "ServerInfo":
        """Parse --database-url; any postgresql[+driver]:// URL is accepted."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UsageError(f"--database-url is not a valid URL ({exc}).",
                             hint="Example: postgresql://postgres@127.0.0.1:5432/postgres") from None
        scheme = parts.scheme.split("+", 1)[0]
        if scheme not in ("postgresql", "postgres"):
            raise UsageError(
                "--database-url must be a URL like postgresql://user:password@host:5432/postgres.",
                hint="It names a database to connect to for CREATE DATABASE (usually postgres); migbot creates "
                "and drops its own databases there. Example: postgresql://postgres@127.0.0.1:5432/postgres",
            )
        query = parse_qs(parts.query)
        host = parts.hostname or (query.pop("host", None) or ["127.0.0.1"])[0]
        query.pop("host", None)
        if "port" in query:
            port = int(query.pop("port")[0])
        return cls(
            host=host,
            port=port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            maintenance_db=unquote(parts.path.lstrip("/")) or "postgres",
            query=tuple((k, v[-1]) for k, v in sorted(query.items())),
        )

    def admin_kwargs(self, dbname: str | None = None) -> dict:
        """psycopg.connect() keyword arguments for migbot's own connections."""
        kwargs = {"dbname": dbname or self.maintenance_db, "user": self.user, **dict(self.query)}
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
        query = list(self.query)
        if self.host.startswith("/"):  # a unix socket directory travels as ?host=
            netloc = f"{auth}@"
            query += [("host", self.host), ("port", str(self.port))]
        else:
            host = f"[{self.host}]" if ":" in self.host else self.host  # IPv6
            netloc = f"{auth}@{host}:{self.port}"
        suffix = f"?{urlencode(query)}" if query else ""
        return {
            "host": self.tcp_host or self.host,
            "port": str(self.port),
            "user": self.user,
            "password": self.password,
            "dbname": dbname,
            "netloc": netloc,
            "query": suffix,
            "libpq_url": f"postgresql://{netloc}/{quote(dbname)}{suffix}",
        }

    def secrets(self) -> list[str]:
        """Every form the password takes in URLs, configs and messages."""
        if not self.password:
            return []
        forms = {self.password, quote(self.password, safe=""), quote(self.password), self.password.replace("%", "%%"),
                 quote(self.password, safe="").replace("%", "%%")}
        return sorted(forms, key=len, reverse=True)


def tcp_twin(info: ServerInfo) -> ServerInfo | None:
    """For a URL that names a unix socket: the same server over TCP on 127.0.0.1, if it listens
    there (same port, same start time), so that a project that builds its URL from a host and a
    port gets a host it can use; None if it does not."""
    import psycopg

    kwargs = info.admin_kwargs()
    started = "SELECT pg_postmaster_start_time()::text"
    try:
        with psycopg.connect(**kwargs, connect_timeout=5) as by_socket, \
                psycopg.connect(**{**kwargs, "host": "127.0.0.1"}, connect_timeout=5) as by_tcp:
            same = by_socket.execute(started).fetchone() == by_tcp.execute(started).fetchone()
    except psycopg.Error:
        return None
    return replace(info, tcp_host="127.0.0.1") if same else None
