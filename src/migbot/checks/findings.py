"""Building findings from the evidence: errors with their file and line, schema differences,
and the advice that fits a failure to load."""

from __future__ import annotations

import re

from migbot.evidence import Evidence, StepOutcome
from migbot.plan.changes import ProjectPlan
from migbot.report.model import Finding
from migbot.snapshot.types import SchemaDiff

MAX_DIFF_LINES = 25
NO_NEW_REVISIONS = "the branch adds no revisions (Alembic applies none from the base heads)"


SUPERUSER_HINT = ("migbot runs the project's code as a role that owns its databases but is not a superuser, like "
                  "the owner role of managed PostgreSQL (RDS, Cloud SQL). If production runs your migrations as a "
                  "superuser, or your provider lets its owner role create this extension (PostGIS, "
                  "pg_stat_statements), set `superuser = true` in [tool.migbot].")
_NEEDS_SUPERUSER = ("must be superuser", "permission denied", "must be owner of", "must be a superuser", "not trusted",
                    "only superuser")
# What PostgreSQL refuses inside a migration's transaction, and the way Alembic offers around it.
_OUTSIDE_A_TRANSACTION = (
    ("cannot run inside a transaction block",
     "Alembic runs each migration in a transaction, and this statement cannot run in one (CREATE INDEX "
     "CONCURRENTLY, for one): run it inside `with op.get_context().autocommit_block():`, which commits what ran "
     "before it, and undo it the same way in the downgrade."),
    ("unsafe use of new value",
     "A value added with ALTER TYPE ... ADD VALUE cannot be used before the transaction commits: add it inside "
     "`with op.get_context().autocommit_block():`, or in a revision of its own before the one that uses it."),
)


def error_finding(what: str, outcome: StepOutcome, revision: str | None = None, file: str | None = None) -> Finding:
    err = outcome.error
    assert err is not None
    if err.kind in ("timeout", "crash", "wrong-database"):
        text = err.message
    else:
        text = f"{err.type}: {err.message}"
    details = [err.traceback.strip()] if err.traceback and err.kind not in ("wrong-database",) else []
    hint = SUPERUSER_HINT if not err.kind and any(p in err.message.lower() for p in _NEEDS_SUPERUSER) else None
    hint = hint or next((advice for words, advice in _OUTSIDE_A_TRANSACTION if not err.kind and words in err.message),
                        None)
    return Finding(message=f"{what}: {text}", revision=err.revision or revision, file=err.file or file,
                   line=err.line if err.file else None, details=details, hint=hint)


# libpq's words for where a connection went (psycopg and psycopg2 both use libpq).
_REACHED = re.compile(r'connection to server (?:at "(?P<host>[^"]+)"(?: \((?P<ip>[^)]+)\))?, port (?P<port>\d+)'
                      r'|on socket "(?P<socket>[^"]+)")')


def other_server_hint(message: str, server: str) -> str | None:
    """When env.py's connection went to a server that is not migbot's: which one, and what to map."""
    reached = _REACHED.search(message)
    if reached is None or not server:
        return None
    if reached.group("socket"):
        where = f"the socket {reached.group('socket')}"
    else:
        where = f"{reached.group('host')}:{reached.group('port')}"
        host, port = server.rsplit(":", 1)
        if reached.group("port") == port and {reached.group("host"), reached.group("ip")} & {host, "localhost"}:
            return None
    return (f"env.py connected to {where}, not to migbot's server ({server}): the project's settings build the "
            "database URL from variables migbot does not set. Map them with `env` in [tool.migbot], e.g. "
            "env = { POSTGRES_SERVER = \"{host}\", POSTGRES_PORT = \"{port}\" }, or build the URL from "
            "DATABASE_URL or alembic.ini's sqlalchemy.url, which migbot sets (docs/config.md, Default environment).")


def load_hint(outcome: StepOutcome, interpreter: str, server: str = "") -> str | None:
    """Advice for a failure to load env.py and the models, by what the error says."""
    err = outcome.error
    if err is None or err.kind in ("wrong-database", "crash"):
        return None
    text = f"{err.type}: {err.message}"
    if "worker thread" in text or "event loop" in text or "EventLoop" in err.type:
        return ("env.py seems to run only inside the app's own harness (a worker thread, an event loop): name a "
                "function that runs each Alembic command that way with `runner` in [tool.migbot] (docs/config.md, "
                "A project's own harness).")
    if "Path doesn't exist" in err.message:
        return ("Alembic reads a relative script_location from the folder it runs in: migbot runs it in the ini's "
                "folder, or in the repository root when the path exists only from there. `%(here)s/...` in the ini "
                "names the folder without depending on where Alembic runs.")
    if err.kind == "timeout":
        return ("Importing the app or connecting hung: check that env.py does not wait for a service migbot does not "
                "start.")
    if err.type in ("ModuleNotFoundError", "ImportError"):
        return (f"A module could not be imported with {interpreter or 'the project interpreter'}. If it is a "
                "dependency, point `python` in [tool.migbot] at your project's virtualenv; if it is your own "
                "package, add its folder to `sys-path`.")
    if "validation error" in text and ("Field required" in text or "Input should" in text):
        return ("Your settings class rejected the environment migbot gave it. Give the variables it needs "
                "values with the `env` table in [tool.migbot], e.g. env = { SECRET_KEY = \"ci-only\" }.")
    if err.type == "SyntaxError":
        return "Fix the syntax error at the location shown (revision-syntax lists every file that does not parse)."
    if "is not present" in err.message or err.type in ("KeyError", "RevisionError", "ResolutionError"):
        return "A down_revision points at a revision that does not exist (see down-revisions-exist)."
    if err.type == "OperationalError":
        return other_server_hint(err.message, server) or \
            "env.py could not talk to the database: it should build its URL from sqlalchemy.url or DATABASE_URL."
    return None


# What a reviewer must see first: what is gone (data with it), then what changed, then what is left over.
_GRAVITY = {"removed": 0, "changed": 1, "added": 2}
_KIND_GRAVITY = {"table": 0, "column": 1}


def diff_finding(message: str, diff: SchemaDiff, revision: str | None, file: str | None,
                  verbs: dict[str, str], line: int | None = None) -> Finding:
    ordered = SchemaDiff(changes=sorted(diff.changes, key=lambda c: (_GRAVITY[c.change], _KIND_GRAVITY.get(c.kind, 2))))
    return Finding(message=message, revision=revision, file=file, line=line if file else None,
                   details=ordered.lines(limit=MAX_DIFF_LINES, verbs=verbs))


def schema_findings(what: str, diff: SchemaDiff | None, revision: str | None, file: str | None,
                    verbs: dict[str, str], line: int | None = None) -> list[Finding]:
    """A schema that should have come back the same: an error for each structural difference
    (listed, one finding), a warning for columns that came back in another order."""
    if diff is None or diff.empty:
        return []
    prefix = f"{revision}: " if revision else ""
    findings = []
    structural = SchemaDiff(changes=diff.structural)
    if structural.changes:
        n = len(structural.changes)
        dumped = sum(1 for c in structural.changes if c.kind == "structure")
        count = f"{n} difference{'s' if n != 1 else ''}"
        if dumped:
            count += " only pg_dump shows" if dumped == n else f", {dumped} of them only pg_dump shows"
        findings.append(diff_finding(f"{prefix}{what} ({count})", structural, revision, file, verbs, line))
    for change in diff.reordered:
        findings.append(Finding(
            message=f"{prefix}{change.describe()} ({verbs['changed']})", revision=revision, file=file,
            severity="warning",
            hint="Only `SELECT *`, `INSERT` without column names and `COPY` without a column list see column "
                 "order. To restore it, the downgrade must rebuild the table."))
    return findings


def revision_file(plan: ProjectPlan, ev: Evidence, revision: str) -> str | None:
    live = ev.alembic.revisions.get(revision) if ev.alembic else None
    if live is not None and live.path:
        return live.path
    static = plan.revision_file(revision)
    return static.path if static is not None else None


def same_failure(a: StepOutcome, b: StepOutcome) -> bool:
    """The same error in the same place (messages may echo the tree's own database name)."""
    def key(outcome: StepOutcome) -> tuple:
        err = outcome.error
        return err.type, err.file, err.line, (err.message.splitlines() or [""])[0]
    return key(a) == key(b)


def live_skip_reason(ev: Evidence) -> str | None:
    if ev.live_skipped:
        return ev.live_skipped
    if ev.head_load is None:
        return "not run"
    return None
