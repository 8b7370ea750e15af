"""Which files a run copies out of git (plan/export_paths.py), and files git cannot read.

The unit tests build the trees the way a run does (RunContext.check_out) and look at
which files are in them; the end-to-end tests run `migbot verify` on repositories with
a missing object, as a partial clone whose remote is gone has.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES, Repo, make_repo
from test_verify_passes import add_orders

from migbot.config import MigbotConfig, parse_config
from migbot.discover.git import GitRepo
from migbot.discover.projects import find_projects
from migbot.errors import UsageError
from migbot.plan.changes import Refs, build_plans
from migbot.plan.export_paths import _imports
from migbot.progress import Progress
from migbot.redact import Redactor
from migbot.run.context import RunContext


def service_in(root: Path, folder: str) -> Repo:
    """The fixture service in `folder` of a new repository, committed on main, on branch feature."""
    shutil.copytree(FIXTURES / "service", root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    repo = Repo(root)
    repo.write("pyproject.toml", '[project]\nname = "shop"\nversion = "1"\n')
    repo.write("frontend/src/app.js", "console.log('big');\n")
    repo.write("frontend/assets/logo.bin", "not needed\n")
    repo.write("docs/index.md", "# docs\n")
    repo.git("init", "-q", "-b", "main")
    repo.commit("base")
    repo.branch("feature")
    return repo


def exported(repo: Repo, tmp_path: Path, config: MigbotConfig | None = None) -> tuple[Path, list[str]]:
    """The head's tree as a run exports it, and the run's notes on it."""
    git = GitRepo(repo.path)
    head, base = git.resolve("HEAD", what="head"), git.resolve("main", what="base")
    refs = Refs(base_ref="main", base=base, merge_base=git.merge_base(base, head), head_ref="feature", head=head)
    blobs = git.tree_blobs(head)
    found = find_projects(sorted(blobs), lambda paths: git.read_files(head, paths))
    plans = build_plans(git, refs, config or MigbotConfig(), blobs, found)
    workdir = tmp_path / "work"
    workdir.mkdir(parents=True)
    ctx = RunContext(git, timeout=60, progress=Progress(), workdir=workdir, redact=Redactor([]), project_environ={})
    notes = ctx.check_out(plans)
    return ctx.tree(head), notes


def files_in(tree: Path) -> set[str]:
    return {str(path.relative_to(tree)) for path in tree.rglob("*") if path.is_file() or path.is_symlink()}


def test_a_project_in_a_folder_gets_its_folder_and_the_root_files_not_the_rest(tmp_path) -> None:
    repo = service_in(tmp_path / "shop", "backend")
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer()))',
                  'op.drop_column("users", "age")', versions="backend/alembic/versions")
    repo.commit()
    tree, notes = exported(repo, tmp_path)
    assert files_in(tree) == {"pyproject.toml"} | {
        f"backend/{path}" for path in files_in(repo.path / "backend") if "__pycache__" not in path}
    assert "backend/alembic/versions/0003.py" in files_in(tree)
    assert notes == []


def test_a_project_at_the_root_gets_the_whole_repository(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    repo.write("frontend/src/app.js", "console.log('big');\n")
    repo.commit("frontend")
    repo.branch("feature")
    tree, _notes = exported(repo, tmp_path)
    assert {"frontend/src/app.js", "alembic/env.py", "app/models/user.py"} <= files_in(tree)


def test_modules_env_py_imports_from_outside_its_folder_come_with_their_package(tmp_path) -> None:
    """A monorepo service whose models import a shared package at the repository root (a
    namespace package: no __init__.py), itself importing another; other services stay out."""
    repo = service_in(tmp_path / "mono", "services/billing")
    repo.write("libs/db/types.py", "from libs.db.naming import CONVENTION\nMONEY = 'numeric'\n")
    repo.write("libs/db/naming.py", "CONVENTION = {}\n")
    repo.write("libs/db/fixtures/rates.csv", "eur,1\n")
    repo.write("libs/unrelated/big.py", "X = 1\n")
    repo.write("services/web/main.py", "print('web')\n")
    repo.replace("services/billing/app/models/base.py", "from sqlalchemy", "from libs.db import types  # noqa\nfrom sqlalchemy")
    repo.commit("shared types")
    tree, _notes = exported(repo, tmp_path)
    files = files_in(tree)
    assert {"libs/db/types.py", "libs/db/naming.py", "libs/db/fixtures/rates.csv"} <= files
    assert "libs/unrelated/big.py" not in files
    assert not any(path.startswith(("services/web/", "frontend/", "docs/")) for path in files)


def test_the_export_key_adds_a_path(tmp_path) -> None:
    repo = service_in(tmp_path / "shop", "backend")
    repo.write("config/database.yaml", "pool: 5\n")
    repo.commit("config read by env.py at run time")
    tree, notes = exported(repo, tmp_path)
    assert "config/database.yaml" not in files_in(tree)
    config = parse_config([("migbot.toml", {"export": ["config", "no/such/folder"]})])
    tree, notes = exported(repo, tmp_path / "again", config)
    assert "config/database.yaml" in files_in(tree)
    assert notes == ["`export` names no/such/folder, which is in none of the commits migbot ran."]


def test_a_symlink_into_the_project_brings_its_target(tmp_path) -> None:
    repo = service_in(tmp_path / "shop", "backend")
    repo.write("shared/settings.toml", "debug = false\n")
    (repo.path / "backend/settings.toml").symlink_to("../shared/settings.toml")
    repo.commit("a symlinked settings file")
    tree, _notes = exported(repo, tmp_path)
    assert (tree / "backend/settings.toml").read_text() == "debug = false\n"


def test_imports_are_read_from_source_including_relative_and_parenthesised_ones() -> None:
    source = (
        "import os, app.core.config as config\n"
        "from . import sibling\n"
        "from ..models import (\n    user,\n    order as orders,\n)\n"
        "if True:\n    from app.db import session  # inside a block\n"
        "plugin = importlib.import_module('app.plugins.audit')\n"
    )
    found = set(_imports(source))
    assert {(0, "os"), (0, "app.core.config"), (1, ""), (1, "sibling"), (2, "models"), (2, "models.user"),
            (2, "models.order"), (0, "app.db"), (0, "app.db.session"), (0, "app.plugins.audit")} <= found


# --- files git cannot read -------------------------------------------------------------------
def drop_object(repo: Repo, path: str, commit: str = "main") -> None:
    """Delete the object of `path` at `commit` (a loose object: nothing was packed)."""
    sha = repo.git("rev-parse", f"{commit}:{path}")
    (repo.path / ".git" / "objects" / sha[:2] / sha[2:]).unlink()


def test_a_missing_object_outside_what_the_project_needs_is_left_out_with_a_note(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    repo.write("assets/logo.bin", "a blob a partial clone never fetched\n")
    repo.commit("assets")
    repo.branch("feature")
    add_orders(repo)
    drop_object(repo, "assets/logo.bin")
    result = repo.verify()
    assert result.exit_code == 0, (result.stderr, result.failed())
    [note] = [n for n in result.report["notes"] if "assets/logo.bin" in n]
    assert note.startswith("migbot left out 1 file of commits ")  # the merge-base's and the head's
    assert "assets/logo.bin (object missing)" in note


def test_a_missing_object_of_a_module_env_py_imports_is_an_error_naming_it(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    repo.branch("feature")
    add_orders(repo)
    drop_object(repo, "app/core/config.py")
    result = repo.verify(timeout=120)
    assert result.exit_code == 2, result.stderr
    assert "git cannot read 1 file of commit" in result.stderr
    assert "app/core/config.py (object missing)" in result.stderr


@pytest.fixture
def partial_clone(tmp_path) -> tuple[GitRepo, str]:
    """A clone made with --filter=blob:none whose remote is gone: it holds only the blobs of
    the files it checked out (the project's), not assets/big.bin."""
    origin = make_repo(tmp_path / "origin")
    origin.write("assets/big.bin", "x" * 5000)
    origin.commit("assets")
    origin.git("config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--filter=blob:none", "--no-checkout", f"file://{origin.path}", str(clone)],
                   check=True)
    subprocess.run(["git", "checkout", "-q", "HEAD", "--", "alembic", "app", "alembic.ini"], cwd=clone, check=True)
    shutil.rmtree(origin.path)
    git = GitRepo(clone)
    return git, git.resolve("HEAD", what="head")


def test_a_partial_clone_leaves_out_a_blob_its_remote_cannot_send(partial_clone, tmp_path) -> None:
    git, head = partial_clone
    left_out = git.export_tree(head, tmp_path / "tree", required=lambda path: path != "assets/big.bin")
    assert [u.path for u in left_out] == ["assets/big.bin"]
    assert "could not fetch" in left_out[0].reason
    assert (tmp_path / "tree/alembic/env.py").is_file() and (tmp_path / "tree/alembic.ini").is_file()


def test_a_partial_clone_fails_naming_a_needed_blob_its_remote_cannot_send(partial_clone, tmp_path) -> None:
    git, head = partial_clone
    with pytest.raises(UsageError) as error:
        git.export_tree(head, tmp_path / "tree")
    assert "assets/big.bin (fatal: could not fetch" in error.value.message
    assert "partial clone" in error.value.hint


def test_file_modes_and_symlinks_are_kept(tmp_path) -> None:
    repo = make_repo(tmp_path / "svc")
    script = repo.write("scripts/migrate.sh", "#!/bin/sh\nalembic upgrade head\n")
    script.chmod(0o755)
    (repo.path / "scripts/latest.sh").symlink_to("migrate.sh")
    repo.commit("scripts")
    tree = tmp_path / "tree"
    GitRepo(repo.path).export_tree(repo.git("rev-parse", "HEAD"), tree)
    assert (tree / "scripts/migrate.sh").stat().st_mode & 0o100
    assert not (tree / "alembic.ini").stat().st_mode & 0o100
    assert (tree / "scripts/latest.sh").is_symlink() and str((tree / "scripts/latest.sh").readlink()) == "migrate.sh"
