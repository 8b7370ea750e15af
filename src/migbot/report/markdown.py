"""The report as GitHub-flavoured Markdown (Jinja2), for PR comments and step summaries.

Text that comes from the project under review (revision docstrings, error messages,
tracebacks, paths, table and branch names, notes) must not act as Markdown, HTML or a
GitHub reference on the bot's account: no mention that notifies, no `#123` that
cross-references an issue, no image that loads, no HTML, no table or heading it did not
come with. Every such value goes through one of these, chosen by where it lands:

- `_text` (prose): one line, through `_escape`, the one escaping function: HTML escaped,
  Markdown punctuation backslash-escaped, a zero-width space after `@` and in `#123`-like
  references (GitHub shows the same characters, and acts on none);
- `_inline`: migbot's sentences, which mark names (often the project's) with single
  backticks: those code spans are kept, the text around them goes through `_escape`, and
  so does the rest of the sentence, since messages mix migbot's words and the project's;
- `_code`: a code span fenced longer than any backtick run inside, on one line (GitHub
  resolves no mention or reference in code);
- `_block`: a fenced code block, fenced longer than any backtick run inside;
- the `cell*` variants, for table cells, where GitHub splits at `|` even inside code.

migbot's own Markdown (the template, the shortened-report note) is not escaped; the
catalog's texts are plain text, and go through `_inline` like the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined

from migbot.catalog import BY_ID
from migbot.report.headline import top
from migbot.report.model import Report
from migbot.redact import printable

ICONS = {"pass": "✅", "fail": "❌", "warn": "⚠️", "warning": "⚠️", "skip": "⏭️", "off": "➖", "skipped": "⏭️",
         "not applicable": "➖", "not configured": "➖"}
MARKER = "<!-- migbot:database-task-summary -->"

# A zero-width space: "@\u200borg/team" and "#\u200b123" look the same but GitHub links and
# notifies neither. A backslash does not stop a mention, and an entity (&#64;) is decoded
# before GitHub looks for them.
ZWSP = "\u200b"

_WORD = r"[^\W_]"  # a letter or digit, in any script
_PROSE = re.compile(rf"""
    (?P<punct>[\\`*\[\]!|~$])                   # emphasis, links, images, tables, code, math
  | (?P<html>[&<>])                             # HTML, entities, autolinks, the end of a comment
  | (?P<ref>@(?={_WORD})                        # @user, @org/team, org/repo@sha
      | \#(?=\d)                                # #123, org/repo#123
      | (?<!{_WORD})gh-(?=\d)                   # GH-123
      | /(?:issues|pull|pulls|discussions)/(?=\d))  # issue and pull request URLs
  | (?P<under>(?<!{_WORD})_|_(?!{_WORD}))       # an underscore that could open or close emphasis
""", re.X | re.I)
# At the start of a line (a list item's or a quote's text): a heading, a list item.
_LINE_START = re.compile(r"^(?:[#+-]|\d{1,9}(?=[.)]))")


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _prose_char(match: re.Match) -> str:
    text = match.group()
    if match.group("punct") or match.group("under"):
        return "\\" + text
    if match.group("html"):
        return {"&": "&amp;", "<": "&lt;", ">": "&gt;"}[text]
    return text + ZWSP


def _escape(text: str, *, line_start: bool = False) -> str:
    """The one escaping function for project text in prose (on one line already): GitHub
    shows exactly its characters (plus invisible zero-width spaces), and acts on none."""
    text = _PROSE.sub(_prose_char, text)
    if line_start:
        text = _LINE_START.sub(lambda m: m.group() + "\\" if m.group()[0].isdigit() else "\\" + m.group(), text)
    return text


def _text(value: object) -> str:
    """Project text in prose, not at the start of a line: collapsed to one line, and escaped."""
    return _escape(_one_line(value))


def _cell(value: object) -> str:
    return _text(value)  # _text escapes "|" already


def _code(value: object) -> str:
    """A code span: its delimiter is longer than any backtick run inside, and it is on one line."""
    text = _one_line(value) or " "
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _cell_code(value: object) -> str:
    """Inline code inside a table cell: GitHub needs the pipe escaped even there."""
    return _code(value).replace("|", "\\|")


# One of our single-backtick code spans, exactly as CommonMark reads it: not part of a longer
# backtick run. The text around it has its backticks and backslashes escaped, so no run
# there can open a span that would end inside this one.
_CODE_SPAN = re.compile(r"((?<!`)`[^`]+`(?!`))")


def _inline(value: object, *, cell: bool = False) -> str:
    """Our own sentences, which mark names (often the project's) with single backticks: keep
    those code spans, and escape the rest as project text, since messages mix the two."""
    parts = _CODE_SPAN.split(_one_line(value))
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # a code span: inert, only a table would split it at "|"
            out.append(part.replace("|", "\\|") if cell else part)
        elif part:
            out.append(_escape(part, line_start=i == 0))  # a list item's or a quote's text
    return "".join(out)


def _cell_inline(value: object) -> str:
    return _inline(value, cell=True)


def _block(value: object, language: str = "text") -> str:
    """A fenced code block, fenced longer than any backtick run inside (GitHub shows it verbatim)."""
    text = "\n".join(str(value).rstrip().splitlines())
    fence = "`" * max(3, max((len(m) for m in re.findall(r"`{3,}", text)), default=0) + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _sql_block(value: object) -> str:
    return _block(value, "sql")


def statements_sql(run) -> str:
    """A revision's statements as one SQL script, each after a comment: its line, the locks it
    took and what it rewrote. No times: the comment of a commit must read the same on every
    run (they are in the JSON report)."""
    parts = []
    for s in run.statements:
        notes = [f"line {s.line}" if s.line else ""]
        if s.locks:
            notes.append("takes " + ", ".join(f"{lock.mode} on {lock.table}" for lock in s.locks))
        if s.rewrote:
            notes.append("rewrites " + ", ".join(s.rewrote))
        if s.parameters:
            notes.append(f"values: {s.parameters}")
        comment = " · ".join(n for n in notes if n).replace("\n", " ")
        parts.append((f"-- {comment}\n" if comment else "") + f"{s.sql.rstrip().rstrip(';')};")
    return "\n\n".join(parts)


inline_text = _inline  # for the Action's own messages around the report
fenced = _block


def also(cause) -> str:
    """"; the same makes `reupgrade`, `roundtrip` fail": checks folded into a cause's line."""
    if not cause.also:
        return ""
    return f"; the same makes {', '.join(_code(c) for c in cause.also)} {'fail' if cause.status == 'fail' else 'warn'}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _check_marker(marker: str) -> str:
    """The hidden first line: one HTML comment, which nothing in it can end early."""
    inner = marker[len("<!--"):-len("-->")]
    if not (marker.startswith("<!--") and marker.endswith("-->")) or "\n" in marker or "\r" in marker \
            or any(end in inner for end in ("-->", "--!>", "<!--")) or inner.startswith((">", "->")):
        raise ValueError(f"not a one-line HTML comment: {marker!r}")
    return marker


def _environment(clean: Callable[[str], str]) -> Environment:
    env = Environment(loader=PackageLoader("migbot.report", "templates"), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)

    def cleaned(escape):
        return lambda value: escape(printable(clean(str(value))))

    env.filters.update({name: cleaned(escape) for name, escape in (
        ("text", _text), ("cell", _cell), ("code", _code), ("cellcode", _cell_code), ("inline", _inline),
        ("cellinline", _cell_inline), ("block", _block), ("sqlblock", _sql_block))})
    env.filters["plural"] = plural
    env.globals.update(icons=ICONS, catalog=BY_ID, statements_sql=statements_sql, top=top, also=also)
    env.tests["multiline"] = lambda text: "\n" in str(text)
    return env


def render_markdown(report: Report, *, file_url: str | None = None, marker: str = MARKER,
                    own_notes: list[str] | tuple[str, ...] = (), clean: Callable[[str], str] | None = None) -> str:
    """file_url: a format string with {path} and {line} to link files (the Action sets it).
    own_notes: notes in migbot's own Markdown, shown unescaped after the report's notes.
    clean: applied to each value from the report before it is escaped (redaction: escaping
    can change a secret's characters, so a later pass over the text would miss it)."""
    clean = clean or (lambda text: text)

    def location(path: str | None, line: int | None = None) -> str:
        if not path:
            return ""
        path = printable(clean(path))
        label = _code(f"{path}:{line}" if line else path)
        if file_url:
            # Percent-encoded, so that no ")" or space in the path ends the link's destination.
            return f"[{label}]({file_url.format(path=quote(path, safe='/'), line=int(line or 1))})"
        return label

    env = _environment(clean)
    env.globals["location"] = location
    return env.get_template("report.md.j2").render(report=report, marker=_check_marker(marker),
                                                   own_notes=list(own_notes))
