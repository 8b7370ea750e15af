"""Which files of each commit a run copies out of git: what the Alembic project needs,
so that the cost follows the project and what its env.py imports, not the repository.

Needed (a file git cannot read here ends the run, naming it):
- the ini, and the pyproject.toml holding its [tool.alembic];
- the files of the script folder (env.py, script.py.mako) and the revision files;
- the Python modules that env.py, the revisions, the seeds, the `runner` and the
  bootstrap and seed commands import, followed through those modules' own imports,
  wherever they are found on the import path (the `sys-path` entries, the repository
  root, the ini's folder, `src/`, the folder Alembic runs in, the ini's prepend_sys_path);
- the seed sets' files, and the paths the config names in `export`.

Also copied, where git can read them (a file it cannot is left out, with a note), because
a project may read them in ways no import shows:
- every file at the repository root (pyproject.toml, setup.cfg, requirements*.txt, .env, ...);
- the project folder: everything under the ini's folder, so the whole repository when the
  ini is at the root;
- `src/`, the `sys-path` entries, the ini's prepend_sys_path folders, the subfolders of the
  script and version folders;
- the package of every needed module (the outermost folder on its path with an __init__.py,
  so its data files and what it imports by a computed name come too; in a namespace package,
  the module's own folder), and every package at the repository root;
- the files and folders a bootstrap or seed command names, and what symlinks point to.

What env.py reaches by a computed path (a folder it puts on sys.path itself, a data file
outside the project folder) is found by none of these: `export` names it.
"""

from __future__ import annotations

import configparser
import posixpath
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

from migbot.config import ProjectSettings
from migbot.discover.git import GitRepo
from migbot.discover.projects import AlembicProject
from migbot.discover.seeds import SeedSetPlan
from migbot.plan.changes import ProjectPlan

IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w.][\w. \t,]*)", re.MULTILINE)
FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)", re.MULTILINE)
IMPORT_BY_NAME = re.compile(r"""(?:import_module|__import__)\(\s*["']([\w.]+)["']""")
SYMLINK = "120000"


@dataclass
class Selection:
    """Files of one commit to export: `needed` ones, and `files` and `folders` copied when
    git can read them ("" is the whole repository)."""

    needed: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)  # `export` entries that are not in the commit

    def wanted(self, path: str) -> bool:
        if path in self.needed or path in self.files:
            return True
        parts = path.split("/")
        return any("/".join(parts[:depth]) in self.folders for depth in range(len(parts)))

    def is_needed(self, path: str) -> bool:
        return path in self.needed

    def add(self, other: Selection) -> None:
        self.needed |= other.needed
        self.files |= other.files
        self.folders |= other.folders
        self.unmatched |= other.unmatched


def export_selections(repo: GitRepo, plans: list[ProjectPlan]) -> dict[str, Selection]:
    """For each commit a run checks out (the head, and the merge-base where the project
    exists there), the union of what its projects need."""
    choosers: dict[str, _Chooser] = {}
    scanned: dict[str, list[tuple[int, str]]] = {}  # imports by blob: most files are alike in both commits
    for plan in plans:
        sides = [(plan.head.commit, plan.head.project, plan.head_seeds)]
        if plan.merge_base.project is not None:
            sides.append((plan.merge_base.commit, plan.merge_base.project, plan.base_seeds))
        for commit, project, seeds in sides:
            if commit not in choosers:
                choosers[commit] = _Chooser(repo, commit, scanned)
            choosers[commit].choose(project, plan.settings, seeds)
    return {commit: chooser.selection for commit, chooser in choosers.items()}


class _Chooser:
    def __init__(self, repo: GitRepo, commit: str, scanned: dict[str, list[tuple[int, str]]]):
        self.repo, self.commit, self.scanned = repo, commit, scanned
        self.entries = {path: (mode, sha) for mode, sha, path in repo.tree_entries(commit)}
        self.folders = {posixpath.dirname(path) for path in self.entries} | {""}
        for folder in list(self.folders):
            while folder:
                folder = posixpath.dirname(folder)
                self.folders.add(folder)
        self.selection = Selection()

    def choose(self, project: AlembicProject, settings: ProjectSettings, seeds: list[SeedSetPlan]) -> None:
        """Add what `project` needs at this commit to the selection."""
        chosen = self.selection
        ini_dir, run_dir = project.directory, project.run_dir or ""
        chosen.needed |= {p for p in (project.ini_path, project.toml_file) if p in self.entries}
        chosen.files |= {path for path in self.entries if "/" not in path}
        chosen.folders.add(ini_dir)  # the project folder: "" (everything) when the ini is at the root
        roots = [*settings.sys_path, "", ini_dir, "src", run_dir, *self._prepend_sys_path(project)]
        roots = [root for root in dict.fromkeys(_normal(r) for r in roots) if root is not None and root in self.folders]
        chosen.folders |= {root for root in roots if root}  # the repository root only as the project folder
        chosen.folders |= {name for name in self._children("") if f"{name}/__init__.py" in self.entries}
        starts = self._files_in(project.script_location, recursive=False)
        for folder in project.version_dirs:
            starts |= self._files_in(folder, recursive=project.recursive)
        chosen.folders |= {folder for folder in (project.script_location, *project.version_dirs) if folder}
        for seed in seeds:
            starts |= {path for path in seed.files if path in self.entries}
            for module in seed.modules:
                starts |= self._module(module, roots)
        if settings.runner:
            starts |= self._module(settings.runner.split(":", 1)[0], roots)
        for command in [settings.bootstrap, *(seed.command for seed in seeds)]:
            starts |= self._named_by(command, run_dir, roots)
        for path in settings.export:
            normal = _normal(path)
            if normal is not None and (normal in self.entries or normal in self.folders):
                chosen.needed |= {normal} & self.entries.keys() | self._files_in(normal, recursive=True)
            else:
                chosen.unmatched.add(path)
        chosen.needed |= starts
        self._follow_imports(starts, roots)
        self._follow_symlinks()
        return chosen

    # --- what the config and the commands name -------------------------------------------
    def _prepend_sys_path(self, project: AlembicProject) -> list[str]:
        """The ini's prepend_sys_path entries (relative to where Alembic runs)."""
        contents = self.repo.read_files(self.commit, [project.ini_path])
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(contents.get(project.ini_path, b"").decode("utf-8", errors="replace"))
            value = parser.get("alembic", "prepend_sys_path", fallback="")
        except configparser.Error:
            return []
        here = "%(here)s"
        return [posixpath.join(project.directory, entry[len(here):].lstrip("/")) if entry.startswith(here)
                else posixpath.join(project.run_dir or "", entry) for entry in re.split(r"[\s,:;]+", value) if entry]

    def _named_by(self, command: str | None, run_dir: str, roots: list[str]) -> set[str]:
        """Python files and modules a shell command names (`python scripts/seed.py`,
        `python -m app.initial_data`); the folders it names are copied too."""
        if not command:
            return set()
        try:
            words = shlex.split(command)
        except ValueError:
            words = command.split()
        found: set[str] = set()
        for word in words:
            for base in dict.fromkeys((run_dir, "")):
                path = _normal(posixpath.join(base, word))
                if path is None or path == "":
                    continue
                if path in self.entries:
                    self.selection.files.add(path)
                    found |= {path} if path.endswith(".py") else set()
                elif path in self.folders:
                    self.selection.folders.add(path)
            if re.fullmatch(r"[A-Za-z_][\w.]*", word):
                found |= self._module(word, roots)
        return found

    # --- imports --------------------------------------------------------------------------
    def _follow_imports(self, starts: set[str], roots: list[str]) -> None:
        """Every module the `starts` import, and theirs, is needed; its top-level package is copied."""
        seen = set(starts)
        queue = sorted(path for path in starts if path.endswith(".py"))
        while queue:
            unread = [sha for sha in (self.entries[path][1] for path in queue) if sha not in self.scanned]
            for sha, content in self.repo.read_blobs(unread).items():
                self.scanned[sha] = list(_imports(content.decode("utf-8", errors="replace")))
            found: set[str] = set()
            for path in queue:
                for level, module in self.scanned.get(self.entries[path][1], []):
                    if level:
                        folder = posixpath.dirname(path)
                        for _ in range(level - 1):
                            folder = posixpath.dirname(folder)
                        found |= self._resolve(folder, module.split(".") if module else [])
                    else:
                        found |= self._module(module, roots)
            queue = sorted(found - seen)
            seen |= found
        self.selection.needed |= seen

    def _module(self, dotted: str, roots: list[str]) -> set[str]:
        """The files that importing `dotted` runs, from every import root that has it."""
        parts = dotted.split(".")
        found: set[str] = set()
        for root in roots:
            files = self._resolve(root, parts)
            if files:
                found |= files
                package = self._package(root, parts)
                if package is not None:
                    self.selection.folders.add(package)
        return found

    def _package(self, root: str, parts: list[str]) -> str | None:
        """The folder of the package `a.b.c` belongs to: the outermost one on its path with an
        __init__.py (`app` for app.models.user), else, in namespace packages, the deepest."""
        deepest = None
        for depth in range(1, len(parts) + 1):
            folder = posixpath.join(root, *parts[:depth])
            if folder not in self.folders:
                break
            if f"{folder}/__init__.py" in self.entries:
                return folder
            deepest = folder
        return deepest

    def _resolve(self, folder: str, parts: list[str]) -> set[str]:
        """`a.b.c` below `folder`: a/__init__.py, a/b/__init__.py, a/b/c.py or a/b/c/__init__.py
        (or a/b.py, when c is a name in it), whichever exist."""
        found = {posixpath.join(folder, "__init__.py")} & self.entries.keys() if not parts else set()
        base = folder
        for part in parts:
            base = posixpath.join(base, part)
            found |= {f"{base}.py", f"{base}/__init__.py"} & self.entries.keys()
            if base not in self.folders:
                break
        return found

    # --- files ----------------------------------------------------------------------------
    def _files_in(self, folder: str, *, recursive: bool) -> set[str]:
        prefix = f"{folder}/" if folder else ""
        return {path for path in self.entries if path.startswith(prefix)
                and (recursive or "/" not in path[len(prefix):])}

    def _children(self, folder: str) -> set[str]:
        prefix = f"{folder}/" if folder else ""
        return {f[len(prefix):] for f in self.folders if f.startswith(prefix) and f and "/" not in f[len(prefix):]}

    def _follow_symlinks(self) -> None:
        """What the copied symlinks point to, inside the repository, is copied too."""
        done: set[str] = set()
        while True:
            links = [p for p, (mode, _sha) in self.entries.items()
                     if mode == SYMLINK and p not in done and self.selection.wanted(p)]
            if not links:
                return
            done |= set(links)
            targets = self.repo.read_blobs([self.entries[p][1] for p in links])
            for link in links:
                target = targets.get(self.entries[link][1], b"").decode("utf-8", errors="replace")
                path = _normal(posixpath.join(posixpath.dirname(link), target)) if not target.startswith("/") else None
                if path is not None and path in self.entries:
                    self.selection.files.add(path)
                elif path is not None and path in self.folders:
                    self.selection.folders.add(path)


def _imports(source: str) -> Iterable[tuple[int, str]]:
    """(level, module) for each import in `source`: `from . import x` is (1, "x") as well as
    (1, ""); `from a import b` is (0, "a") and (0, "a.b"), since b may be a submodule.
    A regular expression rather than ast: a file with a syntax error still names its imports."""
    for match in IMPORT.finditer(source):
        for name in match.group(1).split(","):
            module = name.split(" as ")[0].strip()
            if module:
                yield 0, module
    for match in FROM_IMPORT.finditer(source):
        level, module = len(match.group(1)), match.group(2)
        yield level, module
        for imported in match.group(3).strip("()").split(","):
            name = imported.split()[0] if imported.split() else ""
            if re.fullmatch(r"\w+", name):
                yield level, f"{module}.{name}" if module else name
    for match in IMPORT_BY_NAME.finditer(source):
        yield 0, match.group(1)


def _normal(path: str) -> str | None:
    """A repo-relative POSIX path without `.` and `..`, "" for the root; None outside the repository."""
    normal = posixpath.normpath(path.strip().strip("/") or ".")
    if normal == ".":
        return ""
    return None if normal == ".." or normal.startswith("../") else normal
