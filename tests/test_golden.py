"""The comment and the terminal text of a handful of representative reports, compared with
the golden files a reviewer has read. Regenerate them with `.venv/bin/python
tests/golden/regenerate.py` (it runs each scenario through the real CLI) and review the diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golden_render import render_both

GOLDEN = Path(__file__).parent / "golden"
SCENARIOS = sorted(p.stem for p in GOLDEN.glob("*.json"))


def test_every_scenario_has_its_golden_files() -> None:
    assert set(SCENARIOS) == {"pass", "one-failure", "many-failures", "dropped-table", "seeds", "skipped-checks",
                              "monorepo"}
    for name in SCENARIOS:
        assert (GOLDEN / f"{name}.md").exists() and (GOLDEN / f"{name}.txt").exists(), name


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_report_renders_as_its_golden_files(name: str) -> None:
    markdown, terminal = render_both(json.loads((GOLDEN / f"{name}.json").read_text()))
    assert markdown == (GOLDEN / f"{name}.md").read_text(), f"{name}.md changed: run tests/golden/regenerate.py"
    assert terminal == (GOLDEN / f"{name}.txt").read_text(), f"{name}.txt changed: run tests/golden/regenerate.py"


def _visible_lines(name: str) -> list[str]:
    """The comment's lines as a reviewer sees them: no hidden marker, no blank lines."""
    text = (GOLDEN / f"{name}.md").read_text()
    return [line for line in text.splitlines() if line.strip() and not line.startswith("<!--")]


def test_a_dropped_table_with_a_downgrade_defect_shows_the_cause_in_the_first_five_lines() -> None:
    top = "\n".join(_visible_lines("dropped-table")[:5])
    assert "`downgrade-restores-schema` · `3f2a9c1b7d10`" in top
    assert "column `public.orders.metadata` dropped by the downgrade, but it existed before the upgrade" in top
    # The second upgrade and the round trip fail over the same column: named on that line, not repeated.
    assert "the same makes `reupgrade`, `roundtrip` fail" in top
    assert "- ❌ `reupgrade`" not in top


def test_a_dropped_table_is_one_line_and_each_difference_is_shown_once() -> None:
    text = (GOLDEN / "dropped-table.md").read_text()
    changes = text.split("### Changes Made")[1].split("###")[0]
    assert "- Table `public.legacy_payments` removed: 17 columns, 1 primary key, 6 foreign keys, 9 indexes" in changes
    assert "legacy_payments.amount" not in changes
    assert text.count("column `public.legacy_payments.amount` removed") == 1  # in the one list of differences


def test_counts_have_their_grammar_in_every_golden_comment() -> None:
    for name in SCENARIOS:
        text = (GOLDEN / f"{name}.md").read_text() + (GOLDEN / f"{name}.txt").read_text()
        for wrong in ("1 warnings", "1 checks", "1 rows", "1 tables", "1 columns", "1 indexes"):
            assert f" {wrong}" not in text, (name, wrong)


def test_the_example_comment_in_the_docs_is_the_dropped_table_golden_file() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "example-comment.md").read_text()
    assert (GOLDEN / "dropped-table.md").read_text().split("\n", 1)[1] in docs


def test_a_comment_on_two_projects_opens_with_the_overall_verdict_and_the_failing_project() -> None:
    lines = _visible_lines("monorepo")
    assert lines[0] == "**❌ 1 of 2 projects failed: `services/billing`**"
    assert lines[1] == "## Database Task Summary — `services/billing`"


def test_golden_comments_hold_no_temp_path_or_memory_address() -> None:
    for name in SCENARIOS:
        text = (GOLDEN / f"{name}.md").read_text()
        for leak in ("/tmp/", "/dev/shm", " at 0x", "migbot-pg-", "migbot-test-"):
            assert leak not in text, (name, leak)


def test_a_passing_data_check_names_the_table_with_rows_it_could_not_compare() -> None:
    report = json.loads((GOLDEN / "dropped-table.json").read_text())
    [check] = [c for c in report["projects"][0]["checks"] if c["id"] == "downgrade-keeps-data"]
    assert check["status"] == "pass"
    assert check["summary"].endswith("; not compared, since the branch drops it: `public.legacy_payments` "
                                     "(300 rows in the base data)")
