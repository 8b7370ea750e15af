"""Squash a generated project's history into a few revisions with the same schema and rows, so
that a long history can be compared with a short one of the same size (bench/history.py).

Each squashed revision runs, in order, the upgrade bodies of the revisions it replaces (each in
a nested function of its own) and their downgrade bodies in reverse. main gets one commit that
replaces the revision files; feature is the original feature commit on top of it, its new
revision now revising the last squashed one.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import textwrap
from pathlib import Path

HEADER = '''"""squashed history, part {part} of {parts}

Revision ID: {revision}
Revises: {down}
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision: str = {revision!r}
down_revision: Union[str, None] = {down_value}
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

'''
KNOWN_TOP_LEVEL = {"revision", "down_revision", "branch_labels", "depends_on", "upgrade", "downgrade"}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def _parts(path: Path) -> tuple[str, str | None, str, str]:
    """(revision, down_revision, upgrade body, downgrade body) of a generated revision file."""
    source = path.read_text()
    tree = ast.parse(source)
    values, bodies = {}, {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Expr)):
            continue
        if isinstance(node, ast.FunctionDef) and node.name in ("upgrade", "downgrade"):
            first, last = node.body[0], node.body[-1]
            lines = source.splitlines()[first.lineno - 1:last.end_lineno]
            bodies[node.name] = textwrap.dedent("\n".join(lines))
            continue
        target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
        if target.id not in KNOWN_TOP_LEVEL:
            raise ValueError(f"{path.name}: top-level {target.id} is not squashable")
        values[target.id] = ast.literal_eval(node.value)
    return values["revision"], values["down_revision"], bodies["upgrade"], bodies["downgrade"]


def _function(name: str, steps: list[tuple[str, str]]) -> str:
    out = [f"def {name}() -> None:"]
    for label, body in steps:
        out.append(f"    def step_{label}():")
        out.append(textwrap.indent(body, " " * 8))
        out.append(f"    step_{label}()")
    return "\n".join(out) + "\n"


def squash_project(source: Path, target: Path, parts: int, versions: str = "alembic/versions") -> None:
    """Clone `source` (a bench/make_project.py repository) to `target` with main's history squashed."""
    subprocess.run(["git", "clone", "-q", str(source), str(target)], check=True)
    _git(target, "checkout", "-q", "main")
    _git(target, "branch", "-f", "feature", "origin/feature")
    folder = target / versions
    files = {}
    for path in folder.glob("*.py"):
        rev, down, up, dn = _parts(path)
        files[down] = (rev, up, dn)
    chain, down = [], None
    while down in files:
        rev, up, dn = files[down]
        chain.append((rev, up, dn))
        down = rev
    if len(chain) != len(files):
        raise ValueError("the history is not one line of revisions")
    old_head = chain[-1][0]
    shutil.rmtree(folder)
    folder.mkdir()
    size = -(-len(chain) // parts)
    down_id = None
    for part in range(parts):
        group = chain[part * size:(part + 1) * size]
        if not group:
            break
        revision = f"squash{part + 1:04d}"
        text = HEADER.format(part=part + 1, parts=parts, revision=revision, down=down_id or "",
                             down_value=repr(down_id))
        text += "\n" + _function("upgrade", [(rev, up) for rev, up, _ in group])
        text += "\n\n" + _function("downgrade", [(rev, dn) for rev, _, dn in reversed(group)])
        (folder / f"{revision}_squashed.py").write_text(text)
        down_id = revision
    _git(target, "add", "-A")
    _git(target, "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-q",
         "-m", f"squash {len(chain)} revisions into {parts}")
    feature_commit = _git(target, "rev-parse", "feature")
    _git(target, "checkout", "-q", "-B", "feature", "main")
    _git(target, "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "cherry-pick", feature_commit)
    for path in folder.glob("*.py"):
        text = path.read_text()
        if repr(old_head) in text:
            path.write_text(text.replace(repr(old_head), repr(down_id)).replace(f"Revises: {old_head}",
                                                                               f"Revises: {down_id}"))
    _git(target, "add", "-A")
    _git(target, "-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-q", "--amend",
         "--no-edit")
