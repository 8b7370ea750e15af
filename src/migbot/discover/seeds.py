"""Finding a project's seed sets in a commit (read statically, nothing executed).

The conventions keep seeds in `app/seeds/`, with development data in
`app/seeds/dev/` and test fixtures in `app/seeds/test/`. Without config, migbot
looks for `<package>/seeds/` under the project's import roots (the alembic.ini
folder, the repository root, `src/`, `backend/` and `sys-path`), preferring
`app`, and makes one set of each folder, in this order:

- `seeds`: the modules directly in `<package>/seeds/`;
- `dev`, `test`, then any other sub-package, alphabetically.

Within a set, modules run in file-name order (`01_users.py` before `02_orders.py`).
A package whose `__init__.py` defines an entry point stands for its whole set: it
runs instead of its modules (for a seeds package that orchestrates everything).

How a module runs (see run/agent.py, cmd_seed): `run(session)` or `seed(session)`
gets a SQLAlchemy session on migbot's database (an AsyncSession when it is a
coroutine function) and migbot commits; else `main()` is called; else the module
runs as a script, as with `python -m`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from migbot.config import ProjectSettings
from migbot.discover.projects import AlembicProject

ENTRY_POINTS = ("run", "seed", "main")
SUBSET_ORDER = ("dev", "test")


@dataclass
class SeedSetPlan:
    name: str
    source: str  # the folder it was found in, or "config"
    modules: list[str] = field(default_factory=list)
    command: str | None = None
    files: list[str] = field(default_factory=list)  # repo-relative, for the report


def find_seed_sets(blobs: dict[str, str], read: Callable[[list[str]], dict[str, bytes]], project: AlembicProject,
                   settings: ProjectSettings) -> list[SeedSetPlan]:
    """blobs: the commit's files; read(paths) -> {path: bytes} for the few __init__ files."""
    if settings.seeds.sets is not None:
        return [SeedSetPlan(name=s.name, source="config", modules=list(s.modules), command=s.command)
                for s in settings.seeds.sets]
    found = _seeds_package(blobs, project, settings)
    if found is None:
        return []
    root, package = found  # e.g. "backend", "app"
    base = _join(root, package, "seeds")
    inits = read([p for p in (_join(base, "__init__.py"), *(_join(d, "__init__.py") for d in _subpackages(blobs, base)))
                  if p in blobs])

    def module(path: str) -> str:
        relative = PurePosixPath(path).relative_to(root) if root else PurePosixPath(path)
        return ".".join(relative.with_suffix("").parts)

    def has_entry(init: str) -> bool:
        return init in inits and _defines_entry_point(inits[init])

    if has_entry(_join(base, "__init__.py")):
        return [SeedSetPlan(name="seeds", source=base, modules=[module(base + "/__init__.py").removesuffix(".__init__")],
                            files=[_join(base, "__init__.py")])]
    sets = []
    top = _modules_in(blobs, base)
    if top:
        sets.append(SeedSetPlan(name="seeds", source=base, modules=[module(p) for p in top], files=top))
    subpackages = sorted(_subpackages(blobs, base),
                         key=lambda d: (SUBSET_ORDER.index(d.rsplit("/", 1)[1]) if d.rsplit("/", 1)[1] in SUBSET_ORDER
                                        else len(SUBSET_ORDER), d))
    for directory in subpackages:
        name = directory.rsplit("/", 1)[1]
        init = _join(directory, "__init__.py")
        if has_entry(init):
            sets.append(SeedSetPlan(name=name, source=directory, modules=[module(init).removesuffix(".__init__")],
                                    files=[init]))
            continue
        files = _modules_in(blobs, directory)
        if files:
            sets.append(SeedSetPlan(name=name, source=directory, modules=[module(p) for p in files], files=files))
    return sets


def _seeds_package(blobs: dict[str, str], project: AlembicProject, settings: ProjectSettings) -> tuple[str, str] | None:
    roots = list(dict.fromkeys([project.directory, "", "src", "backend", *settings.sys_path]))
    for root in roots:
        prefix = f"{root}/" if root else ""
        packages = sorted({PurePosixPath(p[len(prefix):]).parts[0] for p in blobs
                           if p.startswith(prefix) and len(PurePosixPath(p[len(prefix):]).parts) >= 3
                           and PurePosixPath(p[len(prefix):]).parts[1] == "seeds" and p.endswith(".py")})
        if packages:
            return root, ("app" if "app" in packages else packages[0])
    return None


def _modules_in(blobs: dict[str, str], directory: str) -> list[str]:
    return sorted(p for p in blobs if str(PurePosixPath(p).parent) == directory and p.endswith(".py")
                  and not PurePosixPath(p).name.startswith("__"))


def _subpackages(blobs: dict[str, str], directory: str) -> set[str]:
    depth = len(PurePosixPath(directory).parts) + 1
    return {str(PurePosixPath(*PurePosixPath(p).parts[:depth])) for p in blobs
            if p.startswith(directory + "/") and len(PurePosixPath(p).parts) > depth and p.endswith(".py")}


def _defines_entry_point(source: bytes) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in ENTRY_POINTS
               for node in tree.body)


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p)
