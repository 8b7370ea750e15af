"""GitHub's OpenAPI description: loading, path matching and request/response validation."""

from __future__ import annotations

import copy
import functools
import gzip
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from openapi_schema_validator import (
    OAS30Validator,
    OAS30WriteValidator,
    oas30_format_checker,
)

METHODS = ("get", "put", "post", "patch", "delete")


def spec_path() -> Path:
    if os.environ.get("MIGBOT_GITHUB_OPENAPI"):
        return Path(os.environ["MIGBOT_GITHUB_OPENAPI"])
    from shared_data import OPENAPI

    return OPENAPI


@functools.cache
def load_spec(path: Path) -> Spec:
    """Parse the description once per process: every FakeGitHub shares it read-only."""
    with gzip.open(path) if path.suffix == ".gz" else open(path, "rb") as f:
        return Spec(json.load(f))


class SpecViolation(Exception):
    """A request GitHub's description does not allow; `status` is what GitHub would answer."""

    def __init__(self, status: int, problem: str):
        super().__init__(problem)
        self.status = status
        self.problem = problem


@dataclass(eq=False)
class Operation:
    spec: Spec = field(repr=False)
    template: str
    raw: dict[str, Any] = field(repr=False)
    parameters: dict[tuple[str, str], dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        params = (self.spec.resolve(p) for p in self.raw.get("parameters", []))
        self.parameters = {(p["in"], p["name"]): p for p in params}

    @property
    def operation_id(self) -> str:
        return self.raw["operationId"]

    @property
    def docs_url(self) -> str:
        return self.raw.get("externalDocs", {}).get("url", "https://docs.github.com/rest")

    @property
    def _body_schema(self) -> dict[str, Any] | None:
        content = self.raw.get("requestBody", {}).get("content", {})
        return content.get("application/json", {}).get("schema")

    def check_path_params(self, values: dict[str, str]) -> list[str]:
        problems = []
        for name, text in values.items():
            schema = self.parameters[("path", name)].get("schema", {})
            problems += [f"path parameter {name}: {m}" for m in self._errors(schema, _coerce(self.spec, schema, [text]))]
        return problems

    def check_query(self, query: dict[str, list[str]]) -> list[str]:
        problems = []
        for name, values in query.items():
            param = self.parameters.get(("query", name))
            if param is None:
                declared = sorted(n for where, n in self.parameters if where == "query")
                problems.append(f"query parameter {name!r} is not declared by {self.operation_id} (declared: {declared})")
                continue
            schema = param.get("schema", {})
            problems += [f"query parameter {name}: {m}" for m in self._errors(schema, _coerce(self.spec, schema, values))]
        return problems

    def check_body(self, body: Any) -> list[str]:
        schema = self._body_schema
        if schema is None:
            return [] if body is None else [f"{self.operation_id} takes no JSON request body"]
        if body is None:
            required = self.raw["requestBody"].get("required", False)
            return [f"{self.operation_id} requires a JSON request body"] if required else []
        problems = [f"request body: {m}" for m in self._errors(schema, body, writing=True)]
        return problems + [f"request body: {m}" for m in self._undeclared_properties(schema, body)]

    def check_response(self, status: int, body: Any) -> list[str]:
        response = self.raw.get("responses", {}).get(str(status))
        if response is None:
            return []
        schema = self.spec.resolve(response).get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return []
        return [f"response {status} breaks the spec: {m}" for m in self._errors(schema, body)]

    def _undeclared_properties(self, schema: dict[str, Any], body: Any) -> list[str]:
        # GitHub silently ignores unknown fields, which hides typos in the bot's requests.
        schema = self.spec.resolve(schema)
        if not isinstance(body, dict) or "properties" not in schema or "additionalProperties" in schema:
            return []
        return [f"{name!r} is not a property GitHub knows for {self.operation_id}"
                for name in body if name not in schema["properties"]]

    def _errors(self, schema: dict[str, Any], value: Any, writing: bool = False) -> list[str]:
        validator = self.spec.validator(schema, writing)
        return [_describe(error) for error in validator.iter_errors(value)]


class Spec:
    def __init__(self, document: dict[str, Any]):
        self.document = document
        self._routes = sorted(
            (_Route.build(self, template, item) for template, item in document["paths"].items()),
            key=lambda route: route.specificity,
        )
        self._validators: dict[tuple[int, bool], Any] = {}

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        """The operation GitHub would route `method path` to, and its path parameters."""
        candidates = [(route, found) for route in self._routes if (found := route.pattern.fullmatch(path))]
        if not candidates:
            raise SpecViolation(404, "path matches no path template in GitHub's OpenAPI description")
        for route, found in candidates:
            operation = route.operations.get(method.lower())
            if operation is not None:
                params = {route.names[group]: unquote(value) for group, value in found.groupdict().items()}
                return operation, params
        allowed = sorted({m.upper() for route, _ in candidates for m in route.operations})
        raise SpecViolation(404, f"{candidates[0][0].template} has no {method} operation (allowed: {allowed})")

    def example(self, name: str) -> Any:
        return copy.deepcopy(self.document["components"]["examples"][name]["value"])

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def validator(self, schema: dict[str, Any], writing: bool) -> Any:
        key = (id(schema), writing)
        if key not in self._validators:
            cls = OAS30WriteValidator if writing else OAS30Validator
            # The wrapper's `components` lets "#/components/..." references resolve against the spec.
            root = {"allOf": [schema], "components": self.document["components"]}
            self._validators[key] = cls(root, format_checker=oas30_format_checker)
        return self._validators[key]


@dataclass(eq=False)
class _Route:
    template: str
    pattern: re.Pattern[str]
    names: dict[str, str]
    specificity: tuple[int, ...]
    operations: dict[str, Operation]

    @classmethod
    def build(cls, spec: Spec, template: str, item: dict[str, Any]) -> _Route:
        operations = {m: Operation(spec, template, item[m]) for m in METHODS if m in item}
        multi_segment = {
            p["name"] for op in operations.values() for (where, _), p in op.parameters.items()
            if where == "path" and p.get("x-multi-segment")
        }
        regex, names, specificity = [], {}, []
        for segment in template.strip("/").split("/"):
            parts = re.split(r"\{([^}]+)\}", segment)
            piece = ""
            for index, part in enumerate(parts):
                if index % 2 == 0:
                    piece += re.escape(part)
                    continue
                group = f"p{len(names)}"
                names[group] = part
                piece += f"(?P<{group}>{'.+' if part in multi_segment else '[^/]+'})"
            regex.append(piece)
            specificity.append(0 if len(parts) == 1 else 2 if multi_segment & set(parts[1::2]) else 1)
        # The template with more literal segments wins ("/commits/{ref}/status" over "/commits/{ref}"),
        # then the one whose first literal comes earlier ("/issues/comments/1" is not issue "comments").
        literals = specificity.count(0)
        return cls(template, re.compile("/" + "/".join(regex)), names, (-literals, *specificity), operations)


def _coerce(spec: Spec, schema: dict[str, Any], values: list[str]) -> Any:
    """Turn query/path text into the JSON value the schema describes, so the validator can judge it."""
    kind = spec.resolve(schema).get("type")
    if kind == "array":
        return [v for value in values for v in value.split(",")]
    text = values[-1]
    if kind == "integer" and re.fullmatch(r"-?\d+", text):
        return int(text)
    if kind == "number" and re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def _describe(error: Any, limit: int = 300) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    message = error.message if len(error.message) <= limit else error.message[:limit] + "..."
    return f"{where}: {message}" if where else message
