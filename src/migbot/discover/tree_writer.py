"""Writing chosen files of a commit into a folder, straight from git's objects.

One `git cat-file --batch` streams the blobs; each is written with its mode (the
executable bit, symlinks). Nothing of the repository's configuration runs: no
hooks, no smudge or eol filters (a Git LFS file is its pointer), so the files are
exactly as committed, as migbot's static reading sees them. A blob git cannot
produce (a partial clone's missing blob whose remote is gone, a deleted or damaged
object) is returned as unreadable instead of ending the export, so that the caller
decides whether the project needed it.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

FILE_MODES = {"100644": 0o666, "100755": 0o777}  # the umask applies, as in git
SYMLINK, SUBMODULE = "120000", "160000"


@dataclass(frozen=True)
class Entry:
    mode: str
    sha: str
    path: str


@dataclass(frozen=True)
class Unreadable:
    path: str
    reason: str


def write_tree(git: list[str], entries: list[Entry], dest: Path) -> list[Unreadable]:
    """Write `entries` (from `git ls-tree -r`) under `dest`; returns those git could not
    produce, or whose path is unsafe to write. OSError: `dest` could not be written."""
    folders = _folders(entry.path for entry in entries if _sane(entry.path))
    unreadable = [Unreadable(e.path, "an unsafe path") for e in entries if not _sane(e.path) or e.path in folders]
    refused = {u.path for u in unreadable}
    entries = [e for e in entries if e.path not in refused]
    root = os.fspath(dest)
    os.makedirs(root, exist_ok=True)
    for folder in sorted(folders):
        os.makedirs(f"{root}/{folder}", exist_ok=True)
    for entry in entries:
        if entry.mode == SUBMODULE:  # as checkout does: the folder, without its contents
            os.makedirs(f"{root}/{entry.path}", exist_ok=True)
    symlinks: list[tuple[str, bytes]] = []
    for entry, content in _stream(git, [e for e in entries if e.mode != SUBMODULE], unreadable):
        if entry.mode == SYMLINK:
            symlinks.append((entry.path, content))  # last: no file is ever written through one
            continue
        fd = os.open(f"{root}/{entry.path}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODES.get(entry.mode, 0o666))
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
    for path, target in symlinks:
        os.symlink(os.fsdecode(target), f"{root}/{path}")
    return unreadable


def _folders(paths) -> set[str]:
    """Every folder that holds one of `paths`."""
    folders: set[str] = set()
    for path in paths:
        folder = posixpath.dirname(path)
        while folder and folder not in folders:
            folders.add(folder)
            folder = posixpath.dirname(folder)
    return folders


def _sane(path: str) -> bool:
    """git's own rule for a path it checks out: no `..`, `.` or `.git` part. (A path that is
    also a folder is refused too: as a symlink, files below it would be written through it.)"""
    return not any(part in ("", ".", "..") or part.lower() == ".git" for part in path.split("/"))


def _stream(git: list[str], entries: list[Entry], unreadable: list[Unreadable]):
    """(entry, content) for each blob git can read, in order. When `git cat-file` dies on an
    object (a partial clone whose remote cannot send it dies rather than saying "missing"),
    that object is unreadable and a new process goes on from the next one."""
    pending = entries
    while pending:
        proc = subprocess.Popen([*git, "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        stderr: list[bytes] = []
        helpers = [threading.Thread(target=_feed, args=(proc, pending), daemon=True),
                   threading.Thread(target=_collect, args=(proc.stderr, stderr), daemon=True)]
        for helper in helpers:
            helper.start()
        answered = 0
        try:
            for entry in pending:
                header = proc.stdout.readline().split()
                if header and header[-1] == b"missing":
                    answered += 1
                    unreadable.append(Unreadable(entry.path, "object missing"))
                    continue
                size = int(header[2]) + 1 if len(header) == 3 else -1  # the content and a newline
                content = proc.stdout.read(size) if size > 0 else b""
                if len(content) != size:
                    break  # git died on this object
                answered += 1
                yield entry, content[:-1]
        finally:
            if answered < len(pending):
                proc.kill()
            proc.wait()
            for helper in helpers:
                helper.join()
            proc.stdout.close()
            proc.stderr.close()
        if answered < len(pending):
            lines = b"".join(stderr).decode(errors="replace").strip().splitlines()
            reason = lines[-1] if lines else f"git cat-file exited with code {proc.returncode}"
            unreadable.append(Unreadable(pending[answered].path, reason))
            answered += 1
        pending = pending[answered:]


def _feed(proc: subprocess.Popen, entries: list[Entry]) -> None:
    try:
        proc.stdin.write("".join(f"{entry.sha}\n" for entry in entries).encode())
        proc.stdin.close()
    except OSError:  # git died: what it answered is kept, the rest is asked again
        try:
            proc.stdin.close()
        except OSError:
            pass


def _collect(stream, into: list[bytes]) -> None:
    into.append(stream.read())
