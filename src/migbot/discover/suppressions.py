"""`# migbot: ignore[CHECK-ID, ...] reason` comments in revision files.

A comment at the end of a statement's line (any of its lines), or on the line above it,
applies to that statement: to a finding at the statement's first line. A comment at the top of
the file, before anything but the module docstring, applies to the whole file. The reason is
the text after the brackets; a suppression without one still applies, and is a finding of its
own (checks/suppress.py).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

_COMMENT = re.compile(r"#\s*migbot:\s*ignore\[([^\]]*)\]\s*(.*)$")


@dataclass(frozen=True)
class Suppression:
    line: int  # the comment's
    checks: tuple[str, ...]
    reason: str
    target: int | None  # the first line of the statement it applies to; None: the whole file


def read_suppressions(source: bytes, tree: ast.Module) -> list[Suppression]:
    if b"migbot:" not in source:  # the usual case, and cheap on a long history
        return []
    comments = _comments(source)
    if not comments:
        return []
    spans = sorted((node.lineno, node.end_lineno or node.lineno) for node in ast.walk(tree)
                   if isinstance(node, ast.stmt) and not hasattr(node, "body"))
    first_code = _first_code_line(tree)
    found = []
    for line, own_line, text in comments:
        match = _COMMENT.search(text)
        if match is None:
            continue
        checks = tuple(c.strip() for c in match.group(1).split(",") if c.strip())
        reason = match.group(2).strip()
        if own_line and (first_code is None or line < first_code):
            target = None
        elif own_line:
            target = next((start for start, _ in spans if start > line), None)
            if target is None:
                continue
        else:
            containing = [(end - start, start) for start, end in spans if start <= line <= end]
            target = min(containing)[1] if containing else line
        found.append(Suppression(line=line, checks=checks, reason=reason, target=target))
    return found


def _comments(source: bytes) -> list[tuple[int, bool, str]]:
    """(line, alone on its line, text) of every comment; as far as the file tokenizes."""
    comments = []
    try:
        for token in tokenize.tokenize(io.BytesIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments.append((token.start[0], token.line[:token.start[1]].strip() == "", token.string))
    except (tokenize.TokenError, SyntaxError):
        pass
    return comments


def _first_code_line(tree: ast.Module) -> int | None:
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the module docstring
    return body[0].lineno if body else None
