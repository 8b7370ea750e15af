"""The golden reports' two renderings, shared by tests/test_golden.py and tests/golden/regenerate.py."""

from __future__ import annotations

import io

from rich.console import Console

from migbot.report.markdown import render_markdown
from migbot.report.model import Report
from migbot.report.terminal import render_terminal


def render_both(report: dict) -> tuple[str, str]:
    """(the PR comment, the terminal text without colour) of a JSON report."""
    model = Report.model_validate(report)
    out = io.StringIO()
    render_terminal(model, Console(file=out, width=120, color_system=None, highlight=False, emoji=False,
                                   soft_wrap=True))
    return render_markdown(model), out.getvalue()
