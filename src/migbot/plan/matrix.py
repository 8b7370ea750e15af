"""`migbot plan`: the Alembic projects a change touches, as a GitHub Actions matrix.

It reads git objects and the static plan only: none of the project's code runs, and no
PostgreSQL is needed. A project is touched when the branch changes, from the merge-base to head:

- a file of its own: its ini, or anything in its script location or version folders (env.py,
  revisions), or in its ini's folder (its models, seeds and settings, when they live there);
- a shared file, outside every project's folder (a library the env.py may import,
  pyproject.toml, requirements): every project is touched;

except documentation (a .md or .rst file, or anything under a docs/ folder), which touches
none, unless it is a project's own Alembic file.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from migbot.config import CONFIG_FILES, read_config
from migbot.discover.git import GitRepo
from migbot.discover.projects import find_projects
from migbot.plan.changes import ProjectPlan, Refs, build_plans
from migbot.plan.monorepo import own_file, owners

REPORT_ARTIFACT = "migbot-report"  # a matrix job's artifact is named REPORT_ARTIFACT-<the project's slug>
DOC_SUFFIXES = (".md", ".rst")
DOC_FOLDERS = ("docs", "doc")

Text = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class MatrixEntry(BaseModel):
    """One job of the matrix: `project` for the action's `project` input, `artifact` for upload-artifact."""

    model_config = ConfigDict(extra="forbid", strict=True)

    project: Text
    alembic_ini: Text
    artifact: Annotated[str, StringConstraints(pattern=rf"^{REPORT_ARTIFACT}-[A-Za-z0-9._-]{{1,200}}$")]


class Matrix(BaseModel):
    """`strategy.matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}`: one job per entry of `include`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    include: list[MatrixEntry] = Field(max_length=256)  # GitHub runs at most 256 jobs per matrix


def plan_matrix(repo_path: Path, base: str | None, head: str, config_path: Path | None) -> tuple[Matrix, list[str]]:
    """The matrix of the projects the change from base to head touches, and a line per project
    saying whether it is touched and why."""
    repo = GitRepo(repo_path)
    base_ref = base or repo.default_branch()
    head_sha, base_sha = repo.resolve(head, what="head"), repo.resolve(base_ref, what="base")
    refs = Refs(base_ref=base_ref, base=base_sha, merge_base=repo.merge_base(base_sha, head_sha),
                head_ref=repo.describe_ref(head), head=head_sha)
    head_blobs = repo.tree_blobs(head_sha)
    config = read_config({}, config_path) if config_path is not None else read_config(
        repo.read_files(head_sha, [name for name in CONFIG_FILES if name in head_blobs]))
    found = find_projects(sorted(head_blobs), lambda paths: repo.read_files(head_sha, paths))
    plans = build_plans(repo, refs, config, head_blobs, found)
    reasons = touched(plans)
    entries = [plan for plan in plans if plan.project.ini_path in reasons]
    lines = [f"{plan.name}: " + (f"touched ({reasons[plan.project.ini_path]} changed)"
                                 if plan.project.ini_path in reasons else "not touched") for plan in plans]
    return Matrix(include=[MatrixEntry(project=plan.name, alembic_ini=plan.project.ini_path, artifact=artifact)
                           for plan, artifact in zip(entries, artifact_names(entries))]), lines


def touched(plans: list[ProjectPlan]) -> dict[str, str]:
    """The ini path of every project the branch touches, with the first changed path that does."""
    reasons: dict[str, str] = {}
    for plan in plans:
        if plan.revision_changes:
            reasons[plan.project.ini_path] = plan.revision_changes[0].path
    changed = [path for change in (plans[0].changed_files if plans else [])
               for path in (change.path, change.old_path) if path]
    for path in changed:
        homes = owners(path, plans)
        if _documentation(path) and not any(own_file(plan.project, path) for plan in homes):
            continue
        for plan in homes or plans:
            reasons.setdefault(plan.project.ini_path, path)
    return reasons


def artifact_names(plans: list[ProjectPlan]) -> list[str]:
    """migbot-report-<project>, with what upload-artifact refuses in a name replaced; a hash of the
    ini's path tells apart two projects that would get the same name."""
    slugs = [re.sub(r"[^A-Za-z0-9._-]+", "-", plan.name).strip("-.")[:150] or "root" for plan in plans]
    return [f"{REPORT_ARTIFACT}-{slug}" if slugs.count(slug) == 1
            else f"{REPORT_ARTIFACT}-{slug}-{hashlib.sha1(plan.project.ini_path.encode()).hexdigest()[:8]}"
            for plan, slug in zip(plans, slugs)]


def _documentation(path: str) -> bool:
    folders = PurePosixPath(path).parts[:-1]
    return path.lower().endswith(DOC_SUFFIXES) or any(part in DOC_FOLDERS for part in folders)
