"""Exceptions from the project's code, as facts migbot can report: the type, a clean
message, the project's own frames, the revision file and line, what PostgreSQL named,
and whether the revision raised it on purpose."""

import os
import traceback

from migbot_worker.guard import WrongDatabase
from migbot_worker.session import StepsNotCommitted


class EnvDidNotRun(Exception):
    pass


class ShellFailed(Exception):
    pass


class InterpreterUnusable(Exception):
    pass


def in_project(root, filename):
    if not filename or filename.startswith("<"):
        return False  # <frozen importlib...>, <string>: not files
    path = os.path.realpath(filename)
    return path.startswith(root + os.sep) and "site-packages" not in path


def chain(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def clean_message(exc):
    text = str(exc).strip() or type(exc).__name__
    lines = [line for line in text.splitlines() if not line.startswith("(Background on this error at")]
    text = "\n".join(lines).strip()
    if len(text) > 2000:
        text = text[:2000] + " ..."
    if isinstance(exc, SyntaxError) and exc.text:
        text = "{} ({}:{}): {}".format(exc.msg, os.path.basename(exc.filename or "?"), exc.lineno, exc.text.strip())
    return text


def _sql_diagnostics(exc):
    """The table, constraint and column PostgreSQL named, from psycopg's or psycopg2's diag or
    from asyncpg's exception attributes."""
    for cause in chain(exc):
        for source in (getattr(cause, "orig", None), cause):
            diag = getattr(source, "diag", None) or source
            found = {key: getattr(diag, attr, None) for key, attr in
                     (("table", "table_name"), ("constraint", "constraint_name"), ("column", "column_name"))}
            if any(found.values()):
                return {key: value for key, value in found.items() if value}
    return {}


def _raised_on_purpose(exc, frames, revision_files):
    """NotImplementedError, or any exception whose innermost frame is a `raise` statement in a
    revision file: the migration refusing to run (`raise RuntimeError(msg)`), not a failure
    of the database or a typo in an op.* call."""
    if isinstance(exc, NotImplementedError):
        return True
    if not frames:
        return False
    innermost = frames[-1]
    if os.path.realpath(innermost.filename) not in revision_files:
        return False
    return (innermost.line or "").strip().startswith("raise")


def _project_traceback(root, exc, frames):
    """The frames of the project's own files (revisions, env.py, models) and the error: what a
    reviewer can act on, without the library internals."""
    mine = [f for f in frames if in_project(root, f.filename)]
    shown = mine[-8:] if mine else frames[-3:]
    heading = "Traceback (project files only):\n" if mine else "Traceback (most recent call last):\n"
    tail = "".join(traceback.format_exception_only(type(exc), exc)).splitlines(keepends=True)
    tail = [line for line in tail if not line.startswith("(Background on this error at")]
    return heading + "".join(traceback.format_list(shown)) + "".join(tail)


def describe_error(exc, root, revision_files):
    """revision_files: realpath -> revision id, for the files Alembic loaded."""
    tb = exc.__traceback__
    frames = traceback.extract_tb(tb) if tb else []
    location = None
    for frame in reversed(frames):
        path = os.path.realpath(frame.filename)
        if path in revision_files:
            location = (path, frame.lineno)
            break
    if location is None:
        for frame in reversed(frames):
            if in_project(root, frame.filename):
                location = (os.path.realpath(frame.filename), frame.lineno)
                break
    wrong = next((e for e in chain(exc) if isinstance(e, WrongDatabase)), None)
    if wrong is not None and wrong.file:
        location = (wrong.file, wrong.line)  # the code that connected, found when it did
    elif isinstance(exc, SyntaxError) and exc.filename:
        location = (os.path.realpath(exc.filename), exc.lineno)
    elif location is None:
        # An ImportError raised while importing a project file names it in its chain.
        for cause in chain(exc):
            filename = getattr(cause, "filename", None)
            if filename and os.path.realpath(filename).startswith(root + os.sep):
                location = (os.path.realpath(filename), getattr(cause, "lineno", None))
                break
    error = {
        "type": type(exc).__name__,
        "message": clean_message(exc),
        "traceback": _project_traceback(root, exc, frames),
        "deliberate": _raised_on_purpose(exc, frames, revision_files),
    }
    if location:
        error["file"] = location[0]
        error["line"] = location[1]
        error["revision"] = revision_files.get(location[0])
    error.update(_sql_diagnostics(exc))
    if wrong is not None:
        error["kind"] = "wrong-database"
        error["message"] = str(wrong)
        error["deliberate"] = False
    elif isinstance(exc, InterpreterUnusable):
        error["kind"] = "interpreter"
    elif isinstance(exc, StepsNotCommitted):
        error["kind"] = "session"
    return error
