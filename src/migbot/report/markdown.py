"""The report as GitHub-flavoured Markdown (Jinja2), for PR comments and step summaries.

Text that comes from the project (error messages, paths, SQL) is escaped for the
context it lands in: table cells, inline code, HTML summaries, code blocks.
"""

from __future__ import annotations

import re

from jinja2 import Environment, PackageLoader, StrictUndefined

from migbot.catalog import BY_ID
from migbot.report.model import Report

ICONS = {"pass": "✅", "fail": "❌", "warn": "⚠️", "warning": "⚠️", "skip": "⏭️", "off": "➖", "skipped": "⏭️",
         "not applicable": "➖", "not configured": "➖"}
MARKER = "<!-- migbot:database-task-summary -->"


def _escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text(value: object) -> str:
    """Plain text in Markdown: neutralise HTML and collapse to one line."""
    return _escape_html(" ".join(str(value).split()))


def _cell(value: object) -> str:
    return _text(value).replace("|", "\\|")


def _code(value: object) -> str:
    text = " ".join(str(value).split())
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


_CODE_SPAN = re.compile(r"((?<!`)`[^`]+`(?!`))")


def _inline(value: object) -> str:
    """Our own sentences, which mark names with single backticks: keep those code spans,
    and in the rest neutralise HTML and stray backticks (which could open a span that
    swallows the escaping)."""
    parts = _CODE_SPAN.split(" ".join(str(value).split()))
    out = [p if _CODE_SPAN.fullmatch(p) else _escape_html(p).replace("`", "\\`") for p in parts]
    return "".join(out).replace("|", "\\|")


def _cell_code(value: object) -> str:
    """Inline code inside a table cell: GitHub needs the pipe escaped even there."""
    return _code(value).replace("|", "\\|")


def _block(value: object) -> str:
    text = str(value).rstrip()
    fence = "`" * max(3, max((len(m) for m in re.findall(r"`{3,}", text)), default=0) + 1)
    return f"{fence}text\n{text}\n{fence}"


inline_text = _inline  # for the Action's own messages around the report
fenced = _block


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("migbot.report", "templates"), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters.update(text=_text, cell=_cell, code=_code, cellcode=_cell_code, inline=_inline, block=_block,
                       plural=plural)
    env.globals.update(icons=ICONS, catalog=BY_ID)
    env.tests["multiline"] = lambda text: "\n" in str(text)
    return env


def render_markdown(report: Report, *, file_url: str | None = None, marker: str = MARKER) -> str:
    """file_url: a format string with {path} and {line} to link files (the Action sets it)."""

    def location(path: str | None, line: int | None = None) -> str:
        if not path:
            return ""
        label = _code(f"{path}:{line}" if line else path)
        if file_url:
            return f"[{label}]({file_url.format(path=path, line=line or 1)})"
        return label

    env = _environment()
    env.globals["location"] = location
    return env.get_template("report.md.j2").render(report=report, marker=marker)
