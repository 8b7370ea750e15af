"""A revision graph built from statically parsed revision files.

It serves the checks that run before anything executes (duplicate ids, broken links,
heads, heads after merge). The order in which revisions run comes from Alembic itself
(see run/executor.py), never from here."""

from __future__ import annotations

from collections import defaultdict

from migbot.discover.revisions import RevisionFile


class RevisionGraph:
    def __init__(self, revisions: list[RevisionFile]):
        self.files = revisions
        self.by_id: dict[str, RevisionFile] = {}
        self.duplicates: dict[str, list[RevisionFile]] = defaultdict(list)
        for rev in revisions:
            if not rev.revision:
                continue
            if rev.revision in self.by_id:
                if not self.duplicates[rev.revision]:
                    self.duplicates[rev.revision].append(self.by_id[rev.revision])
                self.duplicates[rev.revision].append(rev)
            else:
                self.by_id[rev.revision] = rev
        self.duplicates = {k: v for k, v in self.duplicates.items() if v}
        self.children: dict[str, set[str]] = defaultdict(set)
        for rev in self.by_id.values():
            for parent in rev.down_revisions:
                self.children[parent].add(rev.revision)

    @property
    def ids(self) -> set[str]:
        return set(self.by_id)

    def heads(self) -> list[str]:
        return sorted(r for r in self.by_id if not self.children.get(r))

    def missing_parents(self) -> list[tuple[RevisionFile, str, str]]:
        """(revision, missing id, "down_revision" or "depends_on") for every broken link.
        depends_on may also name a branch label or a unique prefix of an id, as in Alembic."""
        labels = {label for rev in self.by_id.values() for label in rev.branch_labels}
        missing = []
        for rev in self.by_id.values():
            missing += [(rev, p, "down_revision") for p in rev.down_revisions if p not in self.by_id]
            missing += [(rev, d, "depends_on") for d in rev.depends_on
                        if d not in self.by_id and d not in labels
                        and sum(1 for r in self.by_id if r.startswith(d)) != 1]
        return missing

    @staticmethod
    def merged(*graphs: "RevisionGraph") -> "RevisionGraph":
        """The graph after a merge: one file per revision id, first graph wins."""
        seen: dict[str, RevisionFile] = {}
        for graph in graphs:
            for rev_id, rev in graph.by_id.items():
                seen.setdefault(rev_id, rev)
        return RevisionGraph(list(seen.values()))
