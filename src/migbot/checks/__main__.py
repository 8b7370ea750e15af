"""python -m migbot.checks: print docs/checks.md."""

from migbot.catalog import render_markdown

print(render_markdown(), end="")
