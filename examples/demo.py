"""Build a demo repository from examples/demo and run `migbot verify` on its PR branch.

    python examples/demo.py                 # a clean PR: orders table, enum, index, model
    python examples/demo.py --broken        # the same PR with a leftover enum, a `pass`
                                            # downgrade and a model change without a migration
    python examples/demo.py --keep DIR      # build the repository in DIR and keep it

main holds revisions 0001 and 0002; the branch `feature/orders` adds the rest.
migbot starts its own throwaway PostgreSQL; nothing needs to exist beforehand.
Any extra arguments are passed to `migbot verify` (for example --format markdown).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent / "demo"
GIT_ENV = {"GIT_AUTHOR_NAME": "Demo", "GIT_AUTHOR_EMAIL": "demo@example.com",
           "GIT_COMMITTER_NAME": "Demo", "GIT_COMMITTER_EMAIL": "demo@example.com"}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, env={**os.environ, **GIT_ENV}, stdout=subprocess.DEVNULL)


def build(target: Path, broken: bool) -> None:
    shutil.copytree(HERE / "project", target, ignore=shutil.ignore_patterns("__pycache__"))
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "users: create table, add full_name")
    git(target, "checkout", "-q", "-b", "feature/orders")
    pr = HERE / "pr"
    versions = target / "alembic" / "versions"
    shutil.copy(pr / "0003_create_orders.py", versions)
    shutil.copy(pr / "order.py", target / "app" / "models" / "order.py")
    edit(target / "app" / "models" / "__init__.py", "from app.models.user import User",
         "from app.models.order import Order, OrderStatus\nfrom app.models.user import User")
    if broken:
        # The downgrade forgets the enum type, a new revision has an empty downgrade,
        # and a model gains a column that no migration adds.
        edit(versions / "0003_create_orders.py", "    order_status.drop(op.get_bind())\n", "")
        shutil.copy(pr / "broken_0004_add_user_age.py", versions / "0004_add_user_age.py")
        edit(target / "app" / "models" / "user.py", "    full_name:",
             "    phone: Mapped[str | None] = mapped_column(String(30))\n    full_name:")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "orders: table, status enum, index")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broken", action="store_true", help="verify the broken variant of the PR")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="build the repository in DIR and keep it")
    args, migbot_args = parser.parse_known_args()
    target = args.keep or Path(tempfile.mkdtemp(prefix="migbot-demo-")) / "shop-service"
    if target.exists() and any(target.iterdir()):
        parser.error(f"{target} exists and is not empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.rmdir()
    build(target, args.broken)
    kept = "kept" if args.keep else "deleted when the demo ends; `--keep DIR` keeps one"
    print(f"Demo repository: {target} (branch feature/orders, base main; {kept})\n", file=sys.stderr, flush=True)
    migbot = [sys.executable, "-m", "migbot", "verify", "--repo", str(target), "--base", "main", *migbot_args]
    try:
        return subprocess.run(migbot).returncode
    finally:
        if args.keep is None:
            shutil.rmtree(target.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
