"""Whatever a downgrade leaves behind, the comparison names it: one revision per kind of object,
each with a downgrade that forgets it, in one run of the real CLI over one history."""

from __future__ import annotations

import pytest

from conftest import Repo, make_repo

# What main holds for the branch's revisions to change.
BASE_OBJECTS = """
    op.execute("CREATE TABLE events (id int, at date NOT NULL) PARTITION BY RANGE (at)")
    op.execute("CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")
    op.execute("CREATE TABLE parents (id int)")
    op.execute("CREATE TABLE children (id int)")
    op.execute("CREATE VIEW users_v AS SELECT id, email FROM users")
    op.execute("CREATE MATERIALIZED VIEW users_mv AS SELECT id FROM users WITH NO DATA")
    op.execute("CREATE TYPE money_pair AS (amount int, cents int)")
    op.execute("CREATE FUNCTION double_it(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x * 2'")
    op.execute("CREATE POLICY users_read ON users FOR SELECT TO PUBLIC USING (true)")
    op.execute("CREATE TABLE widgets (a int, b int, c int)")
    op.execute("CREATE FUNCTION ddl_seen() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END'")
    op.execute("CREATE INDEX users_email_lower ON users (lower(email))")
"""
BASE_DROP = """
    op.execute("DROP MATERIALIZED VIEW users_mv")
    op.execute("DROP VIEW users_v")
    op.execute("DROP POLICY users_read ON users")
    op.execute("DROP TABLE events, parents, children, widgets")
    op.execute("DROP TYPE money_pair")
    op.execute("DROP FUNCTION double_it(int), ddl_seen()")
    op.execute("DROP INDEX users_email_lower")
"""

# name -> (what the upgrade does and its downgrade forgets, a word the finding must contain)
LEFT_BEHIND = {
    "table-grant": ("GRANT SELECT ON users TO PUBLIC", "PUBLIC: SELECT"),
    "column-grant": ("GRANT UPDATE (full_name) ON users TO PUBLIC", "column `public.users.full_name`"),
    "schema-grant": ("GRANT CREATE ON SCHEMA public TO PUBLIC", "schema `public`"),
    "function-revoke": ("REVOKE EXECUTE ON FUNCTION double_it(int) FROM PUBLIC", "revoked"),
    "type-revoke": ("REVOKE USAGE ON TYPE money_pair FROM PUBLIC", "revoked"),
    "default-privileges": ("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC", "default privileges"),
    "owner": ("ALTER TABLE widgets OWNER TO pg_database_owner", "owner"),
    "force-rls": ("ALTER TABLE users FORCE ROW LEVEL SECURITY", "force row security"),
    "storage-parameters": ("ALTER TABLE users SET (fillfactor = 70)", "fillfactor=70"),
    "replica-identity": ("ALTER TABLE users REPLICA IDENTITY FULL", "replica identity"),
    "policy-roles": ("ALTER POLICY users_read ON users TO pg_database_owner", "roles"),
    "partition-detach": ("ALTER TABLE events DETACH PARTITION events_2026", "partition of"),
    "inheritance": ("ALTER TABLE children INHERIT parents", "inherits"),
    # What a CREATE INDEX CONCURRENTLY that failed half-way leaves behind.
    "index-validity": ("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'users_email_lower'::regclass",
                       "validity (none) → `invalid`"),
    "statistics": ("CREATE STATISTICS IF NOT EXISTS users_stats ON email, full_name FROM users",
                   "statistics `public.users_stats`"),
    "aggregate": ("CREATE OR REPLACE AGGREGATE total(int) (SFUNC = int4pl, STYPE = int)", "aggregate"),
    "view-options": ("ALTER VIEW users_v SET (security_barrier = true)", "security_barrier"),
    "matview-populated": ("REFRESH MATERIALIZED VIEW users_mv", "populated"),
    "column-storage": ("ALTER TABLE users ALTER COLUMN full_name SET STORAGE EXTERNAL", "storage"),
    "column-compression": ("ALTER TABLE users ALTER COLUMN full_name SET COMPRESSION pglz", "compression"),
    "rule": ("CREATE OR REPLACE RULE no_delete AS ON DELETE TO widgets DO INSTEAD NOTHING", "rule"),
    "event-trigger": ("CREATE EVENT TRIGGER audit_ddl ON ddl_command_end EXECUTE FUNCTION ddl_seen()",
                      "event trigger"),
    "publication": ("CREATE PUBLICATION users_pub FOR TABLE users", "publication `users_pub`"),
    "collation": ('CREATE COLLATION IF NOT EXISTS plain_c FROM "C"', "collation `public.plain_c`"),
    "text-search": ("CREATE TEXT SEARCH CONFIGURATION plain_english (COPY = english)",
                    "text search configuration"),
    "cast": ("CREATE CAST (integer AS money_pair) WITH INOUT", "cast `integer AS money_pair`"),
    "operator": ("CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq)", "operator"),
    "foreign-server": ("CREATE FOREIGN DATA WRAPPER quiet_fdw; CREATE SERVER quiet FOREIGN DATA WRAPPER quiet_fdw",
                       "foreign server `quiet`"),
    # No itemised kind covers foreign data wrappers: only the pg_dump backstop sees this one.
    "only-pg-dump-sees": ("CREATE FOREIGN DATA WRAPPER lonely_fdw", "only pg_dump shows"),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    repo: Repo = make_repo(tmp_path_factory.mktemp("completeness") / "service")
    repo.revision("0100", "0002", BASE_OBJECTS, BASE_DROP)
    # Event triggers, foreign data wrappers and giving a table away need a superuser. Over ten
    # new revisions pg_dump would compare the round trip only: this run asks for every step.
    repo.write("pyproject.toml", "[tool.migbot]\nsuperuser = true\npg-dump-each-step = true\n")
    repo.commit("main: objects for the branch to change")
    repo.branch("feature")
    down = "0100"
    for number, (name, (ddl, _)) in enumerate(LEFT_BEHIND.items(), start=101):
        rev = f"0{number}"
        # Each upgrade also creates a table its downgrade does drop: a downgrade that does
        # something, so that what it forgets is judged by the comparison.
        repo.revision(rev, down, f'op.execute({ddl!r})\nop.execute("CREATE TABLE marker_{number} (id int)")',
                      f'op.execute("DROP TABLE marker_{number}")', doc=name)
        down = rev
    repo.revision("0199", down, 'op.execute("ALTER TABLE widgets DROP COLUMN b")',
                  'op.execute("ALTER TABLE widgets ADD COLUMN b int")', doc="column order")
    repo.commit("feature: downgrades that forget")
    return repo.verify(timeout=600)


def _findings(run, revision: str) -> list[dict]:
    return [f for f in run.check("downgrade-restores-schema")["findings"] if f["revision"] == revision]


@pytest.mark.parametrize("name", list(LEFT_BEHIND))
def test_a_downgrade_that_forgets_it_fails_naming_it(run, name: str) -> None:
    revision = f"0{101 + list(LEFT_BEHIND).index(name)}"
    errors = [f for f in _findings(run, revision) if f["severity"] == "error"]
    assert errors, f"{name}: nothing found; summary: {run.check('downgrade-restores-schema')['summary']}"
    text = " ".join([errors[0]["message"], *errors[0]["details"]])
    assert LEFT_BEHIND[name][1] in text, text


def test_columns_back_in_another_order_are_a_warning_naming_them(run) -> None:
    [finding] = _findings(run, "0199")
    assert finding["severity"] == "warning"
    assert "columns of `public.widgets` are in another order: a, b, c → a, c, b" in finding["message"]


def test_the_check_fails_and_the_run_exits_1(run) -> None:
    assert run.status("downgrade-restores-schema") == "fail"
    assert run.exit_code == 1


def test_without_pg_dump_the_verdict_says_it_rests_on_the_catalogs(repo: Repo) -> None:
    repo.revision("0003", "0002", 'op.add_column("users", sa.Column("age", sa.Integer()))',
                  'op.drop_column("users", "age")')
    repo.commit()
    result = repo.verify(env={"MIGBOT_PG_DUMP": "none"})
    for check_id in ("downgrade-restores-schema", "reupgrade"):
        check = result.check(check_id)
        assert check["status"] == "pass"
        assert check["summary"].endswith("(compared from the catalogs only: the pg_dump backstop is off "
                                         "(MIGBOT_PG_DUMP=none))")


def test_past_ten_new_revisions_pg_dump_compares_the_round_trip_and_the_steps_say_so(repo: Repo) -> None:
    repo.commit_on_main("pyproject.toml", "[tool.migbot]\nsuperuser = true\n")
    repo.git("rebase", "-q", "main")
    down = "0002"
    for number in range(3, 14):
        rev = f"{number:04d}"
        forgets = 'op.execute("CREATE FOREIGN DATA WRAPPER lonely_fdw")\n' if number == 7 else ""
        repo.revision(rev, down, f'{forgets}op.execute("CREATE TABLE marker_{number} (id int)")',
                      f'op.execute("DROP TABLE marker_{number}")')
        down = rev
    repo.commit("feature: eleven revisions, one downgrade forgets a wrapper no catalog query names")
    result = repo.verify()
    stairway = result.check("downgrade-restores-schema")
    assert stairway["status"] == "pass"
    assert "(compared from the catalogs only: 11 new revisions, and pg_dump compares each step for up to 10; " \
        "it compared the round trip's ends. `pg-dump-each-step = true` makes it compare every step)" \
        in stairway["summary"]
    roundtrip = result.check("roundtrip")
    assert roundtrip["status"] == "fail"
    assert "only pg_dump shows" in " ".join(f["message"] + " ".join(f["details"]) for f in roundtrip["findings"])
    assert result.exit_code == 1
