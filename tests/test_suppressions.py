"""`# migbot: ignore[CHECK-ID] reason` in a revision file sets a finding aside, with its reason,
on the statement's line or, at the top of the file, for the whole file; a suppression without a
reason, or naming no check migbot has, is a finding of its own (issue 12)."""

from __future__ import annotations

import ast

import pytest

from conftest import Repo, Result, line_of, make_repo
from migbot.discover.suppressions import read_suppressions
from migbot.report.markdown import render_markdown
from migbot.report.model import Report

NO_PK = 'op.create_table("audit_lines", sa.Column("at", sa.DateTime()))'
UUID_FK = 'sa.Column("user_id", postgresql.UUID(), sa.ForeignKey("users.id"), nullable=False)'


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Repo, Result]:
    repo = make_repo(tmp_path_factory.mktemp("suppressions") / "service")
    repo.branch("feature")
    # on the line above the statement, with a reason
    repo.revision("0003", "0002", f"# migbot: ignore[table-without-primary-key] an append-only log, read in bulk\n"
                  f"{NO_PK}", 'op.drop_table("audit_lines")')
    # at the end of the statement's last line, without a reason
    repo.revision("0004", "0003", f'op.create_table("badges", sa.Column("id", sa.Integer(), primary_key=True),\n'
                  f'                {UUID_FK})  # migbot: ignore[foreign-key-without-index]',
                  'op.drop_table("badges")')
    # the whole file, and a check id migbot does not have
    path = repo.revision("0005", "0004", 'op.create_table("events", sa.Column("at", sa.DateTime()))',
                         'op.drop_table("events")')
    text = path.read_text()
    repo.write("alembic/versions/0005.py", text.replace(
        "import sqlalchemy as sa", "# migbot: ignore[table-without-primary-key] partitioned by day later\n"
        "# migbot: ignore[no-such-check] typo\nimport sqlalchemy as sa", 1))
    repo.commit("feature: findings set aside")
    return repo, repo.verify()


def test_a_comment_above_the_statement_sets_its_finding_aside_with_the_reason(run):
    repo, result = run
    check = result.check("table-without-primary-key")
    suppressed = {f["revision"]: f for f in check["suppressed"]}
    assert suppressed["0003"]["reason"] == "an append-only log, read in bulk"
    assert suppressed["0003"]["line"] == line_of(repo.path / "alembic/versions/0003.py", "op.create_table")
    assert suppressed["0003"]["message"] == "0003: creates table `public.audit_lines` without a primary key"


def test_a_comment_at_the_top_covers_the_whole_file_and_all_set_aside_the_check_passes(run):
    _, result = run
    check = result.check("table-without-primary-key")
    assert check["status"] == "pass" and check["findings"] == []
    assert {f["revision"] for f in check["suppressed"]} == {"0003", "0005"}
    assert check["summary"] == "2 findings suppressed in the revision files"
    assert result.check("table-without-primary-key")["suppressed"][1]["reason"] == "partitioned by day later"


def test_a_suppression_without_a_reason_applies_and_is_a_finding_of_its_own(run):
    repo, result = run
    assert result.status("foreign-key-without-index") == "pass"
    [set_aside] = result.check("foreign-key-without-index")["suppressed"]
    assert set_aside["reason"] == ""
    check = result.check("suppressions")
    assert check["status"] == "warn"
    [no_reason] = [f for f in check["findings"] if "gives no reason" in f["message"]]
    assert no_reason["file"] == "alembic/versions/0004.py"
    assert no_reason["line"] == line_of(repo.path / "alembic/versions/0004.py", "migbot: ignore")


def test_a_suppression_naming_no_known_check_is_a_finding(run):
    repo, result = run
    [unknown] = [f for f in result.check("suppressions")["findings"] if "no-such-check" in f["message"]]
    assert unknown["message"] == "`# migbot: ignore[no-such-check]` names no check migbot has"
    assert unknown["severity"] == "warning" and unknown["file"] == "alembic/versions/0005.py"
    assert unknown["line"] == line_of(repo.path / "alembic/versions/0005.py", "no-such-check")


def test_the_summary_lists_what_was_set_aside_and_why(run):
    repo, result = run
    markdown = render_markdown(Report.model_validate(result.report))
    line = line_of(repo.path / "alembic/versions/0003.py", "op.create_table")
    assert "<details><summary>3 findings suppressed in the revision files</summary>" in markdown
    assert "- Suppressed: 0003: creates table `public.audit_lines` without a primary key — " \
        f"“an append-only log, read in bulk” (`alembic/versions/0003.py:{line}`)" in markdown
    assert "— no reason given" in markdown


def test_a_comment_applies_to_the_statement_it_ends_or_precedes_and_the_top_to_the_file():
    source = b'''"""doc"""
# migbot: ignore[a] whole file
import x

op.f(1,
     2)  # migbot: ignore[b] why b
# migbot: ignore[c, d] why cd
op.g()
'''
    found = read_suppressions(source, ast.parse(source))
    assert [(s.checks, s.reason, s.target) for s in found] == [
        (("a",), "whole file", None), (("b",), "why b", 5), (("c", "d"), "why cd", 8)]
