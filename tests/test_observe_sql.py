"""What each new revision's upgrade ran, seen on the live database: its statements in order,
the line that ran each, the locks each took and the tables it rewrote (issue 12, observe)."""

from __future__ import annotations

import pytest

from conftest import Repo, Result, line_of
from migbot.report.markdown import render_markdown
from migbot.report.model import Report


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Repo, Result]:
    from conftest import make_repo

    repo = make_repo(tmp_path_factory.mktemp("observe") / "service")
    repo.branch("feature")
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("points", sa.Integer()))',
                  'op.drop_column("users", "points")')
    repo.revision("0004", "0003", 'op.alter_column("users", "points", type_=sa.BigInteger())',
                  'op.alter_column("users", "points", type_=sa.Integer())')
    repo.revision("0005", "0004", 'op.create_index("ix_users_points", "users", ["points"])',
                  'op.drop_index("ix_users_points", table_name="users")')
    repo.revision("0006", "0005",
                  'op.add_column("users", sa.Column("token", sa.Text(), server_default=sa.text("md5(random()::text)")))',
                  'op.drop_column("users", "token")')
    repo.revision("0007", "0006",
                  'op.add_column("users", sa.Column("tier", sa.Integer(), nullable=False, server_default="0"))',
                  'op.drop_column("users", "tier")')
    repo.commit("feature: a column, then int to bigint, then an index, a volatile default, a constant default")
    return repo, repo.verify()


def _statements(result: Result, revision: str) -> list[dict]:
    [entry] = [r for r in result.report["projects"][0]["stairway"] if r["revision"] == revision]
    return entry["statements"]


def test_a_type_change_that_rewrites_the_table_names_the_rewrite_and_its_access_exclusive_lock(run):
    repo, result = run
    [statement] = _statements(result, "0004")
    assert "ALTER COLUMN points TYPE BIGINT" in statement["sql"]
    assert statement["line"] == line_of(next((repo.path / "alembic/versions").glob("0004*.py")), "op.alter_column")
    assert {"table": "public.users", "mode": "ACCESS EXCLUSIVE"} in statement["locks"]
    # the table and its indexes, rebuilt with it
    assert statement["rewrote"] == ["public.pk_users", "public.uq_users_email", "public.users"]


def test_adding_a_nullable_column_is_not_called_a_rewrite(run):
    _, result = run
    [statement] = _statements(result, "0003")
    assert "ADD COLUMN points INTEGER" in statement["sql"]
    assert statement["rewrote"] == []
    assert {"table": "public.users", "mode": "ACCESS EXCLUSIVE"} in statement["locks"]


def test_the_summary_shows_each_revisions_sql_with_its_strongest_lock_and_rewrites(run):
    _, result = run
    markdown = render_markdown(Report.model_validate(result.report))
    assert "SQL of `0004`: 1 statement; ACCESS EXCLUSIVE on `public.users`; rewrites `public.pk_users`, " \
        "`public.uq_users_email`, `public.users`</summary>" in markdown
    block = markdown.split("SQL of `0004`", 1)[1].split("</details>", 1)[0]
    assert "```sql\n-- line " in block and "takes ACCESS EXCLUSIVE on public.users · rewrites public.pk_users, public.uq_users_email, public.users" in block
    assert "ALTER TABLE users ALTER COLUMN points TYPE BIGINT" in block


def test_over_the_base_data_the_same_statements_are_timed_and_the_locked_tables_rows_counted(run):
    _, result = run
    [entry] = [r for r in result.report["projects"][0]["stairway"] if r["revision"] == "0004"]
    [statement] = entry["over_data"]
    assert "ALTER COLUMN points TYPE BIGINT" in statement["sql"] and "public.users" in statement["rewrote"]
    rows = result.report["projects"][0]["seeds"]["base_rows"]["public.users"]
    assert rows > 0 and entry["rows"] == {"public.users": rows}
    markdown = render_markdown(Report.model_validate(result.report))
    block = markdown.split("SQL of `0004`", 1)[1].split("</details>", 1)[0]
    assert f"the tables it locked held {rows} rows in `public.users`." in block
    assert " ms" not in block  # times are in the JSON report: the comment reads the same on every run


def test_a_rewrite_of_a_table_with_rows_warns_at_the_line_that_ran_it(run):
    repo, result = run
    check = result.check("table-rewrite")
    assert check["status"] == "warn" and check["level"] == "warning"
    [finding] = [f for f in check["findings"] if f["severity"] == "warning" and f["revision"] == "0004"]
    path = next((repo.path / "alembic/versions").glob("0004*.py"))
    assert finding["revision"] == "0004" and finding["line"] == line_of(path, "op.alter_column")
    assert finding["file"].endswith(path.name)
    rows = result.report["projects"][0]["seeds"]["base_rows"]["public.users"]
    assert f"rewrote `public.users`, which held {rows} rows in the base data" in finding["message"]


def test_a_volatile_default_rewrites_the_table_and_warns(run):
    repo, result = run
    [statement] = _statements(result, "0006")
    assert "ADD COLUMN token TEXT DEFAULT md5(random()::text)" in statement["sql"]
    assert "public.users" in statement["rewrote"]
    [finding] = [f for f in result.check("table-rewrite")["findings"] if f["revision"] == "0006"]
    assert finding["severity"] == "warning"
    assert finding["line"] == line_of(repo.path / "alembic/versions/0006.py", "op.add_column")


def test_a_constant_default_is_not_called_a_rewrite(run):
    _, result = run
    [statement] = _statements(result, "0007")
    assert "ADD COLUMN tier INTEGER DEFAULT '0' NOT NULL" in statement["sql"]
    assert statement["rewrote"] == []
    assert {"table": "public.users", "mode": "ACCESS EXCLUSIVE"} in statement["locks"]
    assert not [f for f in result.check("table-rewrite")["findings"] if f["revision"] == "0007"]


def test_an_index_built_without_concurrently_on_a_table_with_rows_warns(run):
    repo, result = run
    check = result.check("index-without-concurrently")
    assert check["status"] == "warn"
    [finding] = check["findings"]
    assert finding["revision"] == "0005"
    assert finding["line"] == line_of(next((repo.path / "alembic/versions").glob("0005*.py")), "op.create_index")
    assert "builds an index on `public.users`" in finding["message"] and "postgresql_concurrently" in finding["hint"]


def test_a_new_table_and_its_index_pass_both(repo):
    repo.revision("0003", "0002", 'op.create_table("badges", sa.Column("id", sa.Integer(), primary_key=True),'
                  ' sa.Column("name", sa.String(50)))\nop.create_index("ix_badges_name", "badges", ["name"])',
                  'op.drop_index("ix_badges_name", table_name="badges")\nop.drop_table("badges")')
    repo.commit("feature: a new table with an index")
    result = repo.verify()
    for check_id in ("table-rewrite", "index-without-concurrently"):
        check = result.check(check_id)
        assert check["status"] == "pass", check
        assert "(1 observed over the base data)" in check["summary"]


def test_statements_past_the_observed_ones_are_named_not_passed_over(repo):
    repo.revision("0003", "0002", 'for _ in range(205):\n    op.execute("SELECT 1")', "pass")
    repo.commit("feature: a revision that runs 205 statements")
    result = repo.verify()
    [entry] = result.report["projects"][0]["stairway"]
    assert len(entry["statements"]) == 200
    for check_id in ("table-rewrite", "index-without-concurrently"):
        notes = [f["message"] for f in result.check(check_id)["findings"] if f["severity"] == "note"]
        assert notes == ["0003: only its first 200 statements were observed; 5 more ran unobserved"]
