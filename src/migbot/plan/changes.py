"""The plan: for each Alembic project, its revisions at the merge-base, the base
tip and head, and what the branch adds, edits and deletes.

Everything here is read from git objects and parsed statically; no project code
runs. The live run (run.stairway) takes its revision order from the worker,
which is authoritative; this plan supplies files, messages and the static checks.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from functools import cached_property

from migbot.config import MigbotConfig, ProjectSettings
from migbot.discover.git import Change, GitRepo
from migbot.discover.projects import AlembicProject, find_ini_files, load_project
from migbot.discover.revisions import RevisionFile, parse_revision
from migbot.discover.seeds import SeedSetPlan, find_seed_sets
from migbot.errors import UsageError
from migbot.plan.graph import RevisionGraph


@dataclass(frozen=True)
class Refs:
    base_ref: str
    base: str  # tip of the base branch
    merge_base: str
    head_ref: str
    head: str


@dataclass
class TreeRevisions:
    commit: str
    project: AlembicProject | None  # None: no Alembic project at this commit
    files: list[RevisionFile] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.graph = RevisionGraph(self.files)
        self.by_path = {f.path: f for f in self.files}


@dataclass
class RevisionChange:
    change: str  # added | modified | deleted | reformatted
    path: str
    old: RevisionFile | None = None
    new: RevisionFile | None = None
    first_changed_line: int | None = None  # for "modified": where the edit starts in the new file

    @property
    def revision(self) -> RevisionFile:
        return self.new or self.old  # type: ignore[return-value]


@dataclass
class ProjectPlan:
    project: AlembicProject
    settings: ProjectSettings
    merge_base: TreeRevisions
    base_tip: TreeRevisions
    head: TreeRevisions
    revision_changes: list[RevisionChange]
    changed_files: list[Change]
    head_seeds: list[SeedSetPlan] = field(default_factory=list)
    base_seeds: list[SeedSetPlan] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.project.name

    @cached_property
    def after_merge(self) -> RevisionGraph:
        return RevisionGraph.merged(self.base_tip.graph, self.head.graph)

    def revision_file(self, revision: str) -> RevisionFile | None:
        return self.head.graph.by_id.get(revision)


def project_inis(config: MigbotConfig, head_files: list[str]) -> list[str]:
    """The alembic.ini files to verify: from the config, else found in the head commit."""
    return config.alembic_ini or find_ini_files(head_files)


def build_plans(repo: GitRepo, refs: Refs, config: MigbotConfig, head_blobs: dict[str, str]) -> list[ProjectPlan]:
    head_files = sorted(head_blobs)
    ini_paths = project_inis(config, head_files)
    if not ini_paths:
        raise UsageError(
            f"No alembic.ini found in {refs.head_ref} ({refs.head[:12]}).",
            hint="migbot looks for alembic.ini files outside tests/, examples/ and virtualenvs. "
            "If yours is elsewhere, set alembic-ini in [tool.migbot] (pyproject.toml or migbot.toml).",
        )
    missing = [p for p in ini_paths if p not in head_blobs]
    if missing:
        raise UsageError(f"alembic-ini in {config.source} names {', '.join(missing)}, which does not exist at head.")
    unmatched = [p.alembic_ini for p in config.projects if p.alembic_ini not in ini_paths]
    if unmatched:
        raise UsageError(f"[[projects]] in {config.source} names {', '.join(unmatched)}, which is not one of the "
                         f"Alembic projects migbot verifies ({', '.join(ini_paths)}).")
    blobs = {refs.head: head_blobs}
    for commit in (refs.merge_base, refs.base):
        if commit not in blobs:
            blobs[commit] = repo.tree_blobs(commit)
    parsed = _ParseCache(repo)
    changes = repo.changes(refs.merge_base, refs.head)
    plans = []
    for ini in ini_paths:
        settings = config.for_project(ini)
        project = load_project(repo, refs.head, ini, head_files, settings.sys_path)
        head = parsed.tree(refs.head, project, blobs[refs.head])
        merge_base = _tree_if_present(repo, parsed, refs.merge_base, ini, blobs[refs.merge_base], settings)
        base_tip = merge_base if refs.base == refs.merge_base else _tree_if_present(
            repo, parsed, refs.base, ini, blobs[refs.base], settings)
        plans.append(ProjectPlan(
            project=project,
            settings=settings,
            merge_base=merge_base,
            base_tip=base_tip,
            head=head,
            revision_changes=_revision_changes(merge_base, head, parsed),
            changed_files=changes,
            head_seeds=find_seed_sets(blobs[refs.head], lambda paths: repo.read_files(refs.head, paths), project,
                                      settings),
            base_seeds=find_seed_sets(blobs[refs.merge_base], lambda paths: repo.read_files(refs.merge_base, paths),
                                      merge_base.project, settings) if merge_base.project else [],
        ))
    return plans


def _tree_if_present(repo: GitRepo, parsed: "_ParseCache", commit: str, ini: str, blobs: dict[str, str],
                     settings: ProjectSettings) -> TreeRevisions:
    if ini not in blobs:
        return TreeRevisions(commit, None)
    project = load_project(repo, commit, ini, sorted(blobs), settings.sys_path)
    return parsed.tree(commit, project, blobs)


class _ParseCache:
    """Parses each revision blob once: most files are the same at merge-base, base tip
    and head, and a big history has hundreds of them."""

    def __init__(self, repo: GitRepo):
        self.repo = repo
        self.by_blob: dict[str, RevisionFile] = {}
        self.texts: dict[str, str] = {}  # text hash -> text, for the files that were edited

    def tree(self, commit: str, project: AlembicProject, blobs: dict[str, str]) -> TreeRevisions:
        paths = sorted(p for p in blobs if project.owns(p))
        missing = [blobs[p] for p in paths if blobs[p] not in self.by_blob]
        for sha, content in self.repo.read_blobs(missing).items():
            parsed = parse_revision("", content)
            self.by_blob[sha] = parsed
            self.texts[parsed.text_hash] = content.decode("utf-8", errors="replace")
        return TreeRevisions(commit, project, [replace(self.by_blob[blobs[p]], path=p) for p in paths
                                               if blobs[p] in self.by_blob])

    def text(self, revision: RevisionFile | None) -> str:
        return self.texts.get(revision.text_hash, "") if revision is not None else ""


def _revision_changes(base: TreeRevisions, head: TreeRevisions, parsed: "_ParseCache") -> list[RevisionChange]:
    changes: list[RevisionChange] = []
    added = [f for p, f in head.by_path.items() if p not in base.by_path]
    deleted = [f for p, f in base.by_path.items() if p not in head.by_path]
    for path, new in head.by_path.items():
        old = base.by_path.get(path)
        if old is None or old.text_hash == new.text_hash:
            continue
        changes.append(RevisionChange("reformatted" if old.fingerprint == new.fingerprint else "modified", path, old, new))
    # A file moved to another path is matched by its revision id.
    deleted_by_id = {f.revision: f for f in deleted if f.revision}
    for new in added:
        old = deleted_by_id.pop(new.revision, None) if new.revision else None
        if old is None:
            changes.append(RevisionChange("added", new.path, None, new))
        else:
            deleted.remove(old)
            changes.append(RevisionChange("reformatted" if old.fingerprint == new.fingerprint else "modified",
                                          new.path, old, new))
    changes += [RevisionChange("deleted", f.path, f, None) for f in deleted]
    for change in changes:
        if change.change == "modified":
            change.first_changed_line = _first_changed_line(parsed.text(change.old), parsed.text(change.new))
    order = {"added": 0, "modified": 1, "deleted": 2, "reformatted": 3}
    return sorted(changes, key=lambda c: (order[c.change], c.path))


def _first_changed_line(old: str, new: str) -> int | None:
    """1-based line of the new text where it first differs from the old one."""
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    for tag, _i1, _i2, j1, _j2 in matcher.get_opcodes():
        if tag != "equal":
            return j1 + 1
    return None
