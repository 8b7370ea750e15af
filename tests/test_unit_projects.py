"""Unit tests for migbot.discover.projects: finding alembic.ini files and resolving locations."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from migbot.discover.git import GitRepo
from migbot.discover.projects import (
    AlembicProject,
    _resolve_location,
    _split_paths,
    find_projects,
    load_project,
)
from migbot.errors import UsageError

# --- find_projects ----------------------------------------------------------------------
ALEMBIC_INI = b"[alembic]\nscript_location = alembic\n"


def find_ini_files(files, contents=None):
    """The inis find_projects verifies, every .ini holding an [alembic] section unless told otherwise."""
    return find_projects(files, lambda paths: {p: (contents or {}).get(p, ALEMBIC_INI) for p in paths}).inis


def test_find_ini_files_root_ini():
    assert find_ini_files(["alembic.ini", "app/models.py"]) == ["alembic.ini"]


@pytest.mark.parametrize("skipped", [
    "tests/alembic.ini", "test/alembic.ini", "examples/alembic.ini", "example/alembic.ini", "docs/alembic.ini",
    ".venv/lib/pkg/alembic.ini", "venv/alembic.ini", "node_modules/x/alembic.ini", "build/alembic.ini",
    "dist/alembic.ini", ".tox/py/alembic.ini", "svc/tests/fixtures/alembic.ini", "a/site-packages/b/alembic.ini",
])
def test_find_ini_files_skips_non_project_dirs_and_says_why(skipped):
    found = find_projects([skipped], lambda paths: {p: ALEMBIC_INI for p in paths})
    assert found.inis == []
    [(path, why)] = found.skipped
    assert path == skipped and "which migbot does not search" in why


def test_every_ini_with_an_alembic_section_is_a_project():
    contents = {"setup.ini": b"[metadata]\nname = x\n", "alembic.ini.bak": b"[other]\n"}
    assert find_ini_files(["alembic.ini", "alembic_audit.ini", "setup.ini", "alembic.ini.bak", "docs/readme.md"],
                          contents) == ["alembic.ini", "alembic_audit.ini"]


def test_an_ini_without_an_alembic_section_is_not_a_project():
    assert find_ini_files(["tox.ini", "pytest.ini"], {"tox.ini": b"[tox]\n", "pytest.ini": b"[pytest]\n"}) == []


def test_find_ini_files_sorted_shallowest_first_then_by_path():
    files = ["services/b/alembic.ini", "z/alembic.ini", "alembic.ini", "a/b/c/alembic.ini", "services/a/alembic.ini"]
    assert find_ini_files(files) == [
        "alembic.ini", "z/alembic.ini", "services/a/alembic.ini", "services/b/alembic.ini", "a/b/c/alembic.ini",
    ]


def test_find_ini_files_skip_applies_to_directories_not_file_name_prefixes():
    assert find_ini_files(["testsuite/alembic.ini", "my-examples/alembic.ini"]) == [
        "my-examples/alembic.ini", "testsuite/alembic.ini",
    ]


# --- _resolve_location -------------------------------------------------------------------------
def test_resolve_plain_relative_at_root():
    assert _resolve_location("alembic", "", ["", "src"], []) == "alembic"


def test_resolve_plain_relative_in_subdir():
    assert _resolve_location("migrations", "services/api", ["services/api", "", "src"], []) == "services/api/migrations"


def test_resolve_here_prefix_at_root():
    assert _resolve_location("%(here)s/alembic", "", ["", "src"], []) == "alembic"


def test_resolve_here_prefix_in_subdir():
    assert _resolve_location("%(here)s/alembic", "svc", ["svc", "", "src"], []) == "svc/alembic"


def test_resolve_bare_here_is_ini_dir():
    assert _resolve_location("%(here)s", "svc/db", ["svc/db", "", "src"], []) == "svc/db"


def test_resolve_bare_here_at_root_is_repo_root():
    assert _resolve_location("%(here)s", "", ["", "src"], []) == ""


def test_resolve_strips_whitespace_and_dot_segments():
    assert _resolve_location("  ./alembic/./versions/  ", "svc", ["svc"], []) == "svc/alembic/versions"


def test_resolve_parent_segments_are_normalised():
    assert _resolve_location("../shared/migrations", "apps/api", ["apps/api"], []) == "apps/shared/migrations"


def test_resolve_here_with_parent_segments():
    assert _resolve_location("%(here)s/../shared", "apps/api", ["apps/api"], []) == "apps/shared"


def test_resolve_package_found_under_src():
    files = ["src/myapp/__init__.py", "src/myapp/migrations/env.py"]
    assert _resolve_location("myapp:migrations", "", ["", "", "src"], files) == "src/myapp/migrations"


def test_resolve_package_found_at_root():
    files = ["myapp/__init__.py", "src/other.py"]
    assert _resolve_location("myapp:migrations", "", ["", "", "src"], files) == "myapp/migrations"


def test_resolve_dotted_package_first_root_wins():
    files = ["svc/my/app/__init__.py", "my/app/__init__.py"]
    assert _resolve_location("my.app:db/migrations", "svc", ["svc", "", "src"], files) == "svc/my/app/db/migrations"


def test_resolve_package_resource_with_several_colons_as_alembic_reads_it():
    # Alembic: `app:db:migrations` is package `app`, resource db/migrations.
    files = ["app/__init__.py", "app/db/migrations/env.py"]
    assert _resolve_location("app:db:migrations", "", ["", "src"], files) == "app/db/migrations"


def test_resolve_package_prefix_must_be_a_directory():
    # "myapp_extra/..." must not count as package "myapp".
    files = ["myapp_extra/__init__.py", "src/myapp/__init__.py"]
    assert _resolve_location("myapp:migrations", "", ["", "src"], files) == "src/myapp/migrations"


def test_resolve_unknown_package_falls_back_to_ini_dir():
    assert _resolve_location("ghost:migrations", "svc", ["svc", "", "src"], []) == "svc/ghost/migrations"


def test_resolve_absolute_path_is_usage_error():
    with pytest.raises(UsageError) as info:
        _resolve_location("/srv/app/migrations", "", [""], [])
    assert "absolute path /srv/app/migrations" in info.value.message
    assert "%(here)s" in info.value.message


# --- _split_paths --------------------------------------------------------------------------------
VALUE = "a b,c:d;e\nf"


@pytest.mark.parametrize("separator, expected", [
    ("space", ["a", "b,c:d;e", "f"]),
    ("newline", ["a b,c:d;e", "f"]),
    ("colon", ["a b,c", "d;e\nf"]),
    ("semicolon", ["a b,c:d", "e\nf"]),
    ("os", ["a b,c", "d;e\nf"] if os.pathsep == ":" else ["a b,c:d", "e\nf"]),
    (None, ["a", "b", "c:d;e", "f"]),
])
def test_split_paths_by_separator(separator, expected):
    assert _split_paths(VALUE, separator) == expected


def test_split_paths_default_handles_comma_and_spaces():
    assert _split_paths("alembic/versions, extra/versions ,  more", None) == [
        "alembic/versions", "extra/versions", "more",
    ]


def test_split_paths_drops_empty_entries():
    assert _split_paths(";a;;b;", "semicolon") == ["a", "b"]
    assert _split_paths("\n a \n\n b \n", "newline") == ["a", "b"]


# --- AlembicProject ----------------------------------------------------------------------------------
def project(version_dirs: list[str], recursive: bool = False, ini: str = "svc/alembic.ini") -> AlembicProject:
    return AlembicProject(ini_path=ini, script_location="svc/alembic", version_dirs=version_dirs, recursive=recursive)


def test_owns_revision_file_in_version_dir():
    assert project(["svc/alembic/versions"]).owns("svc/alembic/versions/0001_init.py")


def test_owns_rejects_non_python_files():
    assert not project(["svc/alembic/versions"]).owns("svc/alembic/versions/README")


def test_owns_rejects_subdirectory_when_not_recursive():
    assert not project(["svc/alembic/versions"]).owns("svc/alembic/versions/2024/0001.py")


def test_owns_accepts_subdirectory_when_recursive():
    assert project(["svc/alembic/versions"], recursive=True).owns("svc/alembic/versions/2024/q1/0001.py")


def test_owns_recursive_does_not_match_sibling_with_same_prefix():
    assert not project(["svc/alembic/versions"], recursive=True).owns("svc/alembic/versions_old/0001.py")


def test_owns_any_of_several_version_dirs():
    p = project(["svc/alembic/versions", "plugins/billing/versions"])
    assert p.owns("plugins/billing/versions/b1.py")
    assert not p.owns("plugins/other/versions/b1.py")


def test_owns_files_at_repo_root_when_version_dir_is_root():
    # version_locations = %(here)s with alembic.ini at the repo root resolves to "".
    assert project([""], ini="alembic.ini").owns("0001_init.py")


def test_project_directory_name_and_env_py():
    root = AlembicProject(ini_path="alembic.ini", script_location="alembic", version_dirs=["alembic/versions"])
    nested = project(["svc/alembic/versions"])
    assert (root.directory, root.name, root.env_py) == ("", ".", "alembic/env.py")
    assert (nested.directory, nested.name, nested.env_py) == ("svc", "svc", "svc/alembic/env.py")


# --- load_project on a real temporary git repository -------------------------------------------------
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def committed(tmp_path: Path, files: dict[str, str]) -> tuple[GitRepo, str, list[str]]:
    root = tmp_path / "repo"
    root.mkdir()
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"))
    env = {**os.environ, **GIT_ENV, "HOME": str(tmp_path)}

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "init")
    sha = git("rev-parse", "HEAD").strip()
    repo = GitRepo(root)
    return repo, sha, sorted(repo.tree_blobs(sha))


def load(tmp_path: Path, files: dict[str, str], ini: str = "alembic.ini", extra_roots: list[str] | None = None):
    repo, sha, listed = committed(tmp_path, files)
    return load_project(repo, sha, ini, listed, extra_roots or [])


def test_load_simple_root_project(tmp_path):
    p = load(tmp_path, {"alembic.ini": """
        [alembic]
        script_location = alembic
        sqlalchemy.url = postgresql://u:p@localhost/db
    """, "alembic/env.py": ""})
    assert p.script_location == "alembic"
    assert p.version_dirs == ["alembic/versions"]
    assert p.recursive is False
    assert p.toml_file is None
    assert p.ini_url_driver is None


def test_load_asyncpg_url_sets_driver(tmp_path):
    p = load(tmp_path, {"alembic.ini": """
        [alembic]
        script_location = %(here)s/alembic
        sqlalchemy.url = postgresql+asyncpg://user:pass@localhost/app
    """})
    assert p.ini_url_driver == "asyncpg"
    assert p.script_location == "alembic"


def test_load_unknown_driver_is_ignored(tmp_path):
    p = load(tmp_path, {"alembic.ini": """
        [alembic]
        script_location = alembic
        sqlalchemy.url = mysql+pymysql://u@h/db
    """})
    assert p.ini_url_driver is None


def test_load_script_location_only_in_pyproject(tmp_path):
    p = load(tmp_path, {
        "alembic.ini": """
            [loggers]
            keys = root
        """,
        "pyproject.toml": """
            [project]
            name = "app"

            [tool.alembic]
            script_location = "%(here)s/migrations"
            version_locations = ["%(here)s/migrations/versions", "%(here)s/plugins/versions"]
        """,
    })
    assert p.script_location == "migrations"
    assert p.toml_file == "pyproject.toml"
    assert p.version_dirs == ["migrations/versions", "plugins/versions"]


def test_load_ini_wins_over_pyproject_for_script_location(tmp_path):
    p = load(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = from_ini\n",
        "pyproject.toml": '[tool.alembic]\nscript_location = "from_toml"\n',
    })
    assert p.script_location == "from_ini"
    assert p.toml_file == "pyproject.toml"


def test_load_pyproject_without_tool_alembic_is_not_recorded(tmp_path):
    p = load(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = alembic\n",
        "pyproject.toml": '[project]\nname = "x"\n',
    })
    assert p.toml_file is None


def test_load_ini_in_subdirectory_with_version_locations(tmp_path):
    p = load(tmp_path, {
        "services/api/alembic.ini": """
            [alembic]
            script_location = %(here)s/alembic
            version_locations = %(here)s/alembic/versions;%(here)s/../shared/versions
            path_separator = semicolon
            recursive_version_locations = true
        """,
    }, ini="services/api/alembic.ini")
    assert p.script_location == "services/api/alembic"
    assert p.version_dirs == ["services/api/alembic/versions", "services/shared/versions"]
    assert p.recursive is True
    assert p.directory == "services/api"


def test_load_legacy_version_path_separator(tmp_path):
    p = load(tmp_path, {"alembic.ini": """
        [alembic]
        script_location = alembic
        version_locations = alembic/versions:extra/versions
        version_path_separator = os
    """})
    assert p.version_dirs == ["alembic/versions", "extra/versions"]


def test_load_package_script_location_under_src(tmp_path):
    p = load(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = myapp:migrations\n",
        "src/myapp/__init__.py": "",
        "src/myapp/migrations/env.py": "",
    })
    assert p.script_location == "src/myapp/migrations"
    assert p.version_dirs == ["src/myapp/migrations/versions"]


def test_load_package_script_location_under_extra_root(tmp_path):
    p = load(tmp_path, {
        "alembic.ini": "[alembic]\nscript_location = myapp:migrations\n",
        "backend/myapp/__init__.py": "",
    }, extra_roots=["backend"])
    assert p.script_location == "backend/myapp/migrations"


def test_load_missing_script_location_is_usage_error(tmp_path):
    with pytest.raises(UsageError) as info:
        load(tmp_path, {"alembic.ini": "[alembic]\nsqlalchemy.url = postgresql://x/y\n"})
    assert "no script_location" in info.value.message
    assert "pyproject.toml" in info.value.message


def test_load_missing_ini_is_usage_error(tmp_path):
    with pytest.raises(UsageError) as info:
        load(tmp_path, {"README.md": "hi\n"}, ini="db/alembic.ini")
    assert "db/alembic.ini does not exist" in info.value.message


def test_load_invalid_ini_is_usage_error(tmp_path):
    with pytest.raises(UsageError) as info:
        load(tmp_path, {"alembic.ini": "script_location = no section header\n"})
    assert "not a valid ini file" in info.value.message


def test_load_absolute_script_location_is_usage_error(tmp_path):
    with pytest.raises(UsageError):
        load(tmp_path, {"alembic.ini": "[alembic]\nscript_location = /opt/app/alembic\n"})


def test_init_files_and_editor_locks_are_not_revisions():
    p = project(version_dirs=["alembic/versions"])
    assert p.owns("alembic/versions/0001_init.py")
    assert not p.owns("alembic/versions/__init__.py")
    assert not p.owns("alembic/versions/.#0001_init.py")


def test_reading_a_missing_file_whose_path_has_spaces(tmp_path):
    repo, sha, _files = committed(tmp_path, {"Billing Service/alembic.ini": "[alembic]\nscript_location = a\n"})
    assert repo.read_files(sha, ["Billing Service/pyproject.toml", "Billing Service/alembic.ini"]) == {
        "Billing Service/alembic.ini": b"[alembic]\nscript_location = a\n"}
