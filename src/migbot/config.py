"""Project configuration: [tool.migbot] in pyproject.toml and/or migbot.toml.

Both are read from the head commit (what the branch says), or from --config.
Keys are kebab-case. docs/config.md documents every key; a project laid out
like the conventions documents needs none of them.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator,
)

from migbot.catalog import BY_ID, Level
from migbot.errors import UsageError

# Check ids that were split or renamed: setting the old id sets the new ones.
RENAMED = {"migrations-with-data": ("upgrade-over-rows", "downgrade-over-rows")}
PLACEHOLDERS = ("url", "async_url", "sync_url", "libpq_url", "host", "port", "user", "password", "dbname")

# What a zero-config project gets: the throwaway database under the names
# FastAPI/Flask projects and libpq read. `env` entries in the config win.
DEFAULT_ENV = {
    "DATABASE_URL": "{url}",
    "SQLALCHEMY_DATABASE_URI": "{url}",
    "POSTGRES_SERVER": "{host}",
    "POSTGRES_HOST": "{host}",
    "POSTGRES_PORT": "{port}",
    "POSTGRES_USER": "{user}",
    "POSTGRES_PASSWORD": "{password}",
    "POSTGRES_DB": "{dbname}",
    "PGHOST": "{host}",
    "PGPORT": "{port}",
    "PGUSER": "{user}",
    "PGPASSWORD": "{password}",
    "PGDATABASE": "{dbname}",
}
DEFAULT_TIMEOUT = 300.0


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


StrList = Annotated[list[str], BeforeValidator(_as_list)]


class _Model(BaseModel):
    # Keys are kebab-case only: a snake_case spelling is an unknown key, not a synonym.
    model_config = ConfigDict(extra="forbid", alias_generator=_kebab, frozen=True)


class AllowIrreversible(_Model):
    revision: str = Field(min_length=1)
    reason: str = Field(min_length=1, description="Why this revision cannot be undone; shown in the report.")


class SeedSet(_Model):
    """One seed set named in the config: Python modules (run as documented), or a shell command."""

    name: str = Field(min_length=1)
    modules: list[str] = []
    command: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "SeedSet":
        if bool(self.modules) == bool(self.command):
            raise ValueError(f"seed set {self.name!r} needs either modules or a command (not both)")
        return self


class SeedSettings(_Model):
    sets: list[SeedSet] | None = Field(default=None, description="Seed sets in order; without it, app/seeds is searched.")
    ignore_columns: list[str] = Field(default=[], description="Columns whose changes on a re-run are expected: "
                                      "`updated_at` (any table) or `orders.synced_at`.")
    synthetic_rows: int = Field(default=300, ge=0, le=100_000, strict=True)
    base_seeds: bool = Field(default=True, strict=True)


class ProjectSettings(_Model):
    """Settings that can differ per Alembic project (top level, or per [[tool.migbot.projects]])."""

    python: str | None = None
    sys_path: list[str] = []
    export: list[str] = Field(default=[], description="More files or folders (relative to the repository root) to "
                              "copy into the trees the project's code runs in.")
    env: dict[str, str] = {}
    default_env: bool = Field(default=True, strict=True)  # "false" must not read as true-ish
    set_sqlalchemy_url: bool = Field(default=True, strict=True)
    bootstrap: str | None = None
    runner: str | None = Field(default=None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
                               description="module:function that runs each Alembic command (see docs/config.md).")
    seeds: SeedSettings = SeedSettings()

    @field_validator("env")
    @classmethod
    def _placeholders_known(cls, env: dict[str, str]) -> dict[str, str]:
        for key, value in env.items():
            for name in re.findall(r"\{([^{}]*)\}", value):
                if name not in PLACEHOLDERS:
                    close = difflib.get_close_matches(name, PLACEHOLDERS, n=1)
                    raise ValueError(
                        f"{key} uses an unknown placeholder {{{name}}}"
                        + (f" (did you mean {{{close[0]}}}?)" if close else "")
                        + f"; known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
                    )
        return env


class ProjectOverride(ProjectSettings):
    alembic_ini: str


class MigbotConfig(ProjectSettings):
    alembic_ini: StrList | None = None
    timeout: float | None = Field(default=None, ge=1, strict=True)
    superuser: bool = Field(default=False, strict=True)  # run the project's code as a superuser
    pg_dump_each_step: bool | None = Field(default=None, strict=True, description="Compare each stairway step "
                                           "with pg_dump too; unset: for up to 10 new revisions.")
    checks: dict[str, Level] = {}
    squawk_exclude: StrList | None = Field(default=None, description="squawk rules to leave out; unset: the rules "
                                           "that fire on nearly every migration (see docs/checks.md, squawk).")
    allow_irreversible: list[AllowIrreversible] = []
    projects: list[ProjectOverride] = []
    _source: str = PrivateAttr(default="defaults")

    @property
    def source(self) -> str:
        return self._source

    def with_policy_of(self, other: MigbotConfig) -> MigbotConfig:
        """This config, with the policy (check levels, superuser, squawk-exclude) of `other`."""
        merged = self.model_copy(update={"checks": other.checks, "superuser": other.superuser,
                                         "squawk_exclude": other.squawk_exclude})
        merged._source = self._source
        return merged

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, checks: dict[str, Level]) -> dict[str, Level]:
        checks = {new: level for check_id, level in checks.items() for new in RENAMED.get(check_id, (check_id,))}
        for check_id, level in checks.items():
            if (unknown := _unknown_check(check_id)) is not None:
                raise ValueError(unknown)
            if level is Level.OFF and not BY_ID[check_id].can_disable:
                raise ValueError(f"{check_id} cannot be turned off; nothing else can run without it")
        return checks

    @model_validator(mode="after")
    def _overrides_named(self) -> "MigbotConfig":
        names = [p.alembic_ini for p in self.projects]
        if len(names) != len(set(names)):
            raise ValueError("the same alembic-ini appears twice in projects")
        return self

    def level(self, check_id: str) -> Level:
        return self.checks.get(check_id, BY_ID[check_id].default)

    @property
    def timeout_seconds(self) -> float:
        return self.timeout or DEFAULT_TIMEOUT

    def for_project(self, ini_path: str) -> ProjectSettings:
        """Top-level settings with the matching [[projects]] entry laid over them."""
        merged = {name: getattr(self, name) for name in ProjectSettings.model_fields}
        for override in self.projects:
            if override.alembic_ini == ini_path:
                for name in ProjectSettings.model_fields:
                    if name in override.model_fields_set:
                        # A project's env adds to the top-level env; everything else replaces.
                        merged[name] = {**merged["env"], **override.env} if name == "env" else getattr(override, name)
        return ProjectSettings.model_validate({_kebab(name): value for name, value in merged.items()})

    def allowed_irreversible(self, revision: str) -> AllowIrreversible | None:
        return next((a for a in self.allow_irreversible if a.revision == revision), None)


def project_env(settings: ProjectSettings) -> dict[str, str]:
    env = dict(DEFAULT_ENV) if settings.default_env else {}
    env.update(settings.env)
    return env


# --- loading ------------------------------------------------------------------------
def parse_config(tables: list[tuple[str, dict]]) -> MigbotConfig:
    """Merge config tables ((source, table) pairs); a key set in two sources is an error."""
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for source, table in tables:
        for key, value in table.items():
            if key in merged:
                raise UsageError(f"{key} is set in both {origin[key]} and {source}; keep it in one place.")
            merged[key] = value
            origin[key] = source
    sources = " and ".join(source for source, _ in tables) or "defaults"
    try:
        config = MigbotConfig.model_validate(merged)
    except ValidationError as exc:
        raise UsageError(f"Invalid migbot config in {sources}:\n" + _explain(exc, merged)) from None
    config._source = sources
    return config


def _unknown_check(check_id: str) -> str | None:
    if check_id in BY_ID or check_id in RENAMED:
        return None
    close = difflib.get_close_matches(check_id, list(BY_ID), n=1)
    return (f"unknown check id {check_id!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            + "; the ids are listed in docs/checks.md")


def _explain(exc: ValidationError, merged: dict[str, Any]) -> str:
    lines = _explain_errors(exc)
    # A level that is not one stops pydantic before it looks at the ids: name the unknown ones too.
    checks = merged.get("checks")
    for check_id in checks if isinstance(checks, dict) else ():
        unknown = _unknown_check(str(check_id))
        if unknown is not None and not any(unknown in line for line in lines):
            lines.append(f"  - checks: {unknown}")
    return "\n".join(lines)


def _explain_errors(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            key = str(error["loc"][-1])
            owner = {"projects": ProjectOverride, "allow-irreversible": AllowIrreversible}.get(
                str(error["loc"][0]) if len(error["loc"]) > 1 else "", MigbotConfig)
            pool = sorted(_kebab(f) for f in owner.model_fields)
            close = difflib.get_close_matches(key, pool, n=1)
            lines.append(f"  - {loc}: unknown key" + (f" (did you mean {close[0]!r}?)" if close else f"; known keys: {', '.join(pool)}"))
            continue
        message = error["msg"].removeprefix("Value error, ")
        got = error.get("input")
        shown = f" (got {got!r})" if got is not None and not isinstance(got, (dict, list)) else ""
        lines.append(f"  - {loc}: {message}{shown}")
    return lines


CONFIG_FILES = ("migbot.toml", ".migbot.toml", "pyproject.toml")


def read_config(repo_files: dict[str, bytes], explicit: Path | None = None, *, name: str | None = None) -> MigbotConfig:
    """Config from --config, or from migbot.toml / .migbot.toml / pyproject.toml of a commit
    (`repo_files`), or from the one file of a commit the Action's `config` input names (`name`)."""
    tables: list[tuple[str, dict]] = []
    if name is not None:
        if name in repo_files:
            tables.append((name, _table(name, repo_files[name])))
    elif explicit is not None:
        try:
            text = explicit.read_bytes()
        except OSError as exc:
            raise UsageError(f"Cannot read the config file {explicit}: {exc.strerror}.") from None
        tables.append((str(explicit), _table(str(explicit), text)))
    else:
        for name in CONFIG_FILES:
            if name in repo_files:
                table = _table(name, repo_files[name])
                if table:
                    tables.append((name if name != "pyproject.toml" else "pyproject.toml [tool.migbot]", table))
    return parse_config(tables)



def _table(name: str, text: bytes) -> dict:
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{name} is not valid TOML: {exc}") from None
    if name.endswith("pyproject.toml"):
        return data.get("tool", {}).get("migbot", {})
    if "tool" in data and "migbot" in data["tool"]:
        return data["tool"]["migbot"]
    return data
