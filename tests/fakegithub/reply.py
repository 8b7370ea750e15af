"""An HTTP answer, and GitHub's shape for errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json; charset=utf-8"


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON value, or text when content_type is not JSON
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        return (json.dumps(self.body) if self.content_type == JSON else self.body).encode()


class ApiError(Exception):
    """Raised by an endpoint to answer with GitHub's error body."""

    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def error_reply(status: int, message: str, docs_url: str, errors: list[dict[str, str]] | None = None) -> Reply:
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    body.update(documentation_url=docs_url, status=str(status))
    return Reply(status, body)
