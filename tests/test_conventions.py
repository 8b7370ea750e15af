"""Convention rules judged from the catalogs at head, for what the branch adds only (issue 12):
a foreign key that no index covers, a table without a primary key."""

from __future__ import annotations

import pytest

from conftest import Repo, Result, line_of, make_repo

UUID_FK = 'sa.Column("user_id", postgresql.UUID(), sa.ForeignKey("users.id"), nullable=False)'


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Repo, Result]:
    repo = make_repo(tmp_path_factory.mktemp("conventions") / "service")
    repo.branch("feature")
    repo.revision("0003", "0002", f'op.create_table("badges", sa.Column("id", sa.Integer(), primary_key=True),\n'
                  f'                {UUID_FK})', 'op.drop_table("badges")')
    repo.revision("0004", "0003", 'op.create_table("audit_lines", sa.Column("at", sa.DateTime()),\n'
                  '                sa.Column("text", sa.Text()))', 'op.drop_table("audit_lines")')
    # covered: by an index on the key's columns in another order; a partial index does not count
    repo.revision("0005", "0004", f'''
        op.create_table("grants", sa.Column("id", sa.Integer(), primary_key=True), {UUID_FK},
                        sa.Column("scope", sa.Text(), nullable=False))
        op.create_table("grant_uses", sa.Column("id", sa.Integer(), primary_key=True),
                        sa.Column("grant_id", sa.Integer(), nullable=False), sa.Column("scope", sa.Text()),
                        sa.Column("user_id", postgresql.UUID()))
        op.create_unique_constraint("uq_grants_id_scope", "grants", ["id", "scope"])
        op.create_foreign_key("fk_uses_grant", "grant_uses", "grants", ["grant_id", "scope"], ["id", "scope"])
        op.create_index("ix_uses_scope_grant", "grant_uses", ["scope", "grant_id"])
        op.create_foreign_key("fk_uses_user", "grant_uses", "users", ["user_id"], ["id"])
        op.create_index("ix_uses_user_partial", "grant_uses", ["user_id"], postgresql_where=sa.text("user_id IS NOT NULL"))
        op.create_index("ix_grants_user_id", "grants", ["user_id"])
    ''', 'op.drop_table("grant_uses")\nop.drop_table("grants")')
    repo.commit("feature: tables with and without indexes on their foreign keys, one without a primary key")
    return repo, repo.verify()


def _messages(result: Result, check_id: str) -> list[str]:
    return [f["message"] for f in result.check(check_id)["findings"] if f["severity"] == "warning"]


def test_a_foreign_key_without_an_index_warns_at_the_line_that_added_it(run):
    repo, result = run
    check = result.check("foreign-key-without-index")
    assert check["status"] == "warn" and check["level"] == "warning"
    [badges] = [f for f in check["findings"] if f["revision"] == "0003"]
    assert badges["message"].startswith("0003: adds foreign key `")
    assert "on `public.badges` (user_id), and no index starts with those columns" in badges["message"]
    assert "`public.users` row" in badges["message"]
    path = repo.path / "alembic/versions/0003.py"
    assert badges["file"] == "alembic/versions/0003.py" and badges["line"] == line_of(path, "op.create_table")
    assert "op.create_index(\"ix_badges_user_id\", \"badges\", ['user_id'])" in badges["hint"]


def test_only_an_index_on_the_keys_columns_covers_it_in_any_order_and_never_a_partial_one(run):
    repo, result = run
    messages = _messages(result, "foreign-key-without-index")
    assert any("`fk_uses_user`" in m for m in messages)  # only a partial index on user_id
    assert not any("fk_uses_grant" in m for m in messages)  # (scope, grant_id) covers (grant_id, scope)
    assert not any("public.grants` (user_id)" in m for m in messages)
    [finding] = [f for f in result.check("foreign-key-without-index")["findings"] if "fk_uses_user" in f["message"]]
    assert finding["line"] == line_of(repo.path / "alembic/versions/0005.py", '"fk_uses_user"')


def test_a_table_created_without_a_primary_key_warns_and_the_base_tables_are_not_judged(run):
    repo, result = run
    check = result.check("table-without-primary-key")
    assert check["status"] == "warn"
    [finding] = check["findings"]
    assert finding["message"] == "0004: creates table `public.audit_lines` without a primary key"
    assert finding["line"] == line_of(repo.path / "alembic/versions/0004.py", "op.create_table")
    assert check["level"] == "warning"


def test_a_branch_whose_keys_are_indexed_and_tables_keyed_passes_both(tmp_path):
    repo = make_repo(tmp_path / "service")
    repo.branch("feature")
    repo.revision("0003", "0002", f'op.create_table("badges", sa.Column("id", sa.Integer(), primary_key=True),\n'
                  f'                {UUID_FK})\nop.create_index("ix_badges_user_id", "badges", ["user_id"])',
                  'op.drop_table("badges")')
    repo.commit("feature: an indexed foreign key")
    result = repo.verify()
    assert result.status("foreign-key-without-index") == "pass"
    assert result.check("foreign-key-without-index")["summary"] == \
        "every foreign key the branch adds has an index on its columns"
    assert result.status("table-without-primary-key") == "pass"
