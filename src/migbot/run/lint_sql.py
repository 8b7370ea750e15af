"""squawk (https://squawkhq.com) on the SQL each new revision's upgrade really ran.

Static linters read a rendering of the migration; migbot hands squawk the statements the
worker captured on the live database (observe.py), one file per revision, in the order they
ran, as the migration's transaction ran them (`--assume-in-transaction`), for the server's
PostgreSQL version. Each finding goes back to its statement, and so to the line of the
revision that ran it. Statements with bound values (bulk inserts) are left out: their text
holds placeholders, not SQL.

The squawk-cli wheel ships the binary; without it the check is skipped, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from migbot.evidence import SquawkEvidence, Trip

# squawk's rules that fire on nearly every migration whatever it does (timeouts, re-runnable
# statements) or judge column types by taste rather than by what a statement locks: migbot
# leaves them out unless the config's squawk-exclude says otherwise.
DEFAULT_EXCLUDE = ("require-statement-timeout", "require-lock-timeout", "prefer-robust-stmts", "prefer-bigint-over-int",
                   "prefer-bigint-over-smallint", "prefer-identity", "prefer-text-field")
MAX_SQL = 4000  # observe.py keeps this much of a statement: a longer one was cut, and is left out


def squawk_binary() -> str | None:
    beside = Path(sys.executable).parent / "squawk"  # migbot's own environment first
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("squawk")


def _statements(trip: Trip) -> list[dict]:
    step = trip.upgrade.observed(trip.revision) if trip.upgrade is not None else None
    kept = []
    locked: set[str] = set()  # held until the step commits: a statement's table may be locked already
    for statement in (step or {}).get("statements") or []:
        locked |= {lock[0] for lock in statement.get("locks") or []}
        if not statement.get("parameters") and len(statement["sql"]) < MAX_SQL:
            kept.append({**statement, "locked": sorted(locked)})
    return kept


def lint(trips: list[Trip], folder: Path, *, server_major: int, exclude: list[str] | None,
         timeout: float = 60) -> SquawkEvidence:
    binary = squawk_binary()
    excluded = list(DEFAULT_EXCLUDE if exclude is None else exclude)
    if binary is None:
        return SquawkEvidence(skipped="squawk is not installed where migbot runs (`pip install squawk-cli` there)",
                              excluded=excluded)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[str, list[tuple[int, int, dict]]]] = {}  # path -> (revision, [(first, last, stmt)])
    for index, trip in enumerate(trips):
        statements = _statements(trip)
        if not statements:
            continue
        spans, lines, text = [], 0, []
        for statement in statements:
            sql = statement["sql"].rstrip().rstrip(";") + ";"
            count = sql.count("\n") + 1
            spans.append((lines, lines + count - 1, statement))
            text.append(sql + "\n\n")
            lines += count + 1
        path = folder / f"{index:04d}.sql"
        path.write_text("".join(text))
        files[str(path)] = (trip.revision, spans)
    if not files:
        return SquawkEvidence(skipped="no new revision's upgrade ran SQL that migbot observed", excluded=excluded)
    argv = [binary, "--reporter", "json", "--assume-in-transaction", f"--pg-version={server_major}.0",
            *(f"--exclude={rule}" for rule in excluded), *files]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(folder)}
    try:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=timeout,
                                 env=env).stdout.split()[-1:]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=folder)
        reported = json.loads(done.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return SquawkEvidence(skipped=f"squawk did not run: {type(exc).__name__}: {exc}", excluded=excluded)
    if done.returncode not in (0, 1) or not isinstance(reported, list):
        return SquawkEvidence(skipped=f"squawk failed (exit code {done.returncode}): {done.stderr.strip()[:300]}",
                              excluded=excluded)
    findings = []
    for item in reported:
        revision, spans = files.get(item.get("file", ""), (None, []))
        statement = next((s for first, last, s in spans if first <= item.get("line", -1) <= last), None)
        if revision is None:
            continue
        findings.append({"revision": revision, "rule": item.get("rule_name", ""), "message": item.get("message", ""),
                         "help": item.get("help") or "", "line": statement.get("line") if statement else None,
                         "sql": statement["sql"] if statement else "",
                         "tables": statement["locked"] if statement else []})
    return SquawkEvidence(version=version[0] if version else "", findings=findings, excluded=excluded,
                          revisions=len(files))
