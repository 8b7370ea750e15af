"""Fingerprints and synthetic rows, on a throwaway PostgreSQL started by migbot's own code."""

from __future__ import annotations

from migbot.provision.synthetic import fill_empty_tables
from migbot.snapshot.fingerprint import diff, fingerprints, row_hashes, user_tables


def test_fingerprint_is_order_independent_and_sees_any_change(conn) -> None:
    conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text, updated_at timestamptz)")
    conn.execute("INSERT INTO t VALUES (2, 'b', now()), (1, 'a', now())")
    tables = user_tables(conn)
    first = fingerprints(conn, tables)["public.t"]
    assert first.rows == 2
    conn.execute("CLUSTER t USING t_pkey")  # physical order changes, contents do not
    assert fingerprints(conn, tables)["public.t"] == first
    conn.execute("UPDATE t SET v = 'B' WHERE id = 2")
    assert fingerprints(conn, tables)["public.t"] != first


def test_changes_name_added_removed_and_changed_rows_with_keys(conn) -> None:
    conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text, updated_at timestamptz DEFAULT now())")
    conn.execute("CREATE TABLE pair (a int, b int, v text, PRIMARY KEY (a, b))")
    conn.execute("CREATE TABLE nokey (v text)")
    conn.execute("INSERT INTO t (id, v) SELECT g, 'v' || g FROM generate_series(1, 10) g")
    conn.execute("INSERT INTO pair VALUES (1, 1, 'x'), (1, 2, 'y')")
    conn.execute("INSERT INTO nokey VALUES ('x'), ('x'), ('y')")
    tables = {t.qualified: t for t in user_tables(conn)}
    before = {name: row_hashes(conn, table, ["updated_at"]) for name, table in tables.items()}
    conn.execute("DELETE FROM t WHERE id IN (3, 4)")
    conn.execute("INSERT INTO t (id, v) VALUES (11, 'new')")
    conn.execute("UPDATE t SET v = 'changed' WHERE id = 5")
    conn.execute("UPDATE t SET updated_at = now() + interval '1 day'")  # ignored
    conn.execute("UPDATE pair SET v = 'z' WHERE a = 1 AND b = 2")
    conn.execute("DELETE FROM nokey WHERE ctid = (SELECT min(ctid) FROM nokey WHERE v = 'x')")
    found = {name: diff(table, before[name], row_hashes(conn, table, ["updated_at"])) for name, table in tables.items()}
    t = found["public.t"]
    assert (t.added, t.removed, t.changed) == (1, 2, 1)
    assert (t.sample_added, t.sample_removed, t.sample_changed) == (["11"], ["3", "4"], ["5"])
    assert found["public.pair"].sample_changed == ["(1,2)"]
    assert (found["public.nokey"].added, found["public.nokey"].removed) == (0, 1)
    assert t.text == "`public.t`: 1 row added (e.g. 11); 2 rows removed (e.g. 3, 4); 1 row changed (e.g. 5)"


def test_ignore_columns_by_name_or_by_table(conn) -> None:
    conn.execute("CREATE TABLE a (id int PRIMARY KEY, synced_at int)")
    conn.execute("CREATE TABLE b (id int PRIMARY KEY, synced_at int)")
    conn.execute("INSERT INTO a VALUES (1, 1)")
    conn.execute("INSERT INTO b VALUES (1, 1)")
    tables = user_tables(conn)
    before = fingerprints(conn, tables, ["a.synced_at"])
    conn.execute("UPDATE a SET synced_at = 2")
    conn.execute("UPDATE b SET synced_at = 2")
    after = fingerprints(conn, tables, ["a.synced_at"])
    assert [name for name in before if before[name] != after[name]] == ["public.b"]


def test_synthetic_rows_respect_the_schema(conn) -> None:
    conn.execute("CREATE TYPE mood AS ENUM ('happy', 'sad')")
    conn.execute("CREATE DOMAIN posint AS int CHECK (VALUE > 0)")
    conn.execute("""CREATE TABLE users (id serial PRIMARY KEY, email varchar(255) NOT NULL UNIQUE,
        code char(3) NOT NULL UNIQUE, age int CHECK (age >= 18 AND age < 130),
        status text NOT NULL CHECK (status IN ('active', 'banned')), m mood NOT NULL, score numeric(5,2),
        flag boolean NOT NULL, created timestamptz NOT NULL DEFAULT now(), p posint NOT NULL, data jsonb,
        ip inet, uid uuid NOT NULL UNIQUE, tags text[] NOT NULL)""")
    conn.execute("CREATE TABLE teams (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)")
    conn.execute("""CREATE TABLE memberships (user_id int NOT NULL REFERENCES users, team_id bigint NOT NULL
        REFERENCES teams, role text NOT NULL CHECK (role = ANY (ARRAY['owner', 'member'])),
        PRIMARY KEY (user_id, team_id))""")
    conn.execute("CREATE TABLE profiles (user_id int PRIMARY KEY REFERENCES users, bio text)")
    conn.execute("CREATE TABLE tree (id int PRIMARY KEY, parent_id int REFERENCES tree)")
    conn.execute("CREATE TABLE flags (m mood NOT NULL, f boolean NOT NULL, UNIQUE (m, f))")
    conn.execute("CREATE TABLE shapes (id int PRIMARY KEY, at point NOT NULL)")
    conn.execute("CREATE TABLE seeded (id int PRIMARY KEY)")
    conn.execute("INSERT INTO seeded VALUES (1)")
    result = fill_empty_tables(conn, rows=300)
    assert result.filled == {"public.flags": 4, "public.memberships": 300, "public.profiles": 300,
                             "public.teams": 300, "public.tree": 300, "public.users": 300}
    assert result.skipped == {"public.shapes": "migbot cannot generate values of type point (column at)"}
    assert conn.execute("SELECT count(*) FROM seeded").fetchone()[0] == 1  # tables with rows are left alone
    assert conn.execute("SELECT count(DISTINCT status), min(age) >= 18 FROM users").fetchone() == (2, True)
    assert conn.execute("SELECT count(*) FILTER (WHERE score IS NULL) BETWEEN 1 AND 100 FROM users").fetchone()[0]


def test_synthetic_rows_skip_a_table_whose_required_reference_is_empty(conn) -> None:
    conn.execute("CREATE TABLE parent (id int PRIMARY KEY, v point NOT NULL)")  # cannot be filled
    conn.execute("CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent)")
    result = fill_empty_tables(conn, rows=10)
    assert "needs rows in public.parent, which has none" in result.skipped["public.child"]


def test_a_fifty_table_chain_of_foreign_keys_is_filled_in_order(conn) -> None:
    for i in range(50):
        ref = f", parent_id int REFERENCES t{i - 1}" if i else ""
        conn.execute(f"CREATE TABLE t{i} (id serial PRIMARY KEY, name varchar(80) NOT NULL UNIQUE, "
                     f"amount numeric(10,2), created timestamptz NOT NULL DEFAULT now(){ref})")
    result = fill_empty_tables(conn, rows=300)
    assert len(result.filled) == 50 and not result.skipped


def test_a_table_whose_rows_differ_but_name_no_key_still_says_what_happened() -> None:
    from migbot.snapshot.types import TableChange

    assert TableChange(table="public.t").text == "`public.t`: its rows differ, though none can be named by its key"
