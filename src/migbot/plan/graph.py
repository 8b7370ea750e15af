"""A revision graph built from statically parsed revision files."""

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

    def ancestors(self, revision: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.by_id[revision].down_revisions) if revision in self.by_id else []
        while stack:
            current = stack.pop()
            if current in seen or current not in self.by_id:
                continue
            seen.add(current)
            stack.extend(self.by_id[current].down_revisions)
        return seen

    def topological(self, subset: set[str]) -> list[str]:
        """The revisions of `subset`, parents before children, ties by file path.

        Iterative: a chain of thousands of revisions must not hit the recursion limit.
        Revisions caught in a cycle (which Alembic rejects) come last, once each."""
        pending = {r: {p for p in self.by_id[r].down_revisions if p in subset} for r in subset}
        ready = sorted((r for r, parents in pending.items() if not parents), key=self._order_key, reverse=True)
        order: list[str] = []
        while ready:
            rev_id = ready.pop()
            order.append(rev_id)
            for child in sorted(self.children.get(rev_id, ()), key=self._order_key, reverse=True):
                if child in pending and rev_id in pending[child]:
                    pending[child].discard(rev_id)
                    if not pending[child]:
                        ready.append(child)
        placed = set(order)
        return order + sorted((r for r in subset if r not in placed), key=self._order_key)

    def _order_key(self, rev_id: str) -> str:
        return self.by_id[rev_id].path

    @staticmethod
    def merged(*graphs: "RevisionGraph") -> "RevisionGraph":
        """The graph after a merge: one file per revision id, first graph wins."""
        seen: dict[str, RevisionFile] = {}
        for graph in graphs:
            for rev_id, rev in graph.by_id.items():
                seen.setdefault(rev_id, rev)
        return RevisionGraph(list(seen.values()))
