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

    def missing_parents(self) -> list[tuple[RevisionFile, str]]:
        return [
            (rev, parent)
            for rev in self.by_id.values()
            for parent in (*rev.down_revisions, *rev.depends_on)
            if parent not in self.by_id and not self._is_label(parent)
        ]

    def _is_label(self, name: str) -> bool:
        return any(name in rev.branch_labels for rev in self.by_id.values())

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
        """The revisions of `subset`, parents before children, ties by file path."""
        order: list[str] = []
        done: set[str] = set()

        def visit(rev_id: str, path: tuple[str, ...]) -> None:
            if rev_id in done or rev_id not in subset or rev_id in path:
                return  # a cycle is reported by Alembic when it loads; don't recurse forever
            for parent in sorted(self.by_id[rev_id].down_revisions):
                visit(parent, path + (rev_id,))
            done.add(rev_id)
            order.append(rev_id)

        for rev_id in sorted(subset, key=lambda r: self.by_id[r].path):
            visit(rev_id, ())
        return order

    @staticmethod
    def merged(*graphs: "RevisionGraph") -> "RevisionGraph":
        """The graph after a merge: one file per revision id, first graph wins."""
        seen: dict[str, RevisionFile] = {}
        for graph in graphs:
            for rev_id, rev in graph.by_id.items():
                seen.setdefault(rev_id, rev)
        return RevisionGraph(list(seen.values()))
