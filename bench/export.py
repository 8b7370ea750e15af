"""Time exporting the trees a run checks out: the whole tree (as before issue 11) against
the paths the Alembic project needs.

    .venv/bin/python bench/export.py                 # 5 interleaved runs of each variant
    .venv/bin/python bench/export.py --repeats 9 --keep /tmp/export-bench

It builds a repository (deterministic contents) whose Alembic project lives in
`backend/` (about 6 MB: alembic.ini, env.py, 200 revisions, an `app` package of
models and services, some static files) beside about 50 MB the project never
reads (`frontend/` assets and bundles, `docs/`). `main` holds it all; `feature`
adds one revision, so a run exports two trees, the merge-base's and the head's,
concurrently, as `RunContext.check_out` does. Each variant runs once per round,
the rounds interleave the variants, and the table gives the median of the rounds:

- whole tree, `git read-tree` + `git checkout-index --all` (the old export);
- whole tree, migbot's writer (what a project whose alembic.ini is at the
  repository root still exports);
- the project's paths (choosing them included): what a run exports now.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from migbot.config import MigbotConfig
from migbot.discover.git import SAFE_GIT, GitRepo
from migbot.discover.projects import find_projects
from migbot.plan.changes import Refs, build_plans
from migbot.plan.export_paths import export_selections

GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
           "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z"}

ALEMBIC_INI = "[alembic]\nscript_location = alembic\nprepend_sys_path = .\n"
ENV_PY = '''from alembic import context
from sqlalchemy import engine_from_config, pool

from app.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connectable = engine_from_config(context.config.get_section(context.config.config_ini_section),
                                     prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
'''


def revision(number: int) -> str:
    down = repr(f"{number - 1:04d}") if number > 1 else "None"
    return (f'"""step {number}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\nrevision = "{number:04d}"\n'
            f"down_revision = {down}\n\n\ndef upgrade() -> None:\n"
            f'    op.create_table("t{number}", sa.Column("id", sa.Integer, primary_key=True))\n\n\n'
            f'def downgrade() -> None:\n    op.drop_table("t{number}")\n')


def python_module(rng: random.Random, index: int, size: int) -> str:
    lines = [f"from app.models.base import Base  # module {index}", ""]
    while sum(len(line) + 1 for line in lines) < size:
        lines.append(f"VALUE_{len(lines)} = {rng.randrange(10**12)!r}  # {rng.randbytes(24).hex()}")
    return "\n".join(lines) + "\n"


def write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def build(path: Path) -> dict[str, int]:
    """The repository; returns the bytes written to each top-level folder."""
    rng = random.Random(11)
    backend = path / "backend"
    write(backend / "alembic.ini", ALEMBIC_INI)
    write(backend / "alembic" / "env.py", ENV_PY)
    write(backend / "alembic" / "script.py.mako", "${upgrades}\n")
    for number in range(1, 201):
        write(backend / "alembic" / "versions" / f"{number:04d}.py", revision(number))
    write(backend / "app" / "__init__.py", "")
    write(backend / "app" / "models" / "base.py", "from sqlalchemy.orm import DeclarativeBase\n\n\n"
                                                  "class Base(DeclarativeBase):\n    pass\n")
    modules = [f"m{index:03d}" for index in range(300)]
    write(backend / "app" / "models" / "__init__.py",
          "from app.models.base import Base\n" + "".join(f"from app.models import {name}\n" for name in modules))
    for index, name in enumerate(modules):
        write(backend / "app" / "models" / f"{name}.py", python_module(rng, index, 6_000))
    for index in range(120):
        write(backend / "app" / "services" / f"s{index:03d}.py", python_module(rng, index, 6_000))
    for index in range(16):
        write(backend / "app" / "static" / f"image{index:02d}.png", rng.randbytes(200_000))
    write(path / "pyproject.toml", '[project]\nname = "bench"\nversion = "0"\n')
    write(path / "README.md", "bench\n")
    for index in range(1_500):  # bundles and assets: about 48 MB
        write(path / "frontend" / "src" / f"component{index:04d}.js", rng.randbytes(8_000).hex())
        write(path / "frontend" / "assets" / f"asset{index:04d}.bin", rng.randbytes(16_000))
    for index in range(100):
        write(path / "docs" / f"page{index:03d}.md", rng.randbytes(10_000).hex())
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "main")
    git(path, "checkout", "-q", "-b", "feature")
    write(backend / "alembic" / "versions" / "0201.py", revision(201))
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "one more revision")
    git(path, "gc", "-q")  # packed, as a clone is
    return {folder.name: sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            for folder in path.iterdir() if folder.is_dir() and folder.name != ".git"}


def git(path: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=path, env={**os.environ, **GIT_ENV}, capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


def old_export(repo: GitRepo, commit: str, dest: Path) -> None:
    """The export before issue 11: the whole tree through a private index."""
    env = {**os.environ, "GIT_INDEX_FILE": str(dest.parent / f"index-{dest.name}")}
    for args in (["read-tree", commit], ["checkout-index", "--all", "--force", f"--prefix={dest}/"]):
        subprocess.run([*SAFE_GIT, *args], cwd=repo.root, env=env, capture_output=True, check=True)
    os.unlink(env["GIT_INDEX_FILE"])


def both(commits: list[str], export) -> None:
    with ThreadPoolExecutor(max_workers=len(commits)) as pool:
        list(pool.map(export, commits))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the repository here and keep it")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="migbot-bench-export-"))
    path = args.keep or scratch / "repo"
    if path.exists():
        shutil.rmtree(path)
    sizes = build(path)
    repo = GitRepo(path)
    head, base = repo.resolve("feature", what="head"), repo.resolve("main", what="base")
    refs = Refs(base_ref="main", base=base, merge_base=repo.merge_base(base, head), head_ref="feature", head=head)
    head_blobs = repo.tree_blobs(head)
    found = find_projects(sorted(head_blobs), lambda paths: repo.read_files(head, paths))
    plans = build_plans(repo, refs, MigbotConfig(), head_blobs, found)
    commits = [refs.merge_base, head]

    def selected(out: Path) -> None:
        selections = export_selections(repo, plans)
        both(commits, lambda c: repo.export_tree(c, out / c, wanted=selections[c].wanted,
                                                 required=selections[c].is_needed))

    variants = {
        "whole tree, `read-tree` + `checkout-index --all` (before)": lambda out: both(
            commits, lambda c: old_export(repo, c, out / c)),
        "whole tree, migbot's writer": lambda out: both(commits, lambda c: repo.export_tree(c, out / c)),
        "the project's paths (now)": selected,
    }
    timings: dict[str, list[float]] = {name: [] for name in variants}
    written: dict[str, tuple[int, int]] = {}
    for _round in range(args.repeats):
        for name, run in variants.items():
            out = scratch / "out"
            out.mkdir()
            started = time.perf_counter()
            run(out)
            timings[name].append(time.perf_counter() - started)
            files = [f for f in out.rglob("*") if f.is_file() or f.is_symlink()]
            written[name] = (len(files), sum(f.lstat().st_size for f in files))
            shutil.rmtree(out)
    print(f"Repository: {', '.join(f'`{k}/` {v / 1e6:.1f} MB' for k, v in sorted(sizes.items()))}; "
          f"two trees exported (merge-base and head), medians of {args.repeats} interleaved runs.\n")
    print("| export | files written | MB written | median | min – max |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, values in timings.items():
        files, size = written[name]
        print(f"| {name} | {files} | {size / 1e6:.1f} | {statistics.median(values):.3f} s | "
              f"{min(values):.3f} – {max(values):.3f} s |")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
