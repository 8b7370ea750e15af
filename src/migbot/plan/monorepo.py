"""Monorepos: which Alembic project a path belongs to, and `--project PATH`, one project of several.

A path belongs to the projects whose own files hold it (their ini, script location or version
folders); else to the projects whose ini's folder holds it, the deepest folder first; else to none:
it is shared (a library, pyproject.toml, requirements), and any project's env.py may import it.
Everything here reads the static plan: nothing of the project runs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePosixPath

from migbot.discover.projects import AlembicProject, FoundProjects
from migbot.errors import UsageError
from migbot.plan.changes import ProjectPlan


def project_name(ini_path: str) -> str:
    """How migbot names the project of an ini: its folder, or the ini's path for a second history."""
    return AlembicProject(ini_path=ini_path, script_location="", version_dirs=[]).name


def owners(path: str, plans: list[ProjectPlan]) -> list[ProjectPlan]:
    """The projects `path` belongs to; none for a shared file."""
    own = [plan for plan in plans if own_file(plan.project, path)]
    if own:
        return own
    holders = [plan for plan in plans if _under(path, plan.project.directory)]
    deepest = max((len(plan.project.directory) for plan in holders), default=0)
    return [plan for plan in holders if len(plan.project.directory) == deepest]


def select_project(wanted: str, ini_paths: list[str]) -> list[str]:
    """The one ini of `ini_paths` that `wanted` names: by its folder (as `migbot plan` prints it)
    or by the ini's path. No projects at all: none (the plan then says why)."""
    if not ini_paths:
        return []
    path = _normalise(wanted)
    named = [ini for ini in ini_paths if path in (ini, project_name(ini))]
    in_folder = [ini for ini in ini_paths if _folder(ini) == path]
    if len(named) == 1 or len(in_folder) == 1:
        return named if len(named) == 1 else in_folder
    listing = ", ".join(f"{project_name(ini)} ({ini})" if project_name(ini) != ini else ini for ini in ini_paths)
    if in_folder:
        raise UsageError(f"--project {wanted}: that folder holds {len(in_folder)} Alembic projects "
                         f"({', '.join(in_folder)}).", hint="Name one of them by its ini file.")
    raise UsageError(f"--project {wanted} names none of the Alembic projects migbot found: {listing}.",
                     hint="Name a project by its folder, as `migbot plan` prints it, or by its ini file.")


def keep_project(plans: list[ProjectPlan], found: FoundProjects, ini: str) -> tuple[list[ProjectPlan], FoundProjects]:
    """The plan of the project `ini` alone. The revision files the branch changed in the other
    projects are theirs, not this history's to load; and the others are not reported as left
    unverified, since the caller chose one."""
    def ours(path: str) -> bool:
        homes = [plan.project.ini_path for plan in owners(path, plans)]
        return not homes or ini in homes

    kept = [replace(plan, revision_like_changes=[path for path in plan.revision_like_changes if ours(path)])
            for plan in plans if plan.project.ini_path == ini]
    narrowed = FoundProjects([i for i in found.inis if i == ini], [s for s in found.skipped if s[0] == ini])
    return kept, narrowed


def own_file(project: AlembicProject, path: str) -> bool:
    """One of the project's Alembic files: its ini, anything in its script location (env.py) or
    version folders (revisions)."""
    return path == project.ini_path or project.owns(path) or _under(path, project.script_location) \
        or any(_under(path, folder) for folder in project.version_dirs)


def _under(path: str, folder: str) -> bool:
    """Inside `folder` (the repository's root holds everything, and says nothing of a project)."""
    return bool(folder) and path.startswith(folder + "/")


def _folder(ini: str) -> str:
    parent = str(PurePosixPath(ini).parent)
    return "." if parent == "." else parent


def _normalise(path: str) -> str:
    parts = [part for part in path.strip().replace("\\", "/").split("/") if part not in ("", ".")]
    return "/".join(parts) or "."
