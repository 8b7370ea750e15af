"""The base state, kept between runs.

Every push to a pull request verifies against the same merge-base, and on a long history
building its state (loading every revision, `upgrade heads`, the base's model drift, its
rows) costs more than checking the branch. So a run whose base work took long keeps what
it built in the cache directory (MIGBOT_CACHE_DIR, else XDG's), under a key that holds
everything that decides that state:

- the merge-base's files that migbot exports for the project (their git blob ids): the
  revisions, env.py, the models and whatever else they import, the seeds;
- the project's settings and `superuser`;
- the server's version and kind (migbot's own, or which lent one);
- migbot's version;
- the project's interpreter, and the packages installed in it (their dist-info names).

An entry holds the base database and the base data database as pg_dump archives, and
the evidence the base worker produced. On a hit the archives are restored, and the
restored base is snapshotted live and compared with the snapshot taken when the entry
was made: a restore that did not reproduce the state exactly is a miss, and the base
is built as usual. Nothing of the project runs on a hit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pydantic import TypeAdapter

from migbot import __version__
from migbot.discover.seeds import SeedSetPlan
from migbot.evidence import AlembicMap, Fingerprint, StepOutcome
from migbot.snapshot.dump import Dumper
from migbot.snapshot.types import Snapshot

FORMAT = 1
KEEP = 8  # entries; the least recently used go first
# Below this much base work (seconds), a cold run would pay more for the archives than a warm one saves.
WORTH_CACHING = 1.5


@dataclass
class BaseState:
    """What the base worker found, as the evidence holds it."""

    base_load: StepOutcome
    base_map: AlembicMap | None
    base_bootstrap: StepOutcome | None
    base_upgrade: StepOutcome
    base_heads: list[str]
    base_snapshot: Snapshot
    base_drift: StepOutcome
    version_table: tuple[str, str | None]
    base_runs: list[tuple[SeedSetPlan, StepOutcome]] = field(default_factory=list)
    synthetic_filled: dict[str, int] | None = None
    synthetic_skipped: dict[str, str] = field(default_factory=dict)
    base_fingerprints: dict[str, Fingerprint] = field(default_factory=dict)
    sequences_behind_base: dict[str, str] = field(default_factory=dict)
    owner: str = ""  # the role that owned the databases, named in the snapshot
    made_at: str = ""
    seconds: float = 0.0  # the base work it saves


_STATE = TypeAdapter(BaseState)


def mode() -> str:
    """MIGBOT_BASE_CACHE: `off`, `always` (even a quick base), else `auto`."""
    value = os.environ.get("MIGBOT_BASE_CACHE", "auto").strip().lower()
    return value if value in ("off", "always") else "auto"


def interpreter_packages(python: str) -> list[str]:
    """The dist-info and egg-info names in the interpreter's site folders (versions included),
    found without running it: a venv's own, else those beside the real executable."""
    exe = Path(python)
    prefixes = [exe.parent.parent]
    try:
        prefixes.append(exe.resolve().parent.parent)
    except OSError:
        pass
    names: set[str] = set()
    for prefix in dict.fromkeys(prefixes):
        for folder in [*prefix.glob("lib/python3*/site-packages"), *prefix.glob("lib/python3*/dist-packages"),
                       *prefix.glob("lib/python3/dist-packages"), *prefix.glob("local/lib/python3*/dist-packages")]:
            try:
                names.update(f"{folder.name}/{entry.name}" for entry in os.scandir(folder)
                             if entry.name.endswith((".dist-info", ".egg-info", ".egg-link", ".pth")))
            except OSError:
                continue
    return sorted(names)


def cache_key(*, files: list[tuple[str, str]], settings: str, superuser: bool, server: str, python: str) -> str:
    """A digest of everything that decides the base state (see the module's docstring)."""
    parts = {
        "format": FORMAT, "migbot": __version__, "files": sorted(files), "settings": settings,
        "superuser": superuser, "server": server, "python": python, "packages": interpreter_packages(python),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


class BaseCache:
    def __init__(self, root: Path, dumper: Dumper):
        """`dumper`: the run's pg_dump, whose connection and environment the archives use too."""
        self.root = root / "bases"
        self.dumper = dumper
        self.pg_dump = dumper.pg_dump
        self.pg_restore = str(Path(dumper.pg_dump).with_name("pg_restore"))

    # --- reading --------------------------------------------------------------------------
    def find(self, key: str) -> BaseState | None:
        entry = self.root / key
        try:
            state = _STATE.validate_json((entry / "state.json").read_bytes())
            os.utime(entry)  # recently used
        except (OSError, ValueError):
            return None
        return state if (entry / "base.dump").is_file() and (entry / "data.dump").is_file() else None

    def restore(self, key: str, which: str, dbname: str, role: str | None) -> str | None:
        """Restore archive `which` (base or data) into the empty database `dbname`, as `role`
        (the objects' owner); returns why it failed, if it did."""
        args = [self.pg_restore, "--no-owner", "--exit-on-error", "--single-transaction",
                f"--dbname={self.dumper.conninfo(dbname)}", *([f"--role={role}"] if role else []),
                str(self.root / key / f"{which}.dump")]
        return self._run(args)

    # --- writing --------------------------------------------------------------------------
    def save(self, key: str, state: BaseState, databases: dict[str, str]) -> str | None:
        """Keep the state and the archives of `databases` ({"base": name, "data": name});
        returns why not, if it could not."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".new-", dir=self.root))
        except OSError as exc:
            return f"the cache directory {self.root} is not writable ({exc.strerror})"
        try:
            processes = {which: subprocess.Popen(
                [self.pg_dump, "--format=custom", "--compress=0", "--no-owner", f"--file={staging / which}.dump",
                 f"--dbname={self.dumper.conninfo(name)}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True, env=self.dumper.env()) for which, name in databases.items()}
            for which, process in processes.items():
                _, err = process.communicate(timeout=600)
                if process.returncode != 0:
                    return f"pg_dump of the {which} database failed: {err.strip()[:200]}"
            (staging / "state.json").write_bytes(_STATE.dump_json(state))
            # Readable by others: on GitHub, actions/cache saves what the action's container (root) wrote.
            for path in (staging, *staging.iterdir()):
                path.chmod(0o755 if path.is_dir() else 0o644)
            target = self.root / key
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            os.rename(staging, target)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"the base state could not be kept: {exc}"
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._prune()
        return None

    def _prune(self) -> None:
        try:
            entries = sorted((e for e in self.root.iterdir() if not e.name.startswith(".")),
                             key=lambda e: e.stat().st_mtime, reverse=True)
            for stale in entries[KEEP:]:
                shutil.rmtree(stale, ignore_errors=True)
            for leftover in self.root.glob(".new-*"):  # a run killed while saving
                if time.time() - leftover.stat().st_mtime > 3600:
                    shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass

    # --- helpers --------------------------------------------------------------------------
    def _run(self, args: list[str]) -> str | None:
        try:
            result = subprocess.run(args, check=False, capture_output=True, text=True, env=self.dumper.env(), timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            return str(exc)
        if result.returncode != 0:
            first = next((line for line in result.stderr.splitlines() if line.strip()), "no message")
            return first.removeprefix("pg_restore: ").strip()
        return None


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RestoredData:
    """The base data database, restored from the cache on a thread that overlaps the head's
    work: what data.BaseData builds on a cold run."""

    def __init__(self, cache: BaseCache, key: str, databases, *, role: str):
        self.name = databases.create(role)
        self._why: str | None = None
        self._thread = threading.Thread(target=self._restore, args=(cache, key, databases.owner),
                                        name="migbot-cached-data", daemon=True)
        self._thread.start()

    def _restore(self, cache: BaseCache, key: str, owner: str | None) -> None:
        self._why = cache.restore(key, "data", self.name, owner)

    def result(self) -> str | None:
        """Waits for the restore; why it failed, if it did."""
        self._thread.join()
        return self._why

    def wait(self) -> None:
        self._thread.join()
