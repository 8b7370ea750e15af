"""A long branch's stairway in two halves at once, on two databases and two head workers.

The stairway is a chain: each revision starts where the one before ended. Its work
alternates between the worker, PostgreSQL and migbot's catalog reads, so one chain keeps
about one core busy. On a machine with two or more, a branch of SPLIT_FROM revisions or
more is walked as two chains:

- the first half, by a second head worker on its own clone of the base template;
- the second half, by the head worker, from the first half applied once (one command, then
  cloned as that half's template, for rebuilds after a failed step).

A walk in one chain starts each revision from the one before gone up, down and up again;
the second half here starts from the first half gone up once, as a deploy would. The two
agree on the schema whenever the first half's re-upgrades gave back exactly their first
upgrade's schema, which is what the first half's walk reports as clean. When it does not,
the second half is walked again from where the first half's walk really ended; when the
first half stopped (an upgrade failed), the second half is not tried, as in one chain.
"""

from __future__ import annotations

import os
import threading
from typing import Callable

from migbot.evidence import Trip
from migbot.run.database import Database
from migbot.run.executor import Abandoned, TreeExecutor
from migbot.run.stairway import Stairway

SPLIT_FROM = 40


def worth_splitting(revisions: list[str]) -> bool:
    """MIGBOT_STAIRWAY_SPLIT: `off`, `always` (from 2 revisions on), else on 2 cores or more from SPLIT_FROM."""
    forced = os.environ.get("MIGBOT_STAIRWAY_SPLIT", "").strip().lower()
    if forced in ("off", "always"):
        return forced == "always" and len(revisions) >= 2
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores >= 2 and len(revisions) >= SPLIT_FROM


def walk_in_halves(head: TreeExecutor, helper: TreeExecutor, revisions: list[str], *, template: str,
                   template_snapshot, clone: Callable[[str, str], Database], **stairway) -> tuple[list[Trip], bool]:
    """The trips of `revisions` and whether the head database ended at heads, beyond doubt, as
    Stairway.walk(). helper: a head worker of its own on a clone of the template; clone(name,
    source): a new database copied from `source`."""
    middle = len(revisions) // 2
    first, second = revisions[:middle], revisions[middle:]
    walked: dict = {}

    def walk_first_half() -> None:
        try:
            loaded = helper.load()
            if not loaded.ok:
                walked["error"] = loaded
                return
            stairway_ = Stairway(helper, first, template=template, template_snapshot=template_snapshot, **stairway)
            walked["trips"], walked["clean"] = stairway_.walk()
            walked["stopped"] = stairway_.stopped
        except Abandoned:
            walked["raised"] = None
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            walked["raised"] = exc

    thread = threading.Thread(target=walk_first_half, name="migbot-first-half", daemon=True)
    thread.start()
    try:
        head.db.reset(template, template_snapshot)
        prepared = head.apply(first, upgrade=True)
        middle_db = clone("head_middle", head.db.name) if prepared.ok else None
        second_walk = Stairway(head, second, template=middle_db.name, template_snapshot=None, **stairway) \
            if middle_db is not None else None
        trips, clean = second_walk.walk() if second_walk is not None else ([], False)
    except BaseException:
        helper.abandon()  # interrupted, or failed: the first half's results are not wanted
        raise
    finally:
        thread.join()
    if walked.get("raised") is not None:
        raise walked["raised"]
    if "error" in walked:  # the second worker could not load what the first one did: one chain after all
        return Stairway(head, revisions, template=template, template_snapshot=template_snapshot, **stairway).walk()
    if walked["stopped"]:
        skipped = dict.fromkeys(("upgrade", "downgrade", "restored", "reupgrade"), walked["stopped"])
        return walked["trips"] + [Trip(rev, skipped=dict(skipped)) for rev in second], False
    if not walked["clean"] or second_walk is None:
        # Start the second half where the first half's walk really ended.
        helper.end_session()
        ended = clone("head_middle", helper.db.name)
        trips, clean = Stairway(head, second, template=ended.name, template_snapshot=None, **stairway).walk()
    return walked["trips"] + trips, clean
