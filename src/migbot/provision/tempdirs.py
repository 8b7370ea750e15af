"""migbot's temp dirs, and sweeping up after runs that were killed outright.

Each dir holds a lock file that its run keeps locked (flock) until it exits; the
kernel releases the lock when the process dies, however it dies. A dir whose lock
can be taken belongs to no live run. Unlike a pid check, this also holds when
containers share /tmp or /dev/shm but not their process ids.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path

LOCK = ".migbot-lock"
_held: dict[Path, int] = {}  # lock fds, kept open (and locked) until the dir is removed


def claim_temp_dir(prefix: str, parent: Path | str | None = None) -> Path:
    """A new temp dir (mode 0711: PostgreSQL's user may need to walk through it), locked."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent)).resolve()
    os.chmod(path, 0o711)
    fd = os.open(path / LOCK, os.O_WRONLY | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _held[path] = fd
    return path


def remove_temp_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    fd = _held.pop(path, None)
    if fd is not None:
        os.close(fd)


def sweep_stale(roots: list[Path]) -> None:
    """Remove migbot temp dirs left by runs that no longer exist."""
    for root in roots:
        if not root.is_dir():
            continue
        for path in root.glob("migbot-*"):
            lock = path / LOCK
            try:
                fd = os.open(lock, os.O_WRONLY)
            except OSError:
                continue  # not one of ours, or not readable by us
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live run holds it
            finally:
                os.close(fd)
            shutil.rmtree(path, ignore_errors=True)
