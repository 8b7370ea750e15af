"""Edited downgrades of base revisions, run with the branch's code.

A branch may fix the broken downgrade of a revision that is already on the base
branch: databases that applied it run the new downgrade when they roll back. So
migbot runs it the way they would: from the base heads, down past the revision
(with every applied revision that needs it, in the reverse of Alembic's order), and
back up; the schema must come back as the base state had it.
"""

from __future__ import annotations

from migbot.evidence import AlembicMap, EditedDowngrade
from migbot.progress import Progress
from migbot.run.executor import TreeExecutor
from migbot.snapshot.compare import compare
from migbot.snapshot.types import Snapshot


def run_edited_downgrades(head: TreeExecutor, revisions: list[str], alembic: AlembicMap, base_heads: list[str], *,
                          template: str, base_snapshot: Snapshot, progress: Progress,
                          prefix: str = "") -> list[EditedDowngrade]:
    applied = set(base_heads) | alembic.ancestors(base_heads)
    planned = head.plan([])  # Alembic's order for the whole history
    runs = []
    for revision in revisions:
        run = EditedDowngrade(revision)
        runs.append(run)
        if revision not in applied:
            run.skipped = "the base database is not at this revision (it is not an ancestor of the base heads)"
            continue
        if not planned.ok:
            run.skipped = f"Alembic cannot order the history: {planned.error.message}"
            continue
        needs = ({revision} | alembic.descendants(revision)) & applied
        order = [r for r in planned.result["revisions"] if r in needs]
        run.unapplied = list(reversed(order))
        head.db.reset(template, base_snapshot)
        progress.step(f"{prefix}{revision}: the edited downgrade")
        run.down = head.apply(run.unapplied, upgrade=False)
        if not run.down.ok:
            continue
        progress.step(f"{prefix}{revision}: upgrade again after the edited downgrade")
        run.up = head.apply(order, upgrade=True)
        if run.up.ok:
            run.restored = compare(base_snapshot, head.db.snapshot())
    return runs
