"""Assembling a project's report, including the Database Task Summary, from the
plan, the live evidence and the check verdicts."""

from __future__ import annotations

from migbot.checks.data import touched_tables
from migbot.evidence import Evidence, SeedRun, StepOutcome, Trip
from migbot.plan.changes import ProjectPlan
from migbot.report.model import (
    CheckResult, Drift, Heads, Lock, MigrationEntry, ProjectReport, RevisionRun, SchemaImpact, SeedData, SeedSetRun,
    Statement, Step, TaskSummary, Timing, Verification,
)
from migbot.snapshot.compare import compare
from migbot.snapshot.types import ObjectDiff, SchemaDiff

MAX_CHANGE_LINES = 20
MAX_TABLE_ITEMS = 4  # changes named on a table's line
MAX_NAMED = 6  # tables named in a sentence


def build_project_report(plan: ProjectPlan, ev: Evidence, checks: list[CheckResult], drift: Drift) -> ProjectReport:
    impact_diff = (compare(ev.base_snapshot, ev.head_snapshot)
                   if ev.base_snapshot is not None and ev.head_snapshot is not None else None)
    by_id = {c.id: c for c in checks}
    seeds = _seed_data(ev)
    stairway = [_revision_run(plan, ev, trip) for trip in ev.trips]
    touched = {table: n for table in touched_tables(ev) if (n := ev.data.base_rows.get(table))}
    summary = TaskSummary(
        changes_made=_changes_made(plan, ev, impact_diff),
        files_modified=_files_modified(plan, ev),
        migrations=_migrations(plan, ev, by_id),
        schema_impact=_schema_impact(impact_diff),
        seed_data=_seed_lines(seeds, by_id, touched),
        verification=_verification(ev, by_id),
    )
    return ProjectReport(
        name=plan.name,
        alembic_ini=plan.project.ini_path,
        result="fail" if any(c.status == "fail" for c in checks) else "pass",
        base_has_alembic=ev.base_has_alembic,
        heads=Heads(
            merge_base=sorted(ev.base_map.heads) if ev.base_map else plan.merge_base.graph.heads(),
            base_tip=plan.base_tip.graph.heads(),
            head=sorted(ev.alembic.heads) if ev.alembic else plan.head.graph.heads(),
            after_merge=plan.after_merge.heads(),
            database_at_base=ev.base_heads,
            database_at_head=ev.head_heads,
        ),
        summary=summary,
        checks=checks,
        stairway=stairway,
        drift=drift,
        seeds=seeds,
        timings=[Timing(step=label, seconds=seconds) for label, seconds in ev.timings],
    )


def _step(outcome: StepOutcome | None, skipped: str | None, diff: SchemaDiff | None = None) -> Step:
    if skipped is not None:
        return Step(status="skip", note=skipped)
    if outcome is None:
        return Step(status="skip", note="not run")
    if not outcome.ok:
        return Step(status="fail", seconds=round(outcome.seconds, 3),
                    note=(outcome.error.message.splitlines() or [outcome.error.type])[0][:200])
    if diff is not None and diff.structural:
        return Step(status="fail", seconds=round(outcome.seconds, 3), note=_differences(len(diff.structural)))
    return Step(status="pass", seconds=round(outcome.seconds, 3))


def _differences(n: int) -> str:
    return f"{n} schema difference{'' if n == 1 else 's'}"


def _revision_run(plan: ProjectPlan, ev: Evidence, trip: Trip) -> RevisionRun:
    static = plan.revision_file(trip.revision)
    live = ev.alembic.revisions.get(trip.revision) if ev.alembic else None
    restored_skip = trip.skipped.get("restored")
    if restored_skip is None and trip.restored is None:
        restored_skip = "not run"
    if restored_skip is None and trip.downgrade_left_it_all():
        restored_skip = "the downgrade did nothing"
    restored = (Step(status="skip", note=restored_skip) if restored_skip is not None else
                Step(status="fail", note=_differences(len(trip.restored.structural))) if trip.restored.structural
                else Step(status="pass", note="columns in another order" if trip.restored.reordered else ""))
    downgrade = _step(trip.downgrade, trip.skipped.get("downgrade"))
    if trip.downgrade_refused():
        downgrade = Step(status="skip", seconds=round(trip.downgrade.seconds, 3),
                         note=f"raises on purpose ({trip.downgrade.error.type})")
    elif restored_skip == "the downgrade did nothing":
        downgrade = Step(status="skip", seconds=round(trip.downgrade.seconds, 3), note="does nothing")
    return RevisionRun(
        revision=trip.revision,
        file=(live.path if live else None) or (static.path if static else None),
        description=static.summary if static else (live.doc if live else ""),
        upgrade=_step(trip.upgrade, trip.skipped.get("upgrade")),
        downgrade=downgrade,
        schema_restored=restored,
        reupgrade=_step(trip.reupgrade, trip.skipped.get("reupgrade"), trip.reupgraded),
        statements=(statements := _statements(trip.upgrade, trip.revision)),
        strongest_locks=_strongest(statements),
        over_data=(over_data := _statements(ev.data.up, trip.revision)),
        rows={lock.table: ev.data.base_rows[lock.table] for lock in _strongest(over_data)
              if lock.table in ev.data.base_rows},
    )


# PostgreSQL's table lock modes, weakest first.
LOCK_MODES = ("ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE", "SHARE ROW EXCLUSIVE",
              "EXCLUSIVE", "ACCESS EXCLUSIVE")


def _mode_name(mode: str) -> str:
    """AccessExclusiveLock -> ACCESS EXCLUSIVE, as PostgreSQL's documentation names it."""
    words = "".join(f" {c}" if c.isupper() else c for c in mode.removesuffix("Lock")).split()
    return " ".join(words).upper()


def _statements(outcome: StepOutcome | None, revision: str) -> list[Statement]:
    """What the worker saw the revision's upgrade run (observe.py), if it was observed."""
    if outcome is None or not isinstance(outcome.result, dict):
        return []
    step = next((s for s in outcome.result.get("steps", []) if s.get("revision") == revision and s.get("upgrade")),
                None)
    return [Statement(sql=s["sql"], parameters=s.get("parameters", ""), line=s.get("line"),
                      seconds=s.get("seconds", 0.0),
                      locks=_strongest_of([Lock(table=table, mode=_mode_name(mode)) for table, mode in s.get("locks", [])]),
                      rewrote=s.get("rewrote", []))
            for s in (step or {}).get("statements") or []]


def _strongest(statements: list[Statement]) -> list[Lock]:
    return _strongest_of([lock for s in statements for lock in s.locks])


def _strongest_of(locks: list[Lock]) -> list[Lock]:
    """The strongest mode per table (a stronger lock includes the weaker ones)."""
    strongest: dict[str, str] = {}
    for lock in locks:
        held = strongest.get(lock.table)
        if held is None or _rank(lock.mode) > _rank(held):
            strongest[lock.table] = lock.mode
    return [Lock(table=table, mode=mode) for table, mode in sorted(strongest.items())]


def _rank(mode: str) -> int:
    return LOCK_MODES.index(mode) if mode in LOCK_MODES else -1


def _changes_made(plan: ProjectPlan, ev: Evidence, diff: SchemaDiff | None) -> list[str]:
    lines = [f"Adds or edits `{path}`, which reads like a revision file but is not part of the history migbot "
             "read (see the checks)" for path in _unread_revision_files(plan, ev)]
    verbs = {"added": "Adds", "modified": "Edits", "downgrade-edited": "Edits the downgrade of", "deleted": "Deletes",
             "reformatted": "Reformats"}
    for change in _in_alembic_order(plan, ev):
        rev = change.revision
        what = f" ({rev.summary})" if change.change == "added" else ""
        lines.append(f"{verbs[change.change]} migration `{rev.revision or change.path}`{what}")
    if diff is not None:
        schema_lines = _schema_lines(diff)
        if len(schema_lines) > MAX_CHANGE_LINES:
            more = len(schema_lines) - MAX_CHANGE_LINES
            schema_lines = schema_lines[:MAX_CHANGE_LINES] + [
                f"... and {more} more (every difference is listed under Schema Impact)"]
        lines += schema_lines
    elif lines:
        lines.append("Schema changes unknown: the branch's migrations did not run to head")
    return lines or ["No database changes"]


def _schema_lines(diff: SchemaDiff) -> list[str]:
    """The schema's changes by table: a table created or removed is one line with its counts, a
    table that stays is one line with its changes, and each object outside a table has its own."""
    created = {c.name: c for c in diff.of_kind("table", "added")}
    removed = {c.name for c in diff.of_kind("table", "removed")}
    whole = created.keys() | removed
    by_table: dict[str, list[ObjectDiff]] = {}
    others = []
    for change in diff.changes:
        if change.kind == "table" and change.name in whole:
            continue
        table = _table_of(change, whole)
        if table is not None:
            by_table.setdefault(table, []).append(change)
        else:
            others.append(change)
    lines = [f"Table `{name}` created: {_counts(by_table.pop(name, []), created[name].columns)}"
             for name in sorted(created)]
    lines += [f"Table `{name}` removed: {_counts(by_table.pop(name, []), [])}" for name in sorted(removed)]
    for name, changes in sorted(by_table.items()):
        shown = [c.describe().replace(f"`{name}.", "`", 1) for c in changes[:MAX_TABLE_ITEMS]]
        more = len(changes) - len(shown)
        lines.append(f"Table `{name}`: " + "; ".join(shown) + (f"; and {more} more" if more else ""))
    return lines + [_sentence(c) for c in others]


def _table_of(change: ObjectDiff, whole: set[str]) -> str | None:
    """The table a difference belongs to; a serial's sequence belongs to its table when that
    table is created or removed with it."""
    if change.table:
        return change.table
    if change.kind in ("table", "column order"):
        return change.name
    owner = (change.definition.get("owned_by") or "").rsplit(".", 1)[0]
    return owner if change.kind == "sequence" and owner in whole else None


def _counts(changes: list[ObjectDiff], column_names: list[str]) -> str:
    """"17 columns, 1 primary key, 6 foreign keys, 9 indexes" (column names too, when known)."""
    counted: dict[str, int] = {}
    for change in changes:
        what = change.definition.get("kind") if change.kind == "constraint" else change.kind
        counted[what or change.kind] = counted.get(what or change.kind, 0) + 1
    columns = counted.pop("column", 0) or len(column_names)
    parts = [_count(columns, "column") + (f" ({_capped(column_names, 8)})" if column_names else "")]
    parts += [_count(counted[what], what) for what in sorted(counted, key=_count_order) if what != "sequence"]
    return ", ".join(parts)


_COUNT_ORDER = ("primary key", "foreign key", "unique", "check", "exclusion", "index", "trigger", "policy")


def _count_order(what: str) -> tuple[int, str]:
    return (_COUNT_ORDER.index(what) if what in _COUNT_ORDER else len(_COUNT_ORDER), what)


def _capped(names: list[str], limit: int) -> str:
    return ", ".join(names[:limit]) + (f", and {len(names) - limit} more" if len(names) > limit else "")


def _new_tables(diff: SchemaDiff) -> set[str]:
    return {c.name for c in diff.of_kind("table", "added")}


def _sentence(change) -> str:
    text = change.text
    return text[0].upper() + text[1:]


def _in_alembic_order(plan: ProjectPlan, ev: Evidence) -> list:
    """The branch's revision changes, added revisions in the order Alembic applies them."""
    position = {rev: i for i, rev in enumerate(ev.new_revisions)}
    kinds = {"added": 0, "modified": 1, "downgrade-edited": 2, "deleted": 3, "reformatted": 4}
    return sorted(plan.revision_changes,
                  key=lambda c: (kinds[c.change], position.get(c.revision.revision or "", len(position)), c.path))


def _unread_revision_files(plan: ProjectPlan, ev: Evidence) -> list[str]:
    """Revision-like files the branch changed that this project's history does not hold: the
    ones given to it after Alembic's map was read, else those in its folder."""
    if ev.alembic is not None:
        return ev.unloaded_revision_files + [p for paths in ev.unverified_histories.values() for p in paths]
    read = {c.path for c in plan.revision_changes}
    home = plan.project.directory
    return [p for p in plan.revision_like_changes if p not in read and (not home or p.startswith(home + "/"))]


def _files_modified(plan: ProjectPlan, ev: Evidence) -> list[str]:
    """Files the branch changed that shape the database: revisions, what env.py imports, seeds, config."""
    relevant = set(ev.imported_files)
    unread = set(_unread_revision_files(plan, ev))
    project_dir = plan.project.directory
    out = []
    labels = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "T": "modified", "C": "copied"}
    for change in plan.changed_files:
        path = change.path
        in_project = not project_dir or path.startswith(project_dir + "/")
        interesting = (
            plan.project.owns(path) or path in relevant or path == plan.project.ini_path or path in unread
            or path == plan.project.env_py or (in_project and "/seeds/" in f"/{path}")
        )
        if interesting:
            out.append(f"{path} ({labels.get(change.status, change.status)})")
    return out


def _migrations(plan: ProjectPlan, ev: Evidence, checks: dict[str, CheckResult]) -> list[MigrationEntry]:
    trips = {t.revision: t for t in ev.trips}
    entries = []
    for change in _in_alembic_order(plan, ev):
        rev = change.revision
        if change.change == "added":
            status = _trip_status(trips.get(rev.revision or ""), checks)
        elif change.change == "modified":
            status = "edited after it was on the base branch"
        elif change.change == "downgrade-edited":
            status = _edited_status(ev, rev.revision or "")
        elif change.change == "deleted":
            status = "deleted from the base branch"
        else:
            status = "reformatted; code unchanged"
        entries.append(MigrationEntry(file=change.path, revision=rev.revision, change=change.change,
                                      description=rev.summary, status=status))
    return entries


def _edited_status(ev: Evidence, revision: str) -> str:
    run = next((r for r in ev.edited_downgrades if r.revision == revision), None)
    if run is None:
        return "downgrade edited; not run"
    if run.skipped:
        return f"downgrade edited; not run ({run.skipped})"
    if run.down is not None and not run.down.ok:
        return "downgrade edited; it fails"
    if run.up is not None and not run.up.ok or (run.restored is not None and run.restored.structural):
        return "downgrade edited; the schema does not come back"
    return "downgrade edited; ran down and up again, schema restored"


def _trip_status(trip: Trip | None, checks: dict[str, CheckResult]) -> str:
    if trip is None:
        skip = checks.get("upgrade")
        return f"not run ({skip.summary})" if skip and skip.status == "skip" else "not run"
    if trip.upgrade is None:
        return f"not run ({trip.skipped.get('upgrade', 'skipped')})"
    if not trip.upgrade.ok:
        return "upgrade failed"
    if trip.downgrade is None:
        return f"upgrade passed; downgrade not run ({trip.skipped.get('downgrade', 'skipped')})"
    if trip.downgrade_refused():
        return "upgrade passed; the downgrade raises on purpose"
    if not trip.downgrade.ok:
        return "upgrade passed; downgrade failed"
    if trip.downgrade_left_it_all():
        return "upgrade passed; the downgrade does nothing"
    problems = []
    if trip.restored is not None and trip.restored.structural:
        problems.append("downgrade leaves the schema changed")
    if trip.reupgrade is not None and not trip.reupgrade.ok:
        problems.append("second upgrade failed")
    elif trip.reupgraded is not None and trip.reupgraded.structural:
        problems.append("second upgrade differs")
    if problems:
        return "; ".join(problems)
    reordered = trip.restored is not None and trip.restored.reordered
    return "applied, reverted and re-applied" + (" (columns come back in another order)" if reordered else "")


def _schema_impact(diff: SchemaDiff | None) -> SchemaImpact:
    if diff is None:
        return SchemaImpact(known=False)
    new_tables = sorted(_new_tables(diff))
    dropped = sorted(c.name for c in diff.of_kind("table", "removed"))
    touched = {c.table for c in diff.changes if c.table} | {c.name for c in diff.of_kind("table", "changed")}
    modified = sorted(t for t in touched if t not in new_tables and t not in dropped)
    return SchemaImpact(
        new_tables=new_tables,
        modified_tables=modified,
        dropped_tables=dropped,
        new_indexes=sorted(c.name for c in diff.of_kind("index", "added")),
        changes=diff.changes,
    )


def _verification(ev: Evidence, checks: dict[str, CheckResult]) -> Verification:
    """The summary's two lines, from the live checks. "pass" only when the step ran.

    Up is the upgrades themselves. Down is everything the downgrades decide: the
    downgrade, the schema it leaves, the upgrade that follows it, the round trip and
    whether the downgrades exist at all.
    """
    def status(live: list[str]) -> str:
        live_statuses = [checks[i].status for i in live if i in checks]
        if "fail" in live_statuses:
            return "fail"
        if ev.head_load is not None and ev.head_load.ok and not ev.live_skipped and not ev.new_revisions:
            return "not applicable"
        if not any(s in ("pass", "warn") for s in live_statuses):
            return "skipped"
        return "warning" if "warn" in live_statuses else "pass"

    seed_statuses = [checks[i].status for i in ("seeds-run", "seeds-idempotent") if i in checks]
    if not ev.data.head_sets:
        seed_data = "not applicable"
    elif "fail" in seed_statuses:
        seed_data = "fail"
    elif not any(s in ("pass", "warn") for s in seed_statuses):
        seed_data = "skipped"
    else:
        seed_data = "warning" if "warn" in seed_statuses else "pass"
    down = status(["downgrade", "downgrade-restores-schema", "reupgrade", "roundtrip", "downgrade-over-rows",
                   "downgrade-keeps-data", "reversible-downgrades"])
    ran_down = any(t.downgrade is not None and t.downgrade.ok for t in ev.trips)
    if down in ("pass", "warning") and not ran_down:
        down = "skipped"  # "pass" only when a downgrade ran and passed
    return Verification(
        migration_up=status(["upgrade", "upgrade-over-rows"]),
        migration_down=down,
        seed_data=seed_data,
    )


def _set_runs(runs: list[SeedRun], plans) -> list[SeedSetRun]:
    done = {id(r.plan): r for r in runs}
    out = []
    for plan in plans:
        run = done.get(id(plan))
        status = "not run" if run is None else ("pass" if run.outcome.ok else "fail")
        error = run.outcome.error.message.splitlines()[0] if run is not None and run.outcome.error else None
        out.append(SeedSetRun(name=plan.name, source=plan.source, modules=plan.modules, command=plan.command,
                              status=status, seconds=round(run.outcome.seconds, 3) if run else 0.0, error=error))
    return out


def _seed_data(ev: Evidence) -> SeedData:
    data = ev.data
    return SeedData(
        applicable=bool(data.head_sets),
        note=data.seeds_skipped or "",
        sets=_set_runs(data.first_run, data.head_sets),
        rows=data.rows,
        idempotent=_idempotent(data),
        second_run_changes=data.second_run_changes or [],
        base_sets=_set_runs(data.base_runs, [r.plan for r in data.base_runs]),
        base_rows=data.base_rows,
        synthetic_rows=data.synthetic_filled or {},
        synthetic_skipped=data.synthetic_skipped,
    )


_NOUNS = {"unique": "unique constraint", "check": "check constraint", "exclusion": "exclusion constraint"}


def _count(n: int, word: str) -> str:
    """"1 index", "9 indexes", "2 check constraints"."""
    word = _NOUNS.get(word, word)
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}{'es' if word.endswith(('x', 's')) else 's'}"


def _idempotent(data) -> bool | None:
    """False if the second run failed or changed rows, True if it changed nothing, None if unknown."""
    if any(not run.outcome.ok for run in data.second_run):
        return False
    if data.second_run_changes is None:
        return None
    return not data.second_run_changes


def _seed_lines(seeds: SeedData, checks: dict[str, CheckResult], touched: dict[str, int]) -> list[str]:
    """The Seed Data section: what the seeds did, then, apart, the rows the new revisions ran over."""
    if not seeds.applicable:
        lines = [f"Seeds: none ran ({seeds.note})" if seeds.note else "Seeds: none ran"]
    elif all(s.status == "not run" for s in seeds.sets):
        names = ", ".join(f"`{s.name}`" for s in seeds.sets)
        lines = [f"Seeds: {names} not run" + (f" ({seeds.note})" if seeds.note else "")]
    else:
        ran = ", ".join(f"`{s.name}` ({s.status})" for s in seeds.sets)
        lines = [f"Seeds ran at head: {ran}"]
        if seeds.note:
            lines.append(f"Not run: {seeds.note}")
        if seeds.rows:
            filled = [f"`{t}` {n:,}" for t, n in seeds.rows.items() if n]
            lines.append("Rows after seeding: " + (_capped(filled, MAX_NAMED) if filled else "none"))
        if seeds.idempotent is True:
            lines.append("Second run: nothing changed (idempotent)")
        elif seeds.idempotent is False:
            if seeds.second_run_changes:
                shown = "; ".join(c.text for c in seeds.second_run_changes[:3])
                more = len(seeds.second_run_changes) - 3
                lines.append(f"Second run, not idempotent: {shown}" + (f"; and {more} more tables" if more > 0 else ""))
            else:
                lines.append("Second run, not idempotent: a seed set failed when run again (see seeds-idempotent)")
    data_check = checks.get("upgrade-over-rows")
    ran_over_data = data_check is not None and data_check.status in ("pass", "fail", "warn")
    total = sum(seeds.base_rows.values())
    if ran_over_data and total:
        tables = sum(1 for n in seeds.base_rows.values() if n)
        synthetic = sum(seeds.synthetic_rows.values())
        parts = []
        if seeds.base_sets:
            parts.append("the base's seeds " + ", ".join(f"`{s.name}` ({s.status})" for s in seeds.base_sets))
        if synthetic:
            parts.append(f"{synthetic:,} of them synthetic, in {_count(len(seeds.synthetic_rows), 'table')} the seeds "
                         "left empty")
        line = (f"The new revisions ran over {_count(total, 'row')} in {_count(tables, 'table')}"
                + (" (" + "; ".join(parts) + ")" if parts else ""))
        named = [f"`{t}` ({_count(n, 'row')}{', synthetic' if t in seeds.synthetic_rows else ''})"
                 for t, n in sorted(touched.items())]
        if named:
            line += "; the tables they change: " + _capped(named, MAX_NAMED)
        lines.append(line)
        if seeds.synthetic_skipped:
            lines.append(f"Left empty: {_count(len(seeds.synthetic_skipped), 'table')} migbot could not fill (see "
                         "upgrade-over-rows)")
    elif data_check is not None and data_check.status == "skip":
        lines.append(f"The new revisions did not run over data: {data_check.summary}")
    return lines
