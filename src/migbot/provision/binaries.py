"""Where PostgreSQL's programs are: the server's (initdb, postgres) and pg_dump."""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

from migbot.errors import InfraError


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def bin_dirs(program: str) -> list[str]:
    """Directories that may hold `program`, best first: $MIGBOT_PG_BINDIR, PATH, then the
    usual places, newest version first."""
    candidates: list[str] = []
    if os.environ.get("MIGBOT_PG_BINDIR"):
        candidates.append(os.environ["MIGBOT_PG_BINDIR"])
    on_path = shutil.which(program)
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    candidates += sorted(glob.glob("/usr/pgsql-*/bin"), key=_version_key, reverse=True)
    candidates += ["/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin"]
    return list(dict.fromkeys(candidates))


def find_bindir() -> Path:
    """Where initdb and postgres live."""
    for directory in bin_dirs("initdb"):
        if (Path(directory) / "initdb").is_file() and (Path(directory) / "postgres").is_file():
            return Path(directory)
    raise InfraError(
        "PostgreSQL server binaries (initdb, postgres) were not found.",
        hint="Install them (Debian/Ubuntu: apt-get install postgresql), set MIGBOT_PG_BINDIR "
        "to their directory, or point migbot at an existing server with --database-url.",
    )


@functools.cache
def _major(program: str) -> int:
    try:
        out = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(found.group(1)) if found else 0


def find_pg_dump(server_major: int, bindir: Path | None = None,
                 chosen: str | None = None) -> tuple[str | None, str | None]:
    """A pg_dump that can dump this server (its major version or newer), or why there is none:
    the server's own (`bindir`), else the newest found; `chosen` (MIGBOT_PG_DUMP) is the only
    candidate when given."""
    if chosen:
        chosen = shutil.which(chosen) or chosen
        if not os.access(chosen, os.X_OK):
            return None, f"MIGBOT_PG_DUMP={chosen} is not an executable"
        if _major(chosen) < server_major:
            return None, f"MIGBOT_PG_DUMP={chosen} is older than the server (PostgreSQL {server_major})"
        return chosen, None
    directories = ([str(bindir)] if bindir else []) + bin_dirs("pg_dump")
    found = [p for d in dict.fromkeys(directories) if os.access(p := os.path.join(d, "pg_dump"), os.X_OK)]
    for candidate in found:
        if _major(candidate) >= server_major:
            return candidate, None
    if found:
        return None, f"pg_dump {server_major} or newer was not found (found {max(_major(c) for c in found)})"
    return None, "pg_dump was not found"
