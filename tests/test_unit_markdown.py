"""Unit tests for migbot.report.markdown: escaping filters and the rendered PR comment."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from markdown_text import prose

from migbot.catalog import Level
from migbot.report.markdown import (
    MARKER,
    _block,
    _cell,
    _code,
    _inline,
    _text,
    render_markdown,
)
from migbot.report.model import (
    CheckResult,
    Counts,
    Finding,
    MigrationEntry,
    ProjectReport,
    Refs,
    Report,
    RevisionRun,
    Step,
    TaskSummary,
    Verification,
)


# --- _text -------------------------------------------------------------------------------------------
def test_text_neutralises_html():
    assert _text("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_text_escapes_ampersand_first():
    assert _text("a & <b>") == "a &amp; &lt;b&gt;"
    assert _text("&lt;") == "&amp;lt;"


def test_text_collapses_whitespace_to_one_line():
    assert _text("  first\n\n  second\tthird  ") == "first second third"


def test_text_accepts_non_strings():
    assert _text(42) == "42"


# --- _cell -------------------------------------------------------------------------------------------
def test_cell_escapes_pipes():
    assert _cell("a | b|c") == "a \\| b\\|c"


def test_cell_neutralises_html_and_newlines():
    assert _cell("<details>\nx") == "&lt;details&gt; x"


# --- _code -------------------------------------------------------------------------------------------
def test_code_plain():
    assert _code("users.email") == "`users.email`"


def test_code_does_not_html_escape():
    # Inside a code span HTML is shown literally; escaping would show "&lt;".
    assert _code("a<b>") == "`a<b>`"


def test_code_with_inner_backtick_uses_longer_fence():
    assert _code("a`b") == "``a`b``"


def test_code_with_double_backticks_uses_triple_fence():
    assert _code("a``b`c") == "```a``b`c```"


def test_code_pads_when_text_starts_or_ends_with_backtick():
    assert _code("`x") == "`` `x ``"
    assert _code("x`") == "`` x` ``"


def test_code_collapses_newlines():
    assert _code("SELECT 1\n  FROM t") == "`SELECT 1 FROM t`"


# --- _inline ----------------------------------------------------------------------------------------------
def test_inline_keeps_our_backticked_names():
    assert _inline("column `users.email` is missing") == "column `users.email` is missing"


def test_inline_keeps_spaces_around_backticked_names():
    assert _inline("drop `a` and `b` now") == "drop `a` and `b` now"


def test_inline_escapes_html_outside_backticks():
    assert _inline("`t` has <script>x</script>") == "`t` has &lt;script&gt;x&lt;/script&gt;"


def test_inline_escapes_pipes():
    assert _inline("a | b") == "a \\| b"


def test_inline_lone_backtick_text_is_escaped():
    # A stray backtick is escaped, so it cannot pair with a later one into a code span.
    assert _inline("a ` <b>") == "a \\` &lt;b&gt;"


def test_inline_cannot_open_html_through_unbalanced_backtick_runs():
    # Markdown closes a 1-backtick code span only with a 1-backtick run, so "`<details>``"
    # is not a code span there: the "<details>" must not reach the output raw.
    assert "<details>" not in _inline("`<details>`` x")


# --- _block ---------------------------------------------------------------------------------------------
def test_block_uses_three_backticks_by_default():
    assert _block("Traceback:\n  boom\n") == "```text\nTraceback:\n  boom\n```"


def test_block_picks_longer_fence_when_text_has_fence():
    out = _block("before\n```\ninside\n```\nafter")
    assert out.startswith("````text\n") and out.endswith("\n````")


def test_block_fence_longer_than_longest_run():
    out = _block("x\n`````\ny")
    assert out.startswith("``````text\n") and out.endswith("\n``````")


def test_block_keeps_html_verbatim_inside_fence():
    assert "</details>" in _block("line\n</details>\n")


# --- a whole report -------------------------------------------------------------------------------------------
HOSTILE = "boom <details><summary>x</summary> | `code` and `` ` `` end </details>"


def step(status: str = "pass") -> Step:
    return Step(status=status)


def make_report(findings: list[Finding], **project_extra) -> Report:
    checks = [
        CheckResult(id="revision-syntax", title="Revision files are valid Python", status="pass", level=Level.ERROR,
                    summary="2 revision files parse"),
        CheckResult(id="upgrade", title="Each new revision upgrades", status="fail", level=Level.ERROR,
                    summary="`0003` failed | see below", findings=findings),
    ]
    summary = TaskSummary(
        changes_made=["adds `users.email`"],
        files_modified=["`migrations/versions/0003_x.py`"],
        migrations=[MigrationEntry(file="migrations/versions/0003_x.py", revision="0003", change="added",
                                   description="add column `users.email`", status="upgrade failed")],
        verification=Verification(migration_up="fail", migration_down="skipped", seed_data="not applicable"),
    )
    project = ProjectReport(name=".", alembic_ini="alembic.ini", result="fail", summary=summary, checks=checks,
                            **project_extra)
    return Report(
        migbot_version="0.0.0", result="fail",
        refs=Refs(base_ref="main", base="a" * 40, merge_base="b" * 40, head_ref="feature", head="c" * 40),
        database="PostgreSQL 16", started_at=datetime(2024, 1, 1, tzinfo=timezone.utc), seconds=1.5,
        projects=[project], counts=Counts(passed=1, failed=1),
    )


def rendered(**kwargs) -> str:
    finding = Finding(message=HOSTILE, revision="0003", file="migrations/versions/0003_x.py", line=12,
                      details=[HOSTILE, "Traceback:\n  <details>\n```\n</details>\n"])
    return render_markdown(make_report([finding], **kwargs))


def test_marker_is_first_line():
    assert rendered().splitlines()[0] == MARKER == "<!-- migbot:database-task-summary -->"


def test_outside_code_helper_strips_spans_and_fences():
    assert prose("a `<x>` b\n```text\n<y>\n```\nc") == "a  b\nc"
    assert prose("`<x>`` z") == "`<x>`` z"


def test_user_text_cannot_open_details():
    out = prose(rendered())
    # Our sections: one "Traceback" for the failing finding, one "All N checks".
    assert out.count("<details>") == 2
    assert out.count("<details><summary>Traceback</summary>") == 1
    assert out.count("<details><summary>All 2 checks</summary>") == 1
    assert out.count("</details>") == 2


def test_user_text_cannot_open_details_with_stairway():
    run = RevisionRun(revision="0003", file="x.py", upgrade=step("fail"), downgrade=step("skip"),
                      schema_restored=step("skip"), reupgrade=step("skip"))
    out = prose(rendered(stairway=[run]))
    assert out.count("<details>") == 3
    assert out.count("<details><summary>Stairway: 1 new revision, up → down → up</summary>") == 1


def test_unbalanced_backticks_in_finding_cannot_open_details():
    finding = Finding(message="psycopg error near `<details>`` in statement")
    out = prose(render_markdown(make_report([finding])))
    assert out.count("<details>") == 1  # only "All 2 checks"


def test_finding_message_html_is_escaped():
    out = rendered()
    assert "boom &lt;details&gt;&lt;summary&gt;x&lt;/summary&gt; \\| `code`" in out


def test_multiline_detail_is_fenced_longer_than_its_content():
    out = rendered()
    # Indented into its list item, fenced longer than the ``` inside it.
    assert "  ````text\n  Traceback:\n    <details>\n  ```\n  </details>\n  ````" in out


def test_failing_check_has_heading_and_fix():
    out = rendered()
    assert "#### ❌ `upgrade`: 1 finding\n\nRule: Each new revision upgrades." in out
    assert "**How to fix:**" in out
    assert "**❌ 1 check failed**" in out


def test_table_rows_have_expected_number_of_cells():
    out = rendered()
    check_rows = [line for line in out.splitlines() if line.startswith("| ") and "Each new revision upgrades" in line]
    assert len(check_rows) == 1
    assert len(re.findall(r"(?<!\\)\|", check_rows[0])) == 5  # four cells, five unescaped pipes


def test_migration_file_with_pipe_does_not_break_table():
    report = make_report([])
    report.projects[0].summary.migrations[0].file = "migrations/versions/0003_a|b.py"
    out = render_markdown(report)
    row = next(line for line in out.splitlines() if "0003_a" in line and line.startswith("|"))
    assert len(re.findall(r"(?<!\\)\|", row)) == 4


def test_finding_location_links_with_file_url():
    finding = Finding(message="bad", file="migrations/versions/0003_x.py", line=12)
    out = render_markdown(make_report([finding]), file_url="https://example.test/blob/{path}#L{line}")
    assert "([`migrations/versions/0003_x.py:12`](https://example.test/blob/migrations/versions/0003_x.py#L12))" in out


def test_a_traceback_in_the_terminal_keeps_its_frames_and_its_error_line():
    from migbot.report.terminal import _digest

    traceback = ("Traceback (project files only):\n"
                 '  File "alembic/versions/0003.py", line 24, in upgrade\n'
                 '    op.create_table("t")\n'
                 "sqlalchemy.exc.ProgrammingError: relation already exists\n"
                 "[SQL: CREATE TABLE t (\n" + "".join(f"\tc{i} integer,\n" for i in range(20)) + ")]\n")
    assert _digest(traceback) == [
        "Traceback (project files only):",
        '  File "alembic/versions/0003.py", line 24, in upgrade',
        '    op.create_table("t")',
        "sqlalchemy.exc.ProgrammingError: relation already exists",
    ]
