"""The plan: for each Alembic project, its revisions at the merge-base, the base
tip and head, and what the branch adds, edits and deletes.

Everything here is first read from git objects and parsed statically; no project
code runs. Once the live run has Alembic's own revision map, align_with_alembic()
takes the revision files from it (where Alembic loads them from is Alembic's to say),
and the plan notes where that differs from the static reading. The order in which
revisions run is never derived here: the live run asks Alembic.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import PurePosixPath

from migbot.config import MigbotConfig, ProjectSettings
from migbot.discover.git import Change, GitRepo
from migbot.discover.projects import REVISION_FILE, SKIP_DIRS, AlembicProject, FoundProjects, load_project
from migbot.discover.revisions import RevisionFile, parse_revision
from migbot.discover.seeds import SeedSetPlan, find_seed_sets
from migbot.errors import UsageError
from migbot.evidence import AlembicMap
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
    blobs: dict[str, str] = field(default_factory=dict, repr=False)  # the commit's files: path -> blob

    def __post_init__(self) -> None:
        self.graph = RevisionGraph(self.files)
        self.by_path = {f.path: f for f in self.files}


@dataclass
class RevisionChange:
    change: str  # added | modified | downgrade-edited | deleted | reformatted
    path: str
    old: RevisionFile | None = None
    new: RevisionFile | None = None
    first_changed_line: int | None = None  # for edits: where the edit starts in the new file
    changed_parts: list[str] = field(default_factory=list)  # for edits: "def upgrade", "down_revision =", ...

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
    # Files the branch adds or changes, anywhere in the repository, that read like revision
    # files (they assign `revision` and `down_revision`): each must be loaded by some history.
    revision_like_changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # where Alembic's word replaced the static reading
    parsed: "_ParseCache | None" = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.project.name

    @cached_property
    def after_merge(self) -> RevisionGraph:
        return RevisionGraph.merged(self.base_tip.graph, self.head.graph)

    def revision_file(self, revision: str) -> RevisionFile | None:
        return self.head.graph.by_id.get(revision)


def project_inis(config: MigbotConfig, found: FoundProjects) -> list[str]:
    """The Alembic projects to verify: from the config, else every one found in the head commit."""
    return config.alembic_ini or found.inis


def build_plans(repo: GitRepo, refs: Refs, config: MigbotConfig, head_blobs: dict[str, str],
                found: FoundProjects) -> list[ProjectPlan]:
    head_files = sorted(head_blobs)
    ini_paths = project_inis(config, found)
    if not ini_paths:
        skipped = "; ".join(f"{path}: {why}" for path, why in found.skipped)
        raise UsageError(
            f"No Alembic project found in {refs.head_ref} ({refs.head[:12]})"
            + (f" outside the folders migbot skips ({skipped})" if skipped else "") + ".",
            hint="migbot verifies every *.ini with an [alembic] section outside tests/, examples/, docs/ and "
            "virtualenvs. If yours is elsewhere, set alembic-ini in [tool.migbot] (pyproject.toml or migbot.toml).",
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
    revision_like = _revision_like_changes(changes, head_blobs, parsed, ini_paths)
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
            revision_like_changes=revision_like,
            parsed=parsed,
        ))
    return plans


def align_with_alembic(plan: ProjectPlan, head_map: AlembicMap, base_map: AlembicMap | None) -> ProjectPlan:
    """The plan with Alembic's word on which files are revisions: the files each live map
    loaded, at head and at the merge-base (the base tip, which never runs, is read with the
    head's version locations). Notes say where the static reading differed."""
    parsed = plan.parsed
    if parsed is None:
        return plan
    notes = []
    live_dirs = sorted(set(head_map.version_dirs))
    if live_dirs != sorted(set(plan.project.version_dirs)):
        notes.append(
            f"Alembic loads the revisions of {plan.project.ini_path} from "
            + ", ".join(f"`{d or '.'}`" for d in live_dirs)
            + ", not from " + ", ".join(f"`{d or '.'}`" for d in plan.project.version_dirs)
            + " as migbot read the config: migbot follows Alembic.")
    for outside in head_map.outside_tree:
        notes.append(f"Alembic also loads revisions from {outside}, outside the repository: migbot does not "
                     "verify those files.")
    project = replace(plan.project, version_dirs=live_dirs or plan.project.version_dirs,
                      script_location=head_map.script_dir if head_map.script_dir is not None
                      else plan.project.script_location)
    head = _tree_from_map(parsed, plan.head, project, head_map)
    merge_base = plan.merge_base
    if merge_base.project is not None:
        base_project = replace(merge_base.project, version_dirs=sorted(set(base_map.version_dirs))) \
            if base_map is not None else replace(merge_base.project, version_dirs=project.version_dirs)
        merge_base = _tree_from_map(parsed, merge_base, base_project, base_map) if base_map is not None \
            else parsed.tree(merge_base.commit, base_project, merge_base.blobs)
    base_tip = plan.base_tip
    if plan.base_tip.commit == plan.merge_base.commit:
        base_tip = merge_base
    elif base_tip.project is not None:
        base_tip = parsed.tree(base_tip.commit, replace(base_tip.project, version_dirs=project.version_dirs),
                               base_tip.blobs)
    static = {f.path for f in plan.head.files}
    loaded = {f.path for f in head.files}
    if static != loaded and not notes:
        notes.append(f"Alembic loads {len(loaded)} revision files for {plan.project.ini_path}, where migbot's "
                     f"reading of the folders found {len(static)}: migbot follows Alembic.")
    return replace(plan, project=project, head=head, merge_base=merge_base, base_tip=base_tip,
                   revision_changes=_revision_changes(merge_base, head, parsed), notes=plan.notes + notes)


def _tree_from_map(parsed: "_ParseCache", tree: "TreeRevisions", project: AlembicProject,
                   alembic: AlembicMap) -> "TreeRevisions":
    """The files in the folders Alembic reads, and every file its map holds: Alembic keeps one
    file per revision id, and the static checks must still see a duplicate."""
    paths = {p for p in tree.blobs if project.owns(p)} | {p for p in alembic.paths if p in tree.blobs}
    return parsed.tree(tree.commit, project, tree.blobs, paths=sorted(paths))


def _revision_like_changes(changes: list[Change], head_blobs: dict[str, str], parsed: "_ParseCache",
                           ini_paths: list[str]) -> list[str]:
    """Python files the branch adds or changes that assign `revision` and `down_revision`: outside
    the folders migbot does not search, unless a verified project lives there."""
    project_dirs = [str(PurePosixPath(ini).parent) for ini in ini_paths]
    wanted = []
    for change in changes:
        path = change.path
        if change.status == "D" or path not in head_blobs or not REVISION_FILE.match(PurePosixPath(path).name):
            continue
        skipped = any(part in SKIP_DIRS for part in PurePosixPath(path).parts[:-1])
        if skipped and not any(d == "." or path.startswith(d + "/") for d in project_dirs):
            continue
        wanted.append(path)
    return [path for path, rev in parsed.files(wanted, head_blobs).items()
            if rev.revision is not None and rev.down_revision_line is not None]


def _tree_if_present(repo: GitRepo, parsed: "_ParseCache", commit: str, ini: str, blobs: dict[str, str],
                     settings: ProjectSettings) -> TreeRevisions:
    if ini not in blobs:
        return TreeRevisions(commit, None, blobs=blobs)
    project = load_project(repo, commit, ini, sorted(blobs), settings.sys_path)
    return parsed.tree(commit, project, blobs)


class _ParseCache:
    """Parses each revision blob once: most files are the same at merge-base, base tip
    and head, and a big history has hundreds of them."""

    def __init__(self, repo: GitRepo):
        self.repo = repo
        self.by_blob: dict[str, RevisionFile] = {}
        self.texts: dict[str, str] = {}  # text hash -> text, for the files that were edited

    def tree(self, commit: str, project: AlembicProject, blobs: dict[str, str],
             paths: list[str] | None = None) -> TreeRevisions:
        """The revision files of `project` at `commit`: `paths` (as Alembic loaded them), else the
        files in the project's version folders."""
        if paths is None:
            paths = sorted(p for p in blobs if project.owns(p))
        return TreeRevisions(commit, project, list(self.files(paths, blobs).values()), blobs=blobs)

    def files(self, paths: list[str], blobs: dict[str, str]) -> dict[str, RevisionFile]:
        missing = list(dict.fromkeys(blobs[p] for p in paths if blobs[p] not in self.by_blob))
        for sha, content in self.repo.read_blobs(missing).items():
            parsed = parse_revision("", content)
            self.by_blob[sha] = parsed
            self.texts[parsed.text_hash] = content.decode("utf-8", errors="replace")
        return {p: replace(self.by_blob[blobs[p]], path=p) for p in paths if blobs[p] in self.by_blob}

    def text(self, revision: RevisionFile | None) -> str:
        return self.texts.get(revision.text_hash, "") if revision is not None else ""


def _revision_changes(base: TreeRevisions, head: TreeRevisions, parsed: "_ParseCache") -> list[RevisionChange]:
    changes: list[RevisionChange] = []
    added = [f for p, f in head.by_path.items() if p not in base.by_path]
    deleted = [f for p, f in base.by_path.items() if p not in head.by_path]
    for path, new in head.by_path.items():
        old = base.by_path.get(path)
        if old is not None and old.text_hash != new.text_hash:
            changes.append(_edit(path, old, new))
    # A file moved to another path is matched by its revision id.
    deleted_by_id = {f.revision: f for f in deleted if f.revision}
    for new in added:
        old = deleted_by_id.pop(new.revision, None) if new.revision else None
        if old is None:
            changes.append(RevisionChange("added", new.path, None, new))
        else:
            deleted.remove(old)
            changes.append(_edit(new.path, old, new))
    changes += [RevisionChange("deleted", f.path, f, None) for f in deleted]
    for change in changes:
        if change.change in ("modified", "downgrade-edited"):
            change.first_changed_line = _first_changed_line(parsed.text(change.old), parsed.text(change.new))
    order = {"added": 0, "modified": 1, "downgrade-edited": 2, "deleted": 3, "reformatted": 4}
    return sorted(changes, key=lambda c: (order[c.change], c.path))


def _edit(path: str, old: RevisionFile, new: RevisionFile) -> RevisionChange:
    """An edit, by what it changes: nothing that runs (reformatted), downgrade() alone, or more."""
    if old.fingerprint == new.fingerprint or (old.syntax_error is None and new.syntax_error is None
                                              and old.parts == new.parts):
        return RevisionChange("reformatted", path, old, new)
    parts = sorted(k for k in set(old.parts) | set(new.parts) if old.parts.get(k) != new.parts.get(k))
    kind = "downgrade-edited" if parts == ["def downgrade"] and old.syntax_error is None else "modified"
    return RevisionChange(kind, path, old, new, changed_parts=parts)


def _first_changed_line(old: str, new: str) -> int | None:
    """1-based line of the new text where it first differs from the old one."""
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    for tag, _i1, _i2, j1, _j2 in matcher.get_opcodes():
        if tag != "equal":
            return j1 + 1
    return None
