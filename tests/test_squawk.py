"""squawk on the SQL each new revision's upgrade really ran, each finding at the line of the
revision that ran the statement (issue 12)."""

from __future__ import annotations

import pytest

from conftest import Repo, Result, line_of, make_repo
from migbot.evidence import StepOutcome, Trip
from migbot.run import lint_sql


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Repo, Result]:
    repo = make_repo(tmp_path_factory.mktemp("squawk") / "service")
    repo.commit_on_main("pyproject.toml", '[tool.migbot]\nsquawk-exclude = ["prefer-robust-stmts"]\n')
    repo.git("reset", "-q", "--hard", "main")
    repo.branch("feature")
    repo.revision("0003", "0002", 'op.create_index("ix_users_email_lower", "users", [sa.text("lower(email)")])',
                  'op.drop_index("ix_users_email_lower", table_name="users")')
    repo.revision("0004", "0003", 'op.create_check_constraint("ck_users_email", "users", "email <> \'\'")',
                  'op.drop_constraint("ck_users_email", "users")')
    repo.revision("0005", "0004", 'op.create_table("badges", sa.Column("id", sa.Integer(), primary_key=True), '
                  'sa.Column("name", sa.Text()))', 'op.drop_table("badges")')
    repo.revision("0006", "0005", 'op.create_index("ix_badges_name", "badges", ["name"])',
                  'op.drop_index("ix_badges_name", table_name="badges")')
    repo.commit("feature: an index without CONCURRENTLY, a constraint without NOT VALID, a new table indexed")
    return repo, repo.verify()


def _findings(result: Result, rule: str) -> list[dict]:
    return [f for f in result.check("squawk")["findings"] if f"squawk `{rule}`" in f["message"]]


def test_a_plain_index_on_a_table_with_rows_is_named_by_squawk_and_by_the_observed_share_lock(run):
    repo, result = run
    [finding] = _findings(result, "require-concurrent-index-creation")
    assert finding["revision"] == "0003" and finding["severity"] == "warning"
    assert finding["line"] == line_of(repo.path / "alembic/versions/0003.py", "op.create_index")
    assert "CREATE INDEX ix_users_email_lower ON users (lower(email))" in finding["message"]
    assert finding["hint"] == "Use `concurrently` to avoid blocking writes. " \
        "See https://squawkhq.com/docs/require-concurrent-index-creation."
    [observed] = result.check("index-without-concurrently")["findings"]
    assert observed["revision"] == "0003" and "SHARE lock" in observed["message"]


def test_a_constraint_without_not_valid_is_named_at_its_line(run):
    repo, result = run
    [finding] = _findings(result, "constraint-missing-not-valid")
    assert finding["revision"] == "0004"
    assert finding["line"] == line_of(repo.path / "alembic/versions/0004.py", "op.create_check_constraint")


def test_locks_on_a_table_the_branch_creates_are_left_out_and_counted(run):
    _, result = run
    findings = result.check("squawk")["findings"]
    assert not [f for f in findings if f["revision"] == "0006" and "require-concurrent-index-creation" in f["message"]]
    notes = [f["message"] for f in findings if f["severity"] == "note"]
    assert notes == ["1 finding about locks on tables this branch creates left out: nothing uses them before it is "
                     "deployed"]


def test_the_config_decides_which_rules_are_left_out(run):
    _, result = run
    check = result.check("squawk")
    assert check["status"] == "warn" and check["level"] == "warning"
    assert _findings(result, "require-lock-timeout")  # left out by default, not by this config
    assert not _findings(result, "prefer-robust-stmts")


def test_without_squawk_the_check_says_so_instead_of_passing(tmp_path, monkeypatch):
    monkeypatch.setattr(lint_sql, "squawk_binary", lambda: None)
    trip = Trip("0003", upgrade=StepOutcome(True, 0.0, result={"steps": [
        {"revision": "0003", "upgrade": True, "statements": [{"sql": "CREATE INDEX i ON t (c)", "line": 3}]}]}))
    linted = lint_sql.lint([trip], tmp_path, server_major=15, exclude=None)
    assert linted.skipped.startswith("squawk is not installed")
    assert linted.findings == []
