"""The repository: resolving refs, reading files at a commit, and checking out trees.

Files are read from commit objects, not the working tree, so base, merge-base
and head are seen exactly as committed.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from migbot.discover.tree_writer import Entry, Unreadable, write_tree
from migbot.errors import InfraError, UsageError

HISTORY_HINT = (
    "migbot needs the history of both branches. In GitHub Actions use actions/checkout with "
    "`fetch-depth: 0`; locally run `git fetch --unshallow origin` (a shallow clone) or `git fetch origin`."
)


# Every git migbot runs ignores the repository's hooks and fsmonitor: a pull request's code may
# have planted them, and the steps after migbot's (holding the token) must not run them either.
SAFE_GIT = ("git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")


@dataclass(frozen=True)
class Change:
    status: str  # A, M, D, R (rename), T (type change)
    path: str
    old_path: str | None = None


class GitRepo:
    def __init__(self, path: Path):
        if shutil.which("git") is None:
            raise InfraError("git is not installed; migbot needs it to read the branch's history.")
        self.path = Path(path)
        self._tree_entries: dict[str, list[tuple[str, str, str]]] = {}
        if not self.path.is_dir():
            raise UsageError(f"--repo {self.path}: no such directory.")
        try:
            top = self._git("rev-parse", "--show-toplevel", cwd=self.path)
        except UsageError as exc:
            if "dubious ownership" in exc.message:
                raise UsageError(
                    f"git refuses to read {self.path}: it belongs to another user than the one running migbot "
                    "(git's 'dubious ownership' check).",
                    hint=f"Run migbot as the repository's owner, or trust it: git config --global --add "
                    f"safe.directory {self.path.resolve()}",
                ) from None
            raise UsageError(
                f"{self.path} is not inside a git repository.",
                hint="Run migbot from your project's checkout, or pass --repo PATH.",
            ) from None
        self.root = Path(top)

    # --- plumbing ---------------------------------------------------------------
    def _git(self, *args: str, cwd: Path | None = None, input: bytes | None = None, text: bool = True,
             strip: bool = True):
        result = subprocess.run(
            [*SAFE_GIT, *args], cwd=cwd or self.root, capture_output=True, input=input, text=text and input is None,
            check=False,
        )
        if result.returncode != 0:
            err = result.stderr if isinstance(result.stderr, str) else result.stderr.decode(errors="replace")
            raise UsageError(f"git {' '.join(args)} failed: {err.strip() or 'exit code ' + str(result.returncode)}")
        if isinstance(result.stdout, str):
            return result.stdout.strip() if strip else result.stdout
        return result.stdout

    # --- refs -------------------------------------------------------------------
    def resolve(self, ref: str, *, what: str) -> str:
        try:
            return self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except UsageError:
            close = difflib.get_close_matches(ref, self._branch_names(), n=1)
            if close:
                hint = f"Did you mean {close[0]!r}?"
            elif self.is_shallow() or ref.startswith("origin/"):
                hint = HISTORY_HINT
            else:
                hint = "Check the name with `git branch -a`."
            raise UsageError(f"The {what} ref {ref!r} does not exist in this repository.", hint=hint) from None

    def _branch_names(self) -> list[str]:
        try:
            out = self._git("for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/remotes")
        except UsageError:
            return []
        return [name for name in out.splitlines() if name and not name.endswith("/HEAD")]

    def describe_ref(self, ref: str) -> str:
        """HEAD as its branch name when it has one, for people reading the report."""
        if ref != "HEAD":
            return ref
        try:
            name = self._git("rev-parse", "--abbrev-ref", "HEAD")
        except UsageError:
            return ref
        return ref if name == "HEAD" else name

    def is_shallow(self) -> bool:
        try:
            return self._git("rev-parse", "--is-shallow-repository") == "true"
        except UsageError:
            return False

    def merge_base(self, a: str, b: str) -> str:
        try:
            return self._git("merge-base", a, b)
        except UsageError:
            if self.is_shallow():
                raise UsageError(
                    "This clone is shallow, and the base and head commits share no history in it.",
                    hint=HISTORY_HINT,
                ) from None
            raise UsageError(
                f"Commits {a[:12]} and {b[:12]} have no common ancestor; migbot cannot tell what the branch changes.",
            ) from None

    def default_branch(self) -> str:
        """origin/HEAD's target, else origin/main, origin/master, main, master; never the
        branch that is checked out (a clone made from a feature branch has origin/HEAD
        pointing at that branch)."""
        current = self.describe_ref("HEAD")
        candidates, passed_over = [], []
        try:
            remote_head = self._git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD").removeprefix("refs/remotes/")
            if remote_head != f"origin/{current}":
                candidates.append(remote_head)
            else:
                passed_over.append(f"origin/HEAD points at {remote_head}, the branch checked out")
        except UsageError:
            pass
        missing = []
        for candidate in candidates + ["origin/main", "origin/master", "main", "master"]:
            if candidate == current:  # on main, origin/main is the base (unpushed commits)
                passed_over.append(f"{candidate} is the branch checked out")
                continue
            try:
                self._git("rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}")
                return candidate
            except UsageError:
                missing.append(candidate)
        found = "; ".join(passed_over + [f"no {', '.join(missing)}"] if missing else passed_over)
        raise UsageError(
            f"Could not work out the base branch: {found}.",
            hint="Pass --base REF, for example --base origin/main. A shallow clone of one branch holds no other: "
                 "fetch the base first (git fetch --depth=50 origin main:refs/remotes/origin/main).",
        )

    # --- content ----------------------------------------------------------------
    def tree_blobs(self, commit: str) -> dict[str, str]:
        """Every file of `commit` with its blob id (equal ids: equal contents)."""
        out = self._git("ls-tree", "-r", "-z", commit)
        blobs = {}
        for entry in out.split("\0"):
            if not entry:
                continue
            meta, path = entry.split("\t", 1)
            _mode, kind, sha = meta.split()
            if kind == "blob":
                blobs[path] = sha
        return blobs

    def read_blobs(self, shas: list[str]) -> dict[str, bytes]:
        """Contents by blob id, in one `git cat-file --batch` call."""
        unique = list(dict.fromkeys(shas))
        return {sha: content for sha, content in zip(unique, self._cat_file(unique)) if content is not None}

    def read_files(self, commit: str, paths: list[str]) -> dict[str, bytes]:
        """Contents of many files at a commit in one `git cat-file --batch` call."""
        return {path: content for path, content in zip(paths, self._cat_file([f"{commit}:{p}" for p in paths]))
                if content is not None}

    def _cat_file(self, objects: list[str]) -> list[bytes | None]:
        if not objects:
            return []
        out: bytes = self._git("cat-file", "--batch", input="".join(f"{o}\n" for o in objects).encode(), text=False)
        contents: list[bytes | None] = []
        pos = 0
        for _ in objects:
            header_end = out.index(b"\n", pos)
            header = out[pos:header_end].split()
            if header and header[-1] == b"missing":  # "<name> missing"; the name may hold spaces
                contents.append(None)
                pos = header_end + 1
                continue
            size = int(header[2])
            contents.append(out[header_end + 1: header_end + 1 + size])
            pos = header_end + 1 + size + 1
        return contents

    def changes(self, old: str, new: str) -> list[Change]:
        out = self._git("diff", "--name-status", "-z", "--find-renames", "--no-ext-diff", old, new)
        fields = [f for f in out.split("\0") if f]
        changes, i = [], 0
        while i < len(fields):
            status = fields[i][0]
            if status in ("R", "C"):
                changes.append(Change(status, fields[i + 2], fields[i + 1]))
                i += 3
            else:
                changes.append(Change(status, fields[i + 1]))
                i += 2
        return changes

    def dirty_paths(self) -> tuple[list[str], list[str]]:
        """(changed, untracked) paths in the working tree, which migbot does not verify."""
        # --no-optional-locks: `git status` would otherwise refresh (rewrite) the user's index.
        entries = self._git("--no-optional-locks", "status", "--porcelain", "-z", "--untracked-files=normal",
                            strip=False).split("\0")
        changed, untracked = [], []
        i = 0
        while i < len(entries):
            entry = entries[i]
            i += 1
            if len(entry) < 4:
                continue
            status, path = entry[:2], entry[3:]
            if status == "??":
                untracked.append(path)
            else:
                changed.append(path)
                if "R" in status or "C" in status:
                    i += 1  # the next entry is the rename's original path
        return changed, untracked

    # --- trees --------------------------------------------------------------------
    def export_tree(self, commit: str, path: Path, *, wanted: Callable[[str], bool] | None = None,
                    required: Callable[[str], bool] = lambda _path: True) -> list[Unreadable]:
        """Write the files of `commit` (those `wanted`, else all) to `path`, as committed.

        A file git cannot produce is left out and returned, unless it is `required`: then
        the export fails naming it. Unlike `git worktree add`, this leaves the repository's
        metadata untouched (no worktree to prune if migbot is killed) and is safe to run
        concurrently.
        """
        entries = [Entry(mode, sha, name) for mode, sha, name in self.tree_entries(commit)
                   if wanted is None or wanted(name)]
        try:
            unreadable = write_tree(list(SAFE_GIT) + ["-C", str(self.root)], entries, path)
        except OSError as exc:
            raise InfraError(f"Could not write the files of {commit[:12]} into {path}: {exc}") from None
        needed = [u for u in unreadable if required(u.path)]
        if needed:
            shown = ", ".join(f"{u.path} ({u.reason})" for u in needed[:5])
            more = f" (and {len(needed) - 5} more)" if len(needed) > 5 else ""
            raise UsageError(
                f"git cannot read {len(needed)} file{'s' if len(needed) > 1 else ''} of commit {commit[:12]} that "
                f"the run needs: {shown}{more}.",
                hint="In a partial clone (git clone --filter) git fetches missing files from the remote: check that "
                "it is reachable, or clone without --filter. Otherwise objects are missing or damaged: "
                "`git fsck` lists them.",
            )
        return unreadable

    def tree_entries(self, commit: str) -> list[tuple[str, str, str]]:
        """(mode, object id, path) of every file, symlink and submodule of `commit`; listed once
        per run (choosing the paths to export, exporting them and the base cache's key all ask)."""
        cached = self._tree_entries.get(commit)
        if cached is not None:
            return cached
        entries = []
        for line in self._git("ls-tree", "-r", "-z", "--full-tree", commit, strip=False).split("\0"):
            if line:
                meta, name = line.split("\t", 1)
                mode, _kind, sha = meta.split()
                entries.append((mode, sha, name))
        self._tree_entries[commit] = entries
        return entries


def at_root(path: str) -> bool:
    """Is this a file directly in the repository's top folder (pyproject.toml, setup.py, ...)?"""
    return "/" not in path


def unreadable_note(commits: list[str], unreadable: list[Unreadable]) -> str:
    """One sentence on the files of `commits` left out of their exports."""
    shown = ", ".join(f"{u.path} ({u.reason})" for u in unreadable[:3])
    more = f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else ""
    which = f"commit {commits[0][:12]}" if len(commits) == 1 else \
        f"commits {', '.join(c[:12] for c in commits[:-1])} and {commits[-1][:12]}"
    return (f"migbot left out {len(unreadable)} file{'s' if len(unreadable) > 1 else ''} of {which} that git could "
            f"not read, none of which the Alembic project was found to need: {shown}{more}.")
