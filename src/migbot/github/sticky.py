"""One Database Task Summary comment per pull request and Alembic project, edited in place.

The comment is ours when its first line is the project's hidden marker and its author is
the bot's login (the bot-login input, or the login GitHub answered one of this run's writes
with): another bot's comment that quotes the same words is never touched.
"""

from __future__ import annotations

from urllib.parse import quote

from migbot.github.api import Comment, GitHubAPI, GitHubError
from migbot.report.markdown import MARKER

COMMENT_LIMIT = 65_536


def project_marker(alembic_ini: str) -> str:
    # quote() keeps "-->" (or any odd path) from ending the HTML comment early.
    return MARKER.replace(" -->", f" project={quote(alembic_ini, safe='/')} -->")


def is_ours(comment: Comment, marker: str, bot_login: str) -> bool:
    lines = comment.body.lstrip().splitlines()
    # GitHub's logins are case-insensitive; the input may be spelled differently from the API's answer.
    return comment.author.lower() == bot_login.lower() and bool(lines) and lines[0].strip() == marker


def find_comment(api: GitHubAPI, number: int, marker: str, bot_login: str) -> Comment | None:
    """The oldest of ours (pages through every comment); later duplicates are left alone."""
    return next((c for c in api.comments(number) if is_ours(c, marker, bot_login)), None)


def upsert_comment(api: GitHubAPI, number: int, marker: str, bot_login: str, body: str,
                   existing: Comment | None) -> str:
    """Edit ours or post it; returns "updated", "created" or "unchanged".

    A failed post is retried only after looking again, since GitHub may have stored it."""
    if existing is not None:
        if existing.body.strip() == body.strip():
            return "unchanged"
        api.edit_comment(existing, body)
        return "updated"
    attempts = 3
    while True:
        try:
            api.create_comment(number, body)
            return "created"
        except GitHubError as exc:
            attempts -= 1
            transient = exc.status is None or exc.status >= 500
            if not transient or attempts == 0:
                raise
            existing = find_comment(api, number, marker, bot_login)
            if existing is not None:
                return upsert_comment(api, number, marker, bot_login, body, existing)
