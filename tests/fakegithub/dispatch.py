"""One request's way through the fake: spec validation, injected failures, auth, the endpoint, recording."""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .endpoints import ENDPOINTS, NOT_ACCESSIBLE, Call
from .failures import Failures
from .payloads import Payloads
from .reply import ApiError, Reply, error_reply
from .spec import Operation, Spec, SpecViolation
from .state import RecordedRequest, State

RATE_LIMIT = 5000
REST_DOCS = "https://docs.github.com/rest"
STANDARD_HEADERS = {
    "x-github-media-type": "github.v3; format=json",
    "x-github-api-version-selected": "2022-11-28",
    "x-ratelimit-resource": "core",
}


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    token: str | None
    body: Any = None
    operation: Operation | None = None
    params: dict[str, str] = field(default_factory=dict)


class Dispatcher:
    def __init__(self, spec: Spec, state: State, failures: Failures, base_url: str):
        self.spec = spec
        self.state = state
        self.failures = failures
        self.payloads = Payloads(spec, state, base_url)
        self._used: Counter[str | None] = Counter()
        self._reset = int(time.time()) + 3600

    def handle(self, method: str, target: str, headers: Mapping[str, str], raw_body: bytes) -> Reply:
        url = urlsplit(target)
        request = _Request(method, url.path, parse_qs(url.query, keep_blank_values=True),
                           _bearer(headers.get("Authorization")))
        reply = self._parse_body(request, raw_body) or self._validate(request)
        reply = reply or self.failures.take(method, request.path)
        if reply is None:
            reply = self._answer(request)
            reply = self.failures.take(method, request.path, after_handling=True) or reply
            if request.operation is not None:
                self.failures.run_after(request.operation.operation_id)
        self._add_standard_headers(reply, request.token)
        with self.state.lock:
            self.state.requests.append(RecordedRequest(
                method, request.path, {name: values[-1] for name, values in request.query.items()},
                request.body, reply.status, request.token,
                request.operation.operation_id if request.operation else None))
        return reply

    def _parse_body(self, request: _Request, raw_body: bytes) -> Reply | None:
        try:
            request.body = json.loads(raw_body) if raw_body else None
        except ValueError:
            return self._violation(request, 400, "body is not JSON", "Problems parsing JSON")
        return None

    def _validate(self, request: _Request) -> Reply | None:
        try:
            request.operation, request.params = self.spec.match(request.method, request.path)
        except SpecViolation as violation:
            return self._violation(request, violation.status, violation.problem, "Not Found")
        problems = request.operation.check_path_params(request.params)
        if problems:
            return self._violation(request, 404, "; ".join(problems), "Not Found")
        problems = request.operation.check_query(request.query) + request.operation.check_body(request.body)
        if problems:
            message = "Invalid request.\n\n" + "\n".join(problems)
            return self._violation(request, 422, "; ".join(problems), message, request.operation.docs_url)
        return None

    def _answer(self, request: _Request) -> Reply:
        operation = request.operation
        assert operation is not None
        docs = operation.docs_url
        if request.token is None:
            return error_reply(401, "Requires authentication", docs)
        with self.state.lock:
            token = self.state.tokens.get(request.token)
            if token is None:
                return error_reply(401, "Bad credentials", REST_DOCS)
            if token.read_only and request.method != "GET":
                return error_reply(403, NOT_ACCESSIBLE, docs)
            if not self._is_our_repository(request.params):
                return error_reply(404, "Not Found", docs)
            endpoint = ENDPOINTS.get(operation.operation_id)
            if endpoint is None:
                # PyGithub retries 5xx answers, so record each operation once, not once per retry.
                missing = f"{request.method} {operation.template} ({operation.operation_id})"
                if missing not in self.state.unimplemented:
                    self.state.unimplemented.append(missing)
                return error_reply(501, f"fakegithub does not implement {operation.operation_id}", docs)
            call = Call(self.state, self.payloads, token, request.path, request.params, request.query, request.body)
            try:
                reply = endpoint(call)
            except ApiError as error:
                return error_reply(error.status, error.message, docs, error.errors)
            self.state.violations += [f"{request.method} {request.path}: {problem} (a fakegithub bug)"
                                      for problem in operation.check_response(reply.status, reply.body)]
        return reply

    def _is_our_repository(self, params: dict[str, str]) -> bool:
        if "owner" not in params:
            return True
        return (params["owner"].lower(), params.get("repo", "").lower()) == \
            (self.state.owner.lower(), self.state.repo.lower())

    def _violation(self, request: _Request, status: int, problem: str, message: str,
                   docs: str = REST_DOCS) -> Reply:
        with self.state.lock:
            self.state.violations.append(f"{request.method} {request.path}: {problem}")
        return error_reply(status, message, docs)

    def _add_standard_headers(self, reply: Reply, token: str | None) -> None:
        with self.state.lock:
            self._used[token] += 1
            used = self._used[token]
        limit = RATE_LIMIT if token else 60
        reply.headers = {
            "content-type": reply.content_type,
            **STANDARD_HEADERS,
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(limit - used, 0)),
            "x-ratelimit-reset": str(self._reset),
            "x-ratelimit-used": str(used),
            "x-github-request-id": _request_id(),
            **reply.headers,
        }


def _bearer(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() in ("token", "bearer") and value.strip() else None


def _request_id() -> str:
    return ":".join(secrets.token_hex(n).upper() for n in (2, 3, 4, 4)) + f":{int(time.time()):X}"
