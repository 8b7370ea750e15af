"""python -m migbot.checks: print docs/checks.md."""

from migbot.checks.catalog import render_markdown

print(render_markdown(), end="")
