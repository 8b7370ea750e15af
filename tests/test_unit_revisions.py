"""Unit tests for migbot.discover.revisions: static reading of Alembic revision files."""

from __future__ import annotations

import textwrap

from migbot.discover.revisions import RevisionFile, parse_revision


def parse(source: str, path: str = "migrations/versions/0001_x.py") -> RevisionFile:
    return parse_revision(path, textwrap.dedent(source).lstrip("\n").encode())


HEADER = '''
"""add users table

Revision ID: 0002
Revises: 0001
Create Date: 2024-01-01 00:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
'''


def revision_with(upgrade_body: str = "    pass\n", downgrade_body: str | None = "    op.drop_table('users')\n") -> str:
    text = textwrap.dedent(HEADER).lstrip("\n") + "\n\ndef upgrade():\n" + upgrade_body
    if downgrade_body is not None:
        text += "\n\ndef downgrade():\n" + downgrade_body
    return text


def ops_of(upgrade_body: str) -> list[str]:
    return parse_revision("r.py", revision_with(textwrap.indent(textwrap.dedent(upgrade_body), "    ")).encode()).ops


# --- ids and parents ---------------------------------------------------------------
def test_plain_assignments_give_revision_and_single_parent():
    info = parse(HEADER)
    assert info.revision == "0002"
    assert info.down_revisions == ("0001",)
    assert info.branch_labels == ()
    assert info.depends_on == ()


def test_annotated_assignments_are_read():
    info = parse('''
        from typing import Sequence, Union
        revision: str = "abc123"
        down_revision: Union[str, None] = "def456"
        branch_labels: Union[str, Sequence[str], None] = ("feature",)
        depends_on: Union[str, Sequence[str], None] = "ghi789"
    ''')
    assert info.revision == "abc123"
    assert info.down_revisions == ("def456",)
    assert info.branch_labels == ("feature",)
    assert info.depends_on == ("ghi789",)


def test_annotation_without_value_is_ignored():
    info = parse('''
        revision: str
        down_revision: str
        revision = "r1"
    ''')
    assert info.revision == "r1"
    assert info.down_revisions == ()
    assert info.down_revision_line is None


def test_merge_revision_tuple_gives_both_parents_in_order():
    info = parse('''
        revision = "m1"
        down_revision = ("a1", "b2")
    ''')
    assert info.down_revisions == ("a1", "b2")


def test_list_of_parents_is_accepted():
    info = parse('revision = "m1"\ndown_revision = ["a1", "b2"]\n')
    assert info.down_revisions == ("a1", "b2")


def test_comma_separated_string_is_split_and_stripped():
    info = parse('revision = "m1"\ndown_revision = "a1, b2 ,c3"\n')
    assert info.down_revisions == ("a1", "b2", "c3")


def test_none_down_revision_means_root():
    info = parse('revision = "root"\ndown_revision = None\n')
    assert info.revision == "root"
    assert info.down_revisions == ()


def test_non_literal_revision_is_none():
    info = parse('revision = make_id()\ndown_revision = PARENT\n')
    assert info.revision is None
    assert info.down_revisions == ()


def test_revision_and_down_revision_lines():
    info = parse(HEADER)
    lines = textwrap.dedent(HEADER).lstrip("\n").splitlines()
    assert lines[info.revision_line - 1] == 'revision = "0002"'
    assert lines[info.down_revision_line - 1] == 'down_revision = "0001"'


# --- message -----------------------------------------------------------------------
def test_message_is_first_docstring_line():
    assert parse(HEADER).message == "add users table"


def test_message_empty_without_docstring():
    assert parse('revision = "x"\n').message == ""


# --- downgrade classification --------------------------------------------------------
def test_downgrade_with_operations_is_ok():
    info = parse(revision_with())
    assert info.downgrade == "ok"


def test_downgrade_pass_is_empty():
    info = parse(revision_with(upgrade_body="    op.create_table('users')\n", downgrade_body="    pass\n"))
    assert info.downgrade == "empty"


def test_downgrade_with_comment_and_pass_is_empty():
    info = parse(revision_with(downgrade_body="    # nothing to undo\n    pass\n"))
    assert info.downgrade == "empty"


def test_downgrade_docstring_only_is_empty():
    info = parse(revision_with(downgrade_body='    """Irreversible."""\n'))
    assert info.downgrade == "empty"


def test_downgrade_ellipsis_is_empty():
    info = parse(revision_with(downgrade_body="    ...\n"))
    assert info.downgrade == "empty"


def test_downgrade_raising_not_implemented_class_is_not_implemented():
    info = parse(revision_with(downgrade_body="    raise NotImplementedError\n"))
    assert info.downgrade == "not-implemented"


def test_downgrade_raising_not_implemented_call_is_not_implemented():
    info = parse(revision_with(downgrade_body='    """No way back."""\n    raise NotImplementedError("data is lost")\n'))
    assert info.downgrade == "not-implemented"


def test_downgrade_raising_after_other_statements_is_not_implemented():
    body = "    op.drop_index('ix')\n    raise NotImplementedError()\n"
    assert parse(revision_with(downgrade_body=body)).downgrade == "not-implemented"


def test_downgrade_with_conditional_raise_is_ok():
    body = "    if False:\n        raise NotImplementedError\n    op.drop_table('users')\n"
    assert parse(revision_with(downgrade_body=body)).downgrade == "ok"


def test_missing_downgrade():
    info = parse(revision_with(downgrade_body=None))
    assert info.downgrade == "missing"
    assert info.downgrade_line is None


def test_downgrade_line_points_at_def():
    text = revision_with()
    info = parse_revision("r.py", text.encode())
    assert text.splitlines()[info.downgrade_line - 1].startswith("def downgrade(")


def test_async_upgrade_is_described():
    text = 'revision = "a"\nasync def upgrade():\n    op.drop_table("t")\n'
    assert parse(text).ops == ["drop table `t`"]


# --- syntax errors -----------------------------------------------------------------
def test_syntax_error_is_recorded_not_raised():
    text = 'revision = "a"\ndown_revision = None\n\ndef upgrade(:\n    pass\n'
    info = parse_revision("bad.py", text.encode())
    assert info.syntax_error is not None
    assert info.syntax_error_line == 4
    assert "def upgrade(:" in info.syntax_error
    assert info.revision is None
    assert info.fingerprint == info.text_hash


def test_syntax_error_file_fingerprint_changes_with_any_byte():
    a = parse_revision("bad.py", b"def f(:\n")
    b = parse_revision("bad.py", b"def f(:  \n")
    assert a.fingerprint != b.fingerprint


# --- fingerprint ---------------------------------------------------------------------
BASE_CODE = '''
"""add users

Revision ID: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"


def upgrade():
    op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade():
    op.drop_table("users")
'''


def fingerprint(source: str) -> str:
    return parse_revision("r.py", source.encode()).fingerprint


def test_fingerprint_is_stable_for_same_code():
    assert fingerprint(BASE_CODE) == fingerprint(BASE_CODE)


def test_fingerprint_ignores_comments():
    edited = BASE_CODE.replace('def upgrade():\n', 'def upgrade():\n    # create the users table\n')
    assert edited != BASE_CODE
    assert fingerprint(edited) == fingerprint(BASE_CODE)


def test_fingerprint_ignores_module_docstring_edits():
    edited = BASE_CODE.replace('"""add users\n', '"""Add the users table, reworded\n\nMore prose.\n')
    assert fingerprint(edited) == fingerprint(BASE_CODE)


def test_fingerprint_ignores_adding_function_docstring():
    edited = BASE_CODE.replace('def downgrade():\n', 'def downgrade():\n    """Drop users."""\n')
    assert fingerprint(edited) == fingerprint(BASE_CODE)


def test_fingerprint_ignores_formatting():
    edited = BASE_CODE.replace(
        'op.create_table("users", sa.Column("id", sa.Integer(), primary_key=True))',
        "op.create_table(\n        'users',\n        sa.Column('id', sa.Integer(), primary_key = True),\n    )",
    )
    assert edited != BASE_CODE
    assert fingerprint(edited) == fingerprint(BASE_CODE)


def test_fingerprint_changes_with_code_edit():
    edited = BASE_CODE.replace('primary_key=True', 'primary_key=False')
    assert fingerprint(edited) != fingerprint(BASE_CODE)


def test_fingerprint_changes_with_down_revision_edit():
    edited = BASE_CODE.replace('down_revision = "0001"', 'down_revision = "0000"')
    assert fingerprint(edited) != fingerprint(BASE_CODE)


def test_text_hash_changes_with_comment_edit():
    edited = BASE_CODE + "# trailing comment\n"
    a, b = parse_revision("r.py", BASE_CODE.encode()), parse_revision("r.py", edited.encode())
    assert a.text_hash != b.text_hash
    assert a.fingerprint == b.fingerprint


# --- ops -------------------------------------------------------------------------------
def test_create_table():
    assert ops_of('op.create_table("users", sa.Column("id", sa.Integer()))') == ["create table `users`"]


def test_create_table_keyword_name():
    assert ops_of('op.create_table(table_name="orgs")') == ["create table `orgs`"]


def test_drop_table_and_rename_table():
    assert ops_of('op.drop_table("old")\nop.rename_table("a", "b")') == ["drop table `old`", "rename table `a` to `b`"]


def test_add_column_names_table_and_column():
    assert ops_of('op.add_column("users", sa.Column("email", sa.String(), nullable=True))') == [
        "add column `users.email`"
    ]


def test_drop_column():
    assert ops_of('op.drop_column("users", "email")') == ["drop column `users.email`"]


def test_alter_column_lists_changed_attributes():
    ops = ops_of('op.alter_column("users", "email", type_=sa.Text(), nullable=False)')
    assert ops == ["alter column `users.email` (type, nullable)"]


def test_alter_column_without_details_has_no_suffix():
    assert ops_of('op.alter_column("users", "email", comment="x")') == ["alter column `users.email`"]


def test_create_index_unwraps_op_f():
    ops = ops_of('op.create_index(op.f("ix_users_email"), "users", ["email"], unique=True)')
    assert ops == ["create index `ix_users_email` on `users`"]


def test_drop_index():
    assert ops_of('op.drop_index("ix_users_email", table_name="users")') == ["drop index `ix_users_email`"]


def test_create_foreign_key_names_source_table():
    ops = ops_of('op.create_foreign_key("fk_users_org", "users", "orgs", ["org_id"], ["id"])')
    assert ops == ["add foreign key `fk_users_org` on `users`"]


def test_drop_constraint():
    ops = ops_of('op.drop_constraint("fk_users_org", "users", type_="foreignkey")')
    assert ops == ["drop constraint `fk_users_org` on `users`"]


def test_create_unique_constraint():
    ops = ops_of('op.create_unique_constraint("uq_users_email", "users", ["email"])')
    assert ops == ["add unique constraint `uq_users_email` on `users`"]


def test_execute_short_sql_is_kept_whole_and_collapsed():
    assert ops_of('op.execute("UPDATE users\\n   SET a = 1")') == ["run SQL `UPDATE users SET a = 1`"]


def test_execute_unwraps_sa_text():
    assert ops_of('op.execute(sa.text("DELETE FROM t"))') == ["run SQL `DELETE FROM t`"]


def test_execute_long_sql_is_cut_at_word_boundary_with_ellipsis():
    sql = "UPDATE users SET name = lower(name) WHERE name IS NOT NULL AND created_at < now() - interval '1 day'"
    [op_text] = ops_of(f'op.execute("{sql}")')
    assert op_text.startswith("run SQL `") and op_text.endswith(" …`")
    shown = op_text[len("run SQL `"):-len(" …`")]
    assert len(shown) <= 60
    assert sql.startswith(shown)
    assert sql[len(shown)] == " "  # cut between words, not inside one


def test_execute_non_literal_sql():
    assert ops_of('op.execute(SQL)') == ["run SQL"]


def test_bulk_insert():
    assert ops_of('op.bulk_insert(table, [{"id": 1}])') == ["insert rows"]


def test_unknown_op_call_is_humanised():
    assert ops_of('op.create_exclude_constraint("ex", "t")') == ["create exclude constraint"]


def test_helper_calls_are_not_ops():
    assert ops_of('bind = op.get_bind()\nop.f("x")\nsa.Column("a")\nlogger.info("hi")') == []


def test_ops_follow_source_order():
    ops = ops_of('op.drop_table("b")\nop.create_table("a")\nop.drop_column("c", "d")')
    assert ops == ["drop table `b`", "create table `a`", "drop column `c.d`"]


def test_downgrade_ops_are_not_described():
    text = revision_with(upgrade_body="    pass\n", downgrade_body="    op.drop_table('users')\n")
    assert parse_revision("r.py", text.encode()).ops == []


def test_batch_add_column_names_batch_table():
    ops = ops_of('''
        with op.batch_alter_table("users") as batch_op:
            batch_op.add_column(sa.Column("age", sa.Integer()))
            batch_op.drop_column("legacy")
            batch_op.alter_column("name", nullable=False)
    ''')
    assert ops == ["add column `users.age`", "drop column `users.legacy`", "alter column `users.name` (nullable)"]


def test_batch_table_keyword_name():
    ops = ops_of('''
        with op.batch_alter_table(table_name="orgs", schema=None) as b:
            b.add_column(sa.Column("slug", sa.String()))
    ''')
    assert ops == ["add column `orgs.slug`"]


def test_batch_create_index_names_the_index():
    ops = ops_of('''
        with op.batch_alter_table("users") as batch_op:
            batch_op.create_index(batch_op.f("ix_users_age"), ["age"], unique=False)
    ''')
    assert ops == ["create index `ix_users_age` on `users`"]


def test_batch_create_foreign_key_names_the_constraint():
    ops = ops_of('''
        with op.batch_alter_table("users") as batch_op:
            batch_op.create_foreign_key("fk_users_org", "orgs", ["org_id"], ["id"])
    ''')
    assert ops == ["add foreign key `fk_users_org` on `users`"]


def test_batch_create_unique_constraint_names_the_constraint():
    ops = ops_of('''
        with op.batch_alter_table("users") as batch_op:
            batch_op.create_unique_constraint("uq_users_email", ["email"])
    ''')
    assert ops == ["add unique constraint `uq_users_email` on `users`"]


def test_batch_create_index_by_keyword_names_the_index():
    ops = ops_of('''
        with op.batch_alter_table("users") as batch_op:
            batch_op.create_index(index_name="ix_users_age", columns=["age"])
    ''')
    assert ops == ["create index `ix_users_age` on `users`"]


def test_batch_drop_constraint_with_positional_type_names_the_constraint():
    ops = ops_of('''
        with op.batch_alter_table("users") as batch_op:
            batch_op.drop_constraint("fk_users_org", "foreignkey")
    ''')
    assert ops == ["drop constraint `fk_users_org` on `users`"]


# --- summary ---------------------------------------------------------------------------
def test_summary_joins_ops():
    info = RevisionFile(path="r.py", ops=["a", "b"], message="msg")
    assert info.summary == "a; b"


def test_summary_shows_first_four_ops_and_count_of_rest():
    info = RevisionFile(path="r.py", ops=["a", "b", "c", "d", "e", "f"])
    assert info.summary == "a; b; c; d (+2 more)"


def test_summary_with_exactly_four_ops_has_no_more_suffix():
    info = RevisionFile(path="r.py", ops=["a", "b", "c", "d"])
    assert info.summary == "a; b; c; d"


def test_summary_falls_back_to_message():
    assert RevisionFile(path="r.py", message="backfill names").summary == "backfill names"


def test_summary_without_ops_or_message():
    assert RevisionFile(path="r.py").summary == "no schema operations found"


def test_summary_from_parsed_file():
    info = parse(revision_with(upgrade_body='    op.create_table("users")\n    op.create_index("ix", "users", ["a"])\n'))
    assert info.summary == "create table `users`; create index `ix` on `users`"


def test_merge_revision_with_empty_bodies_reads_as_an_empty_downgrade():
    rev = parse_revision("m.py", b'revision = "m"\ndown_revision = ("a", "b")\n\n'
                                 b'def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n')
    assert rev.downgrade == "empty"
    assert rev.down_revisions == ("a", "b")


# --- meaning: what counts as an edit ------------------------------------------------------------
def _edit_of(old: str, new: str):
    from migbot.plan.changes import _edit

    return _edit("r.py", parse_revision("r.py", old.encode()), parse_revision("r.py", new.encode()))


BASE_REVISION = '''"""add age"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    op.add_column("users", sa.Column("age", sa.Integer()))


def downgrade():
    op.drop_column("users", "agee")
'''


def test_annotations_comments_imports_and_docstrings_are_not_an_edit():
    cosmetic = BASE_REVISION.replace('"""add age"""', '"""Add users.age."""').replace(
        "def upgrade():", "# the profile page needs it\ndef upgrade() -> None:").replace(
        'revision = "0003"', 'revision: str = "0003"').replace(
        "import sqlalchemy as sa\n", "from typing import Sequence\n\nimport sqlalchemy as sa\n")
    assert _edit_of(BASE_REVISION, cosmetic).change == "reformatted"


def test_an_edit_confined_to_downgrade_is_told_apart():
    change = _edit_of(BASE_REVISION, BASE_REVISION.replace('"agee"', '"age"'))
    assert (change.change, change.changed_parts) == ("downgrade-edited", ["def downgrade"])


def test_an_edit_to_upgrade_or_to_the_revision_links_is_an_edit():
    upgrade = _edit_of(BASE_REVISION, BASE_REVISION.replace('sa.Integer()', 'sa.BigInteger()'))
    assert (upgrade.change, upgrade.changed_parts) == ("modified", ["def upgrade"])
    both = _edit_of(BASE_REVISION, BASE_REVISION.replace('"agee"', '"age"').replace('"0002"', '"0001"'))
    assert (both.change, both.changed_parts) == ("modified", ["def downgrade", "down_revision ="])


def test_batch_operations_are_described_with_the_table_of_their_own_block():
    info = parse(revision_with(upgrade_body=(
        '    with op.batch_alter_table("job_locks") as batch_op:\n'
        '        batch_op.create_index("ix_job_locks_job_id", ["job_id"])\n'
        '    with op.batch_alter_table("jobs") as batch_op:\n'
        '        batch_op.drop_column("legacy")\n')))
    assert info.ops == ["create index `ix_job_locks_job_id` on `job_locks`", "drop column `jobs.legacy`"]
