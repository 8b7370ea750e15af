"""The round trip: every new revision down to the base heads in one run, then `upgrade
heads` in one command, as a rollback and a redeploy would do it.

Going down applies exactly the new revisions' downgrades, in the reverse of Alembic's
upgrade order, so it lands on the base heads whatever their number, and whether the
branch grew from them or started a branch of its own. It starts from the stairway's
end state when that is at heads and beyond doubt, else from the base template after
one `upgrade heads`.
"""

from __future__ import annotations

from migbot.evidence import RoundTrip, Trip
from migbot.progress import Progress
from migbot.run.executor import TreeExecutor
from migbot.run.stairway import cannot_go_down
from migbot.snapshot.compare import compare
from migbot.snapshot.types import Snapshot


def round_trip(head: TreeExecutor, revisions: list[str], trips: list[Trip], *, at_heads: bool, template: str,
               base_snapshot: Snapshot, progress: Progress, prefix: str = "") -> RoundTrip:
    rt = RoundTrip()
    db = head.db
    if not revisions:
        rt.skipped = "the branch adds no revisions"
        return rt
    failed = [t.revision for t in trips if t.upgrade is not None and not t.upgrade.ok]
    if failed:
        rt.skipped = f"revision {failed[0]} does not upgrade"
        return rt
    untried = [t.revision for t in trips if t.upgrade is None]
    if untried:
        rt.skipped = f"the stairway stopped before revision {untried[0]}"
        return rt
    blocked = [(t.revision, reason) for t in trips if (reason := cannot_go_down(t))]
    if blocked:
        rt.skipped = f"revision {blocked[0][0]} cannot be undone: {blocked[0][1]}"
        return rt
    if not at_heads:
        db.reset(template, base_snapshot)
        progress.step(f"{prefix}round trip: upgrade heads")
        rt.up = head.upgrade("heads")
        if not rt.up.ok:
            return rt
    at_head = db.snapshot()
    progress.step(f"{prefix}round trip: downgrade to the base heads")
    rt.down = head.apply(list(reversed(revisions)), upgrade=False)
    if not rt.down.ok:
        return rt
    rt.down_diff = compare(base_snapshot, db.snapshot())
    rt.down_heads = db.heads()
    progress.step(f"{prefix}round trip: upgrade heads again")
    rt.up_again = head.upgrade("heads")
    if rt.up_again.ok:
        rt.up_diff = compare(at_head, db.snapshot())
    return rt
