"""Errors that end a run, each mapped to one of the documented exit codes.

Failures caused by the branch's own code are never raised as these: they become
failed checks in the report (exit code 1).
"""

EXIT_OK = 0
EXIT_CHECKS_FAILED = 1
EXIT_USAGE = 2
EXIT_INFRA = 3
EXIT_INTERRUPTED = 130  # SIGINT or SIGTERM; everything started has been torn down


def first_line(exc: BaseException) -> str:
    """An exception's first line, for one-line messages (psycopg's carry SQL context after it)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class MigbotError(Exception):
    """Base class: a message for the user, and the exit code it ends with."""

    exit_code = EXIT_INFRA

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(MigbotError):
    """Bad command line, bad config, or a repository migbot cannot read."""

    exit_code = EXIT_USAGE


class InfraError(MigbotError):
    """migbot itself could not run: PostgreSQL would not start, git is missing, ..."""

    exit_code = EXIT_INFRA
