"""Failures a test asks for: server errors, primary and secondary rate limits, as GitHub sends them."""

from __future__ import annotations

import fnmatch
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .reply import Reply, error_reply

RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
INSTALLATION_ID = 12345678
UNICORN_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Unicorn! &middot; GitHub</title></head>
<body><h1>No server is currently available to service your request.</h1>
<p>Sorry about that. Please try refreshing and contact us if the problem persists.</p></body></html>
"""


@dataclass
class _Rule:
    method: str
    path_pattern: str
    remaining: int
    make: Callable[[], Reply]
    after_handling: bool  # the request takes effect, then the client still sees the failure


class Failures:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._after: list[list] = []  # [operation_id, requests to wait for, callback]

    def add(self, method: str, path_pattern: str, count: int, make: Callable[[], Reply],
            after_handling: bool = False) -> None:
        with self._lock:
            self._rules.append(_Rule(method.upper(), path_pattern, count, make, after_handling))

    def take(self, method: str, path: str, *, after_handling: bool = False) -> Reply | None:
        """The injected answer for this request, if a rule with uses left matches it (first added first)."""
        with self._lock:
            for rule in self._rules:
                if (rule.after_handling == after_handling and rule.method in ("*", method)
                        and fnmatch.fnmatchcase(path, rule.path_pattern)):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                    return rule.make()
        return None


    def add_after(self, operation_id: str, nth: int, callback: Callable[[], None]) -> None:
        with self._lock:
            self._after.append([operation_id, nth, callback])

    def run_after(self, operation_id: str) -> None:
        """Run the callbacks due after this request: before its answer leaves, so deterministically."""
        due = []
        with self._lock:
            for hook in list(self._after):
                if hook[0] == operation_id:
                    hook[1] -= 1
                    if hook[1] == 0:
                        self._after.remove(hook)
                        due.append(hook[2])
        for callback in due:
            callback()


def server_error(status: int) -> Reply:
    if status in (502, 503, 504):
        # GitHub's front end answers gateway failures with its HTML "Unicorn!" page, not JSON.
        return Reply(status, UNICORN_PAGE, content_type="text/html; charset=utf-8")
    return error_reply(status, "Server Error", "https://docs.github.com/rest")


def rate_limited(reset_in: int) -> Reply:
    reply = error_reply(403, f"API rate limit exceeded for installation ID {INSTALLATION_ID}.", RATE_LIMIT_DOCS)
    reply.headers.update({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + reset_in)})
    return reply


def secondary_rate_limited(status: int, retry_after: int) -> Reply:
    reply = error_reply(status, "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                        "try again.", f"{RATE_LIMIT_DOCS}#about-secondary-rate-limits")
    reply.headers["retry-after"] = str(retry_after)
    return reply
