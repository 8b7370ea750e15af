"""The completeness backstop: `pg_dump --schema-only`, normalised into comparable entries.

The itemised snapshot (snapshot.catalog) names what it compares; pg_dump knows every
kind of object PostgreSQL can dump. Each dump is split at pg_dump's own entry headers
("-- Name: users; Type: TABLE; Schema: public; ..."), so entries are keyed by what they
define and compared in any order. Left out as noise: comments, SET lines, the
`\\restrict` lines of recent pg_dump versions, blank lines, and column order (the
itemised comparison reports that on its own). Alembic's version table is excluded.

The dump runs beside the catalog queries (both read a database nothing is changing), so
it costs little more than the slower of the two.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

from psycopg.conninfo import make_conninfo

_HEADER = re.compile(r"^-- (?:Data for )?Name: (?P<name>.*); Type: (?P<type>[^;]*); Schema: (?P<schema>[^;]*);")
_NOISE = re.compile(r"^(--|SET |SELECT pg_catalog\.set_config\(|\\restrict |\\unrestrict )")
_TABLE_TYPES = ("TABLE", "FOREIGN TABLE")


def normalise(text: str) -> dict[str, str]:
    """pg_dump's output as {"TYPE schema.name": statements}."""
    entries: dict[str, list[str]] = {}
    tables: set[str] = set()
    key = None
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            key = _entry_key(header["type"], header["schema"], header["name"])
            entries.setdefault(key, [])
            if header["type"] in _TABLE_TYPES:
                tables.add(key)
            continue
        if key is None or not line.strip() or _NOISE.match(line):
            continue
        entries[key].append(line.rstrip())
    return {key: "\n".join(_columns_sorted(lines) if key in tables else lines)
            for key, lines in entries.items() if lines}


def _entry_key(kind: str, schema: str, name: str) -> str:
    """How an entry is named in the report: "TABLE public.users", "ACL TABLE public.users",
    "CAST (integer AS public.money_pair)", "DEFAULT public.users id"."""
    if kind == "DEFAULT ACL":  # "DEFAULT PRIVILEGES FOR TABLES", in a schema or not
        return f"{name} IN {schema}" if schema != "-" else name
    schema = "" if schema == "-" else schema + "."
    word, _, rest = name.partition(" ")
    if rest and word.isalpha() and word.isupper():  # the name leads with its object's kind
        named = f"{word} {schema}{rest}" if not rest.startswith("(") else name
        return named if word == kind.split(" ")[0] else f"{kind} {named}"
    return f"{kind} {schema}{name}"


def _columns_sorted(lines: list[str]) -> list[str]:
    """The lines of CREATE TABLE (...) in name order: column order is compared elsewhere."""
    out, inside, block = [], False, []
    for line in lines:
        if not inside and line.startswith("CREATE ") and line.endswith("("):
            out.append(line)
            inside, block = True, []
        elif inside and line.startswith(")"):
            out.extend(sorted(b.rstrip(",") for b in block))
            out.append(line)
            inside = False
        elif inside:
            block.append(line)
        else:
            out.append(line)
    return out + sorted(b.rstrip(",") for b in block) if inside else out


@dataclass
class PendingDump:
    process: subprocess.Popen | None
    missing: str | None = None

    def result(self, timeout: float) -> tuple[dict[str, str] | None, str | None]:
        """(entries, None), or (None, why the dump is missing)."""
        if self.process is None:
            return None, self.missing
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            return None, f"pg_dump took longer than {timeout:.0f} s"
        if self.process.returncode != 0:
            first = next((line for line in err.splitlines() if line.strip()), "no message")
            return None, f"pg_dump failed: {first.removeprefix('pg_dump: ').strip()}"
        return normalise(out), None


class Dumper:
    """Starts pg_dump of one of migbot's databases in the background."""

    def __init__(self, pg_dump: str | None, connection: dict, missing: str | None = None):
        self.pg_dump, self.missing = pg_dump, missing
        self.password = connection.pop("password", None)
        self.connection = connection

    def conninfo(self, dbname: str) -> str:
        return make_conninfo(**{**self.connection, "dbname": dbname})

    def env(self) -> dict[str, str]:
        """The environment of migbot's PostgreSQL client programs: the password, nothing of the caller's PG*."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "PGCONNECT_TIMEOUT": "10"}
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def start(self, dbname: str, version_table: str) -> PendingDump:
        if self.pg_dump is None:
            return PendingDump(None, self.missing)
        pattern = '*."' + version_table.replace('"', '""') + '"'
        args = [self.pg_dump, "--schema-only", f"--exclude-table={pattern}", f"--dbname={self.conninfo(dbname)}"]
        try:
            process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       env=self.env())
        except OSError as exc:
            return PendingDump(None, f"pg_dump could not start: {exc}")
        return PendingDump(process)
