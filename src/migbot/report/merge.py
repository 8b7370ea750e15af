"""One report from several runs over the same commits: the jobs of a monorepo's matrix, each
`migbot verify --project` of one Alembic project."""

from __future__ import annotations

from itertools import pairwise

from migbot.report.model import Counts, Report


def merge_reports(reports: list[Report]) -> Report:
    """The projects of every report side by side (by ini path), their result and counts
    recomputed, and each note once. ValueError when the reports are not of the same commits,
    or two of them hold the same project."""
    if not reports:
        raise ValueError("no report to merge")
    first = reports[0]
    if len(reports) == 1:
        return first
    other = next((r for r in reports if r.refs != first.refs), None)
    if other is not None:
        raise ValueError(f"the reports are of different commits ({first.refs.head} against {first.refs.base}, "
                         f"and {other.refs.head} against {other.refs.base})")
    projects = sorted((p for r in reports for p in r.projects), key=lambda p: p.alembic_ini)
    twice = sorted({a.alembic_ini for a, b in pairwise(projects) if a.alembic_ini == b.alembic_ini})
    if twice:
        raise ValueError(f"more than one report holds {', '.join(twice)}")
    return Report(
        migbot_version=first.migbot_version,
        result="fail" if any(p.result == "fail" for p in projects) else "pass",
        refs=first.refs,
        database="; ".join(dict.fromkeys(r.database for r in reports)),
        started_at=min(r.started_at for r in reports),
        seconds=max(r.seconds for r in reports),  # the jobs of a matrix run side by side
        projects=projects,
        counts=Counts.of(projects),
        notes=list(dict.fromkeys(note for r in reports for note in r.notes)),
    )
