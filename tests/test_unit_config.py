"""Unit tests for migbot.config: [tool.migbot] parsing, validation messages and per-project settings."""

from __future__ import annotations

import pytest

from migbot.catalog import BY_ID, Level
from migbot.config import DEFAULT_ENV, DEFAULT_TIMEOUT, ProjectSettings, parse_config, project_env
from migbot.errors import EXIT_USAGE, UsageError


def error_of(*tables: tuple[str, dict]) -> str:
    with pytest.raises(UsageError) as info:
        parse_config(list(tables))
    assert info.value.exit_code == EXIT_USAGE
    return info.value.message


# --- basics -----------------------------------------------------------------------------------------
def test_empty_config_uses_defaults():
    config = parse_config([])
    assert config.source == "defaults"
    assert config.alembic_ini is None
    assert config.timeout_seconds == DEFAULT_TIMEOUT
    assert config.default_env is True
    assert config.level("upgrade") == BY_ID["upgrade"].default


def test_kebab_case_keys_are_read():
    config = parse_config([("pyproject.toml [tool.migbot]", {
        "alembic-ini": "db/alembic.ini",
        "sys-path": ["src", "lib"],
        "set-sqlalchemy-url": False,
        "default-env": False,
        "timeout": 60,
    })])
    assert config.alembic_ini == ["db/alembic.ini"]
    assert config.sys_path == ["src", "lib"]
    assert config.set_sqlalchemy_url is False
    assert config.default_env is False
    assert config.timeout_seconds == 60


def test_source_names_every_table():
    config = parse_config([("migbot.toml", {"timeout": 5}), ("pyproject.toml [tool.migbot]", {"python": "py"})])
    assert config.source == "migbot.toml and pyproject.toml [tool.migbot]"


def test_alembic_ini_accepts_string():
    assert parse_config([("m", {"alembic-ini": "alembic.ini"})]).alembic_ini == ["alembic.ini"]


def test_alembic_ini_accepts_list():
    config = parse_config([("m", {"alembic-ini": ["a/alembic.ini", "b/alembic.ini"]})])
    assert config.alembic_ini == ["a/alembic.ini", "b/alembic.ini"]


def test_sys_path_must_be_a_list():
    with pytest.raises(UsageError) as error:
        parse_config([("m", {"sys-path": "src"})])
    assert "sys-path: Input should be a valid list" in error.value.message


@pytest.mark.parametrize("table, message", [
    ({"timeout": "300"}, "timeout: Input should be a valid number"),
    ({"timeout": 0.5}, "timeout: Input should be greater than or equal to 1"),
    ({"default-env": "false"}, "default-env: Input should be a valid boolean"),
    ({"set-sqlalchemy-url": 0}, "set-sqlalchemy-url: Input should be a valid boolean"),
])
def test_no_silent_type_coercion(table, message):
    with pytest.raises(UsageError) as error:
        parse_config([("m", table)])
    assert message in error.value.message


# --- unknown keys and bad values ---------------------------------------------------------------------
def test_unknown_key_suggests_close_match():
    message = error_of(("migbot.toml", {"timout": 3}))
    assert "Invalid migbot config in migbot.toml" in message
    assert "timout: unknown key (did you mean 'timeout'?)" in message


def test_unknown_key_without_close_match_lists_known_keys():
    message = error_of(("m", {"zzzz": 1}))
    assert "zzzz: unknown key; known keys:" in message
    assert "alembic-ini" in message and "allow-irreversible" in message
    assert "source" not in message.split("known keys:")[1]


def test_snake_case_key_is_rejected_like_other_unknown_keys():
    # Keys are kebab-case; "alembic_ini" is only rejected today when "alembic-ini" is also present.
    message = error_of(("m", {"alembic_ini": "alembic.ini"}))
    assert "did you mean 'alembic-ini'" in message


def test_unknown_key_in_projects_suggests_project_key():
    message = error_of(("m", {"projects": [{"alembic-ini": "a.ini", "pythn": "x"}]}))
    assert "projects.0.pythn: unknown key (did you mean 'python'?)" in message


def test_unknown_key_in_allow_irreversible_suggests_its_own_keys():
    message = error_of(("m", {"allow-irreversible": [{"revision": "abc", "reson": "drops data"}]}))
    assert "allow-irreversible.0.reson: unknown key (did you mean 'reason'?)" in message


def test_top_level_key_containing_projects_suggests_top_level_key():
    message = error_of(("m", {"projectss": []}))
    assert "projectss: unknown key (did you mean 'projects'?)" in message


def test_bad_type_names_key_and_value():
    message = error_of(("m", {"timeout": "fast"}))
    assert "timeout:" in message
    assert "(got 'fast')" in message


def test_non_positive_timeout_is_rejected():
    assert "timeout:" in error_of(("m", {"timeout": 0}))


def test_bad_bool_is_rejected():
    assert "default-env:" in error_of(("m", {"default-env": "sometimes"}))


def test_allow_irreversible_needs_reason():
    message = error_of(("m", {"allow-irreversible": [{"revision": "abc"}]}))
    assert "allow-irreversible.0.reason" in message


def test_allow_irreversible_empty_reason_is_rejected():
    assert "allow-irreversible.0.reason" in error_of(("m", {"allow-irreversible": [{"revision": "a", "reason": ""}]}))


# --- env placeholders ------------------------------------------------------------------------------------
def test_known_placeholders_are_accepted():
    config = parse_config([("m", {"env": {"DB": "{async_url}", "H": "{host}:{port}", "PLAIN": "x"}})])
    assert config.env == {"DB": "{async_url}", "H": "{host}:{port}", "PLAIN": "x"}


def test_unknown_placeholder_suggests_close_match():
    message = error_of(("m", {"env": {"DATABASE_URL": "{ur}"}}))
    assert "DATABASE_URL uses an unknown placeholder {ur} (did you mean {url}?)" in message
    assert "known: {url}" in message


def test_unknown_placeholder_in_project_env_is_rejected():
    message = error_of(("m", {"projects": [{"alembic-ini": "a.ini", "env": {"X": "{database}"}}]}))
    assert "unknown placeholder {database}" in message


# --- checks -------------------------------------------------------------------------------------------------
def test_check_levels_are_set():
    config = parse_config([("m", {"checks": {"upgrade": "off", "downgrade": "warning"}})])
    assert config.level("upgrade") is Level.OFF
    assert config.level("downgrade") is Level.WARNING


def test_unknown_check_id_suggests_close_match():
    message = error_of(("m", {"checks": {"upgrde": "off"}}))
    assert "unknown check id 'upgrde' (did you mean 'upgrade'?)" in message


def test_bad_check_level_is_rejected():
    assert "checks.upgrade" in error_of(("m", {"checks": {"upgrade": "loud"}}))


@pytest.mark.parametrize("check_id", sorted(c for c, spec in BY_ID.items() if not spec.can_disable))
def test_required_checks_cannot_be_turned_off(check_id):
    assert f"{check_id} cannot be turned off" in error_of(("m", {"checks": {check_id: "off"}}))


@pytest.mark.parametrize("check_id", sorted(c for c, spec in BY_ID.items() if not spec.can_disable))
def test_required_checks_can_be_made_warnings(check_id):
    assert parse_config([("m", {"checks": {check_id: "warning"}})]).level(check_id) is Level.WARNING


# --- two sources ----------------------------------------------------------------------------------------------
def test_key_in_two_sources_is_an_error():
    message = error_of(("migbot.toml", {"timeout": 5}), ("pyproject.toml [tool.migbot]", {"timeout": 9}))
    assert message == "timeout is set in both migbot.toml and pyproject.toml [tool.migbot]; keep it in one place."


def test_different_keys_in_two_sources_merge():
    config = parse_config([("a", {"timeout": 5}), ("b", {"python": "python3.12"})])
    assert config.timeout == 5
    assert config.python == "python3.12"


# --- per-project settings ----------------------------------------------------------------------------------------
def test_for_project_without_override_is_top_level():
    config = parse_config([("m", {"python": "py-top", "env": {"A": "1"}, "bootstrap": "make db"})])
    settings = config.for_project("alembic.ini")
    assert isinstance(settings, ProjectSettings)
    assert (settings.python, settings.env, settings.bootstrap) == ("py-top", {"A": "1"}, "make db")


def test_for_project_override_replaces_only_keys_it_sets():
    config = parse_config([("m", {
        "python": "py-top", "bootstrap": "make db", "sys-path": ["src"],
        "projects": [{"alembic-ini": "svc/alembic.ini", "python": "py-svc", "default-env": False}],
    })])
    svc = config.for_project("svc/alembic.ini")
    assert svc.python == "py-svc"
    assert svc.default_env is False
    assert svc.bootstrap == "make db"
    assert svc.sys_path == ["src"]


def test_for_project_override_does_not_leak_to_other_projects():
    config = parse_config([("m", {"python": "py-top", "projects": [{"alembic-ini": "svc/alembic.ini", "python": "x"}]})])
    assert config.for_project("other/alembic.ini").python == "py-top"


def test_projects_entry_needs_alembic_ini():
    assert "projects.0.alembic-ini" in error_of(("m", {"projects": [{"python": "x"}]}))


def test_same_project_twice_is_an_error():
    message = error_of(("m", {"projects": [{"alembic-ini": "a.ini"}, {"alembic-ini": "a.ini", "python": "p"}]}))
    assert "the same alembic-ini appears twice in projects" in message


# --- allow-irreversible ------------------------------------------------------------------------------------------------
def test_allowed_irreversible_finds_entry_by_revision():
    config = parse_config([("m", {"allow-irreversible": [
        {"revision": "aaa", "reason": "drops the legacy table"},
        {"revision": "bbb", "reason": "data migration"},
    ]})])
    entry = config.allowed_irreversible("bbb")
    assert entry is not None and entry.reason == "data migration"
    assert config.allowed_irreversible("ccc") is None


def test_allowed_irreversible_requires_exact_revision():
    config = parse_config([("m", {"allow-irreversible": [{"revision": "abc123", "reason": "r"}]})])
    assert config.allowed_irreversible("abc") is None


# --- project_env -------------------------------------------------------------------------------------------------------------
def test_project_env_defaults():
    assert project_env(ProjectSettings()) == DEFAULT_ENV


def test_project_env_user_entries_win_and_add():
    env = project_env(ProjectSettings(env={"DATABASE_URL": "{async_url}", "APP_ENV": "test"}))
    assert env["DATABASE_URL"] == "{async_url}"
    assert env["APP_ENV"] == "test"
    assert env["PGHOST"] == DEFAULT_ENV["PGHOST"]


def test_project_env_without_defaults_is_only_user_env():
    assert project_env(ProjectSettings.model_validate({"default-env": False, "env": {"X": "{url}"}})) == {"X": "{url}"}


def test_project_env_does_not_mutate_defaults():
    before = dict(DEFAULT_ENV)
    project_env(ProjectSettings(env={"DATABASE_URL": "changed"}))
    assert DEFAULT_ENV == before


def test_project_env_through_for_project_override():
    config = parse_config([("m", {"env": {"A": "1"}, "projects": [{"alembic-ini": "s.ini", "default-env": False}]})])
    assert project_env(config.for_project("s.ini")) == {"A": "1"}
    assert project_env(config.for_project("other.ini"))["A"] == "1"
    assert "PGHOST" in project_env(config.for_project("other.ini"))
