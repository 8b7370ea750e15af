"""The base state: the merge-base's own code runs `upgrade heads` (after the configured
bootstrap, if any) in a fresh database. Its alembic_version gives the base heads, and
the database becomes the template every later clone starts from."""

from __future__ import annotations

import time

from migbot.evidence import Evidence
from migbot.progress import Progress
from migbot.run.executor import TreeExecutor


def build_base(base: TreeExecutor, ev: Evidence, *, bootstrap: str | None, progress: Progress,
               prefix: str = "") -> bool:
    """Fills ev.base_*; True when the base state was built."""
    started = time.monotonic()
    progress.step(f"{prefix}loading env.py and models at base")
    ev.base_load = base.load()
    ev.timings.append(("base: load env.py and models", round(time.monotonic() - started, 3)))
    if not ev.base_load.ok:
        return False
    base.db.version_table.learn(ev.base_load.result)
    ev.base_map = base.alembic_map(ev.base_load.result)
    started = time.monotonic()
    if bootstrap:
        progress.step(f"{prefix}base: running the bootstrap command")
        ev.base_bootstrap = base.shell(bootstrap)
        if not ev.base_bootstrap.ok:
            return False
    progress.step(f"{prefix}base: alembic upgrade heads")
    ev.base_upgrade = base.upgrade("heads")
    ev.timings.append(("base: build the base state", round(time.monotonic() - started, 3)))
    if not ev.base_upgrade.ok:
        return False
    ev.base_heads = base.db.heads()
    ev.base_snapshot = base.db.snapshot()
    return True
