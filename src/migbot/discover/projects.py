"""Finding Alembic projects in a commit and reading where their revisions live.

An Alembic project is any `*.ini` file with an [alembic] section (anywhere; a
monorepo may hold several, and one folder may hold two histories, such as
alembic.ini and alembic_audit.ini). Its script_location may be a path relative to
the ini's directory, use %(here)s, or name a package resource ("myapp:db:migrations",
every colon after the package a path separator, as Alembic reads it); its
version_locations may list several directories. Alembic 1.16+ may keep those keys in
pyproject.toml's [tool.alembic] next to the ini instead.

This is the static reading, made before anything runs. The live run asks Alembic
itself, after env.py ran, and the plan follows Alembic where the two differ.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from migbot.discover.git import GitRepo
from migbot.errors import UsageError

# Directories never searched for alembic.ini when no config names one.
SKIP_DIRS = {
    ".git", ".venv", "venv", "env", ".env", "node_modules", "site-packages", ".tox", ".nox", "build", "dist",
    "__pycache__", "test", "tests", "testing", "fixtures", "examples", "example", "docs",
}


REVISION_FILE = re.compile(r"(?!\.\#|__init__).*\.py$")


@dataclass
class AlembicProject:
    ini_path: str  # repo-relative, POSIX
    script_location: str  # repo-relative directory holding env.py
    version_dirs: list[str]  # repo-relative directories holding revision files
    recursive: bool = False
    toml_file: str | None = None  # pyproject.toml holding [tool.alembic], if used
    run_dir: str | None = None  # repo-relative folder Alembic runs in (default: the ini's folder)
    ini_url_driver: str | None = None  # "asyncpg" from an ini URL like postgresql+asyncpg://...

    @property
    def directory(self) -> str:
        parent = str(PurePosixPath(self.ini_path).parent)
        return "" if parent == "." else parent

    @property
    def name(self) -> str:
        """The folder, or the ini's path when it is not named alembic.ini (a second history)."""
        if PurePosixPath(self.ini_path).name != "alembic.ini":
            return self.ini_path
        return self.directory or "."

    @property
    def env_py(self) -> str:
        return _join(self.script_location, "env.py")

    def owns(self, path: str) -> bool:
        """Is this repo-relative path a revision file of this project? (Alembic's own rule:
        .py files, but not __init__ files or editor lock files.)"""
        if not REVISION_FILE.match(PurePosixPath(path).name):
            return False
        parent = str(PurePosixPath(path).parent)
        parent = "" if parent == "." else parent
        if self.recursive:
            return any(parent == d or not d or parent.startswith(d + "/") for d in self.version_dirs)
        return parent in self.version_dirs


@dataclass
class FoundProjects:
    inis: list[str]  # to verify
    skipped: list[tuple[str, str]]  # (ini path, why it is not verified)


def find_projects(files: list[str], read: Callable[[list[str]], dict[str, bytes]]) -> FoundProjects:
    """Every *.ini of the commit with an [alembic] section: the ones to verify, and the ones
    in folders migbot does not search, with that reason."""
    candidates = [path for path in files if path.endswith(".ini")]
    contents = read(candidates) if candidates else {}
    inis, skipped = [], []
    for path in sorted(candidates, key=lambda p: (p.count("/"), p)):
        if not _has_alembic_section(contents.get(path, b"")):
            continue
        folder = next((part for part in PurePosixPath(path).parts[:-1] if part in SKIP_DIRS), None)
        if folder is not None:
            skipped.append((path, f"it is under a `{folder}/` folder, which migbot does not search"))
        else:
            inis.append(path)
    return FoundProjects(inis, skipped)


def _has_alembic_section(content: bytes) -> bool:
    return re.search(rb"^[ \t]*\[alembic\][ \t]*$", content, re.MULTILINE) is not None


def load_project(repo: GitRepo, commit: str, ini_path: str, files: list[str], extra_roots: list[str]) -> AlembicProject:
    """Read one alembic.ini (and pyproject [tool.alembic]) at a commit."""
    ini_dir = str(PurePosixPath(ini_path).parent)
    ini_dir = "" if ini_dir == "." else ini_dir
    toml_path = _join(ini_dir, "pyproject.toml")
    contents = repo.read_files(commit, [ini_path, toml_path])
    if ini_path not in contents:
        raise UsageError(f"{ini_path} does not exist at commit {commit[:12]}.")
    parser = configparser.ConfigParser(defaults={"here": "%(here)s"}, interpolation=None)
    try:
        parser.read_string(contents[ini_path].decode("utf-8", errors="replace"), source=ini_path)
    except configparser.Error as exc:
        raise UsageError(f"{ini_path} is not a valid ini file: {exc}") from None
    section = dict(parser["alembic"]) if parser.has_section("alembic") else {}
    toml_section: dict = {}
    toml_file = None
    if toml_path in contents:
        try:
            toml_section = tomllib.loads(contents[toml_path].decode()).get("tool", {}).get("alembic", {})
        except tomllib.TOMLDecodeError:
            toml_section = {}
        if toml_section:
            toml_file = toml_path

    script_location = section.get("script_location") or toml_section.get("script_location")
    if not script_location:
        raise UsageError(
            f"{ini_path} has no script_location in its [alembic] section"
            + (" (nor in pyproject.toml [tool.alembic])" if toml_file is None else "") + ".",
            hint="Point migbot at the right file with alembic-ini in [tool.migbot].",
        )
    roots = [ini_dir, "", "src", *extra_roots]
    run_dir = _run_dir(script_location, ini_dir, files)
    script_dir = _resolve_location(script_location, run_dir, roots, files)

    raw_versions = section.get("version_locations") or toml_section.get("version_locations")
    if isinstance(raw_versions, list):
        version_entries = raw_versions
    elif raw_versions:
        sep = section.get("path_separator") or section.get("version_path_separator")
        version_entries = _split_paths(raw_versions, sep)
    else:
        version_entries = []
    version_dirs = [_resolve_location(v, run_dir, roots, files) for v in version_entries] \
        or [_join(script_dir, "versions")]
    recursive = str(section.get("recursive_version_locations", toml_section.get("recursive_version_locations", "false"))).lower() in ("true", "1", "yes")

    url = section.get("sqlalchemy.url", "")
    driver = None
    match = re.match(r"postgres(?:ql)?\+(\w+)://", url)
    if match and match.group(1) in ("asyncpg", "psycopg", "psycopg2", "pg8000", "psycopg_async"):
        driver = match.group(1)
    return AlembicProject(
        ini_path=ini_path, script_location=script_dir, version_dirs=version_dirs, recursive=recursive, run_dir=run_dir,
        toml_file=toml_file, ini_url_driver=driver,
    )


def _run_dir(script_location: str, ini_dir: str, files: list[str]) -> str:
    """Where Alembic runs: it reads a plain relative script_location from its working directory.
    The ini's folder, as `cd <folder> && alembic ...` does; the repository root when the
    location exists only from there (`alembic -c <folder>/alembic.ini ...`, as mlflow's is meant)."""
    value = script_location.strip()
    if value.startswith("%(here)s") or (":" in value and "/" not in value.split(":", 1)[0]) or not ini_dir:
        return ini_dir
    from_ini, from_root = _join(ini_dir, value), _normalise(value)
    if not any(f.startswith(from_ini + "/") for f in files) and any(f.startswith(from_root + "/") for f in files):
        return ""
    return ini_dir


def _split_paths(value: str, separator: str | None) -> list[str]:
    named = {"space": " ", "newline": "\n", "colon": ":", "semicolon": ";", "os": ":"}
    if separator and separator in named:
        parts = value.split(named[separator]) if separator != "space" else value.split()
    else:
        parts = re.split(r"[,\s]+", value)
    return [p.strip() for p in parts if p.strip()]


def _resolve_location(value: str, ini_dir: str, roots: list[str], files: list[str]) -> str:
    """A repo-relative directory for a script_location or version_locations entry."""
    value = value.strip()
    if ":" in value and not value.startswith("%(here)s") and "/" not in value.split(":", 1)[0]:
        # Alembic: the package, then every colon-separated token a path segment below it.
        package, *segments = value.split(":")
        resource = "/".join(s for s in segments if s)
        package_dir = package.replace(".", "/")
        for root in roots:
            candidate = _join(root, package_dir)
            if any(f.startswith(candidate + "/") for f in files):
                return _join(candidate, resource)
        return _join(ini_dir, package_dir, resource)
    if value.startswith("%(here)s"):
        value = value[len("%(here)s"):].lstrip("/\\") or "."
    path = PurePosixPath(value)
    if path.is_absolute():
        raise UsageError(f"migbot cannot use the absolute path {value} from the Alembic config; use %(here)s.")
    return _normalise(_join(ini_dir, str(path)))


def _join(*parts: str) -> str:
    return _normalise("/".join(p.strip("/") for p in parts if p and p != "."))


def _normalise(path: str) -> str:
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == ".." and out:
            out.pop()
        else:
            out.append(part)
    return "/".join(out)
