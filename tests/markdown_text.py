"""Reading rendered Markdown back as GitHub would: the prose, without code spans and blocks."""

from __future__ import annotations

import re


def prose(markdown: str) -> str:
    """The Markdown without its fenced code blocks and code spans (CommonMark's rules, line by line):
    what is left is where GitHub looks for mentions, references, links, images and HTML."""
    kept, fence = [], None
    for line in markdown.splitlines():
        match = re.match(r" *(`{3,})", line)
        if fence is None and match:
            fence = len(match.group(1))
        elif fence is not None:
            if match and len(match.group(1)) >= fence and not line.strip().strip("`"):
                fence = None
        else:
            kept.append(line)
    assert fence is None, "a code block is never closed"
    return "\n".join(_without_code_spans(line) for line in kept)


def _without_code_spans(line: str) -> str:
    out, i = [], 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line):  # an escaped character opens nothing
            out.append(line[i:i + 2])
            i += 2
            continue
        if line[i] != "`":
            out.append(line[i])
            i += 1
            continue
        run = re.match(r"`+", line[i:]).group(0)
        closing = next((m for m in re.finditer(r"`+", line[i + len(run):]) if len(m.group(0)) == len(run)), None)
        if closing is None:
            out.append(run)
            i += len(run)
        else:
            i += len(run) + closing.end()
    return "".join(out)
