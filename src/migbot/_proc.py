"""Child processes that never outlive migbot.

Every child gets its own session (so one killpg reaches all its descendants) and,
on Linux, a parent-death signal: if migbot is killed outright, the kernel signals
the child. The parent-death signal is tied to the *thread* that forks, so
children must be spawned from the main thread.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from typing import Any

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _parent_death_signal(sig: int):
    def preexec() -> None:
        # Runs in the child after the uid/gid switch (which would clear it).
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return preexec


def spawn(args: list[str], *, death_signal: int = signal.SIGKILL, **kwargs: Any) -> subprocess.Popen:
    """Popen in a new session that dies with migbot."""
    return subprocess.Popen(
        args,
        start_new_session=True,
        preexec_fn=_parent_death_signal(death_signal),
        **kwargs,
    )


def terminate(proc: subprocess.Popen, *, first: int = signal.SIGTERM, grace: float = 5.0) -> None:
    """Stop a child and everything in its session: `first`, then SIGKILL after `grace`."""
    if proc.poll() is None:
        _killpg(proc.pid, first)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    # The session may hold grandchildren even after the leader exited.
    _killpg(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:  # pragma: no cover - unkillable (D state)
        pass


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
