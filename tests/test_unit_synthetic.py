"""Synthetic rows under CHECK constraints and foreign keys, on a throwaway PostgreSQL started by migbot's own code."""

from __future__ import annotations

import psycopg

from migbot.provision.synthetic import fill_empty_tables


def count(conn: psycopg.Connection, query: str) -> int:
    return conn.execute(query).fetchone()[0]


def test_an_or_check_is_met_through_the_alternative_that_keeps_every_row(conn) -> None:
    conn.execute("""CREATE TABLE resource (id serial PRIMARY KEY, kind text NOT NULL, path text,
        CONSTRAINT local_or_has_path CHECK ((kind = 'local') OR (path IS NOT NULL)))""")
    result = fill_empty_tables(conn, rows=50)
    assert result.filled == {"public.resource": 50} and not result.skipped
    assert count(conn, "SELECT count(*) FROM resource WHERE NOT (kind = 'local' OR path IS NOT NULL)") == 0
    assert count(conn, "SELECT count(*) FROM resource WHERE path IS NULL") == 0  # `path IS NOT NULL` was the way


def test_an_or_check_takes_the_alternative_the_columns_can_meet(conn) -> None:
    conn.execute("""CREATE TABLE resource (id serial PRIMARY KEY, kind text NOT NULL, location point,
        CONSTRAINT local_or_located CHECK ((kind = 'local') OR (location IS NOT NULL)))""")
    result = fill_empty_tables(conn, rows=50)  # migbot cannot make points: every row must be local
    assert result.filled == {"public.resource": 50} and not result.skipped
    assert count(conn, "SELECT count(*) FROM resource WHERE kind = 'local' AND location IS NULL") == 50


def test_null_checks_and_num_nonnulls_are_met(conn) -> None:
    conn.execute("""CREATE TABLE payment (id int PRIMARY KEY, card text, iban text, note text, closed_at date,
        CONSTRAINT one_method CHECK (num_nonnulls(card, iban) = 1),
        CONSTRAINT noted CHECK (note IS NOT NULL AND closed_at IS NULL))""")
    result = fill_empty_tables(conn, rows=40)
    assert result.filled == {"public.payment": 40} and not result.skipped
    assert count(conn, "SELECT count(*) FROM payment WHERE num_nonnulls(card, iban) = 1 "
                       "AND note IS NOT NULL AND closed_at IS NULL") == 40


def test_two_foreign_keys_to_one_table_point_at_different_rows(conn) -> None:
    conn.execute("CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)")
    conn.execute("""CREATE TABLE follows (follower_id int NOT NULL REFERENCES users,
        followee_id int NOT NULL REFERENCES users, PRIMARY KEY (follower_id, followee_id),
        CONSTRAINT no_self_follow CHECK (follower_id <> followee_id))""")
    result = fill_empty_tables(conn, rows=100)
    assert result.filled == {"public.users": 100, "public.follows": 100} and not result.skipped
    assert count(conn, "SELECT count(*) FROM follows WHERE follower_id = followee_id") == 0
    assert count(conn, "SELECT count(DISTINCT follower_id) FROM follows") == 100


def test_two_foreign_keys_to_few_rows_take_every_pair_once(conn) -> None:
    conn.execute("CREATE TABLE users (id int PRIMARY KEY)")
    conn.execute("INSERT INTO users VALUES (1), (2), (3)")  # seeded: left as it is
    conn.execute("""CREATE TABLE follows (follower_id int NOT NULL REFERENCES users,
        followee_id int NOT NULL REFERENCES users, PRIMARY KEY (follower_id, followee_id),
        CONSTRAINT no_self_follow CHECK (follower_id <> followee_id))""")
    result = fill_empty_tables(conn, rows=100)
    assert result.filled == {"public.follows": 6}  # 3 * 2 ordered pairs of different users
    assert count(conn, "SELECT count(*) FROM follows WHERE follower_id = followee_id") == 0


def test_comparisons_between_columns_hold(conn) -> None:
    conn.execute("""CREATE TABLE booking (id serial PRIMARY KEY, start_at timestamptz NOT NULL,
        end_at timestamptz NOT NULL, low int NOT NULL, high int NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(), expires_at date,
        CONSTRAINT starts_before_it_ends CHECK (start_at < end_at), CONSTRAINT ordered CHECK (low <= high),
        CONSTRAINT expires_later CHECK (expires_at > created_at))""")
    result = fill_empty_tables(conn, rows=60)
    assert result.filled == {"public.booking": 60} and not result.skipped
    assert count(conn, "SELECT count(*) FROM booking WHERE start_at < end_at AND low <= high "
                       "AND (expires_at IS NULL OR expires_at > created_at)") == 60


def test_a_self_referencing_foreign_key_points_at_earlier_rows(conn) -> None:
    conn.execute("CREATE TABLE category (id int PRIMARY KEY, parent_id int REFERENCES category, name text NOT NULL)")
    conn.execute("CREATE TABLE node (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES node)")
    conn.execute("CREATE TABLE folder (id serial PRIMARY KEY, parent_id int REFERENCES folder)")
    result = fill_empty_tables(conn, rows=30)
    assert result.filled == {"public.category": 30, "public.folder": 30, "public.node": 30} and not result.skipped
    assert count(conn, "SELECT count(*) FROM category WHERE parent_id IS NOT NULL") == 29  # all but the root
    assert count(conn, "SELECT count(*) FROM category WHERE parent_id >= id") == 0
    assert count(conn, "SELECT count(*) FROM node WHERE parent_id = id") == 1  # the root is its own parent
    assert count(conn, "SELECT count(*) FROM folder WHERE parent_id IS NOT NULL") == 0  # ids come from a sequence


def test_checks_migbot_cannot_read_filter_the_generated_rows(conn) -> None:
    conn.execute("CREATE TABLE ticket (id int PRIMARY KEY, CONSTRAINT not_thirds CHECK (mod(id, 3) <> 0))")
    result = fill_empty_tables(conn, rows=30)
    assert result.filled == {"public.ticket": 20}
    assert count(conn, "SELECT count(*) FROM ticket WHERE mod(id, 3) = 0") == 0


def test_rows_that_fail_one_by_one_are_left_out_and_the_others_go_in(conn) -> None:
    conn.execute("CREATE DOMAIN even AS int CHECK (VALUE % 2 = 0)")  # a cast error, which no filter can catch
    conn.execute("CREATE TABLE pairs (id int PRIMARY KEY, n even NOT NULL)")
    result = fill_empty_tables(conn, rows=30)
    assert not result.skipped and result.filled["public.pairs"] > 0
    assert count(conn, "SELECT count(*) FROM pairs WHERE n % 2 <> 0") == 0


def test_a_table_that_cannot_be_filled_says_which_constraint_and_column(conn) -> None:
    conn.execute("CREATE TABLE window_t (id int PRIMARY KEY, qty int NOT NULL, CONSTRAINT qty_window "
                 "CHECK (qty > 10 AND qty < 5))")
    conn.execute("CREATE TABLE nulls_t (id int PRIMARY KEY, a int NOT NULL, CONSTRAINT a_is_null CHECK (a IS NULL))")
    result = fill_empty_tables(conn, rows=10)
    assert result.filled == {}
    assert result.skipped == {
        "public.nulls_t": "no generated row satisfies its check a_is_null CHECK ((a IS NULL)): "
                          "column a would have to be NULL, and it is NOT NULL",
        "public.window_t": "no generated row satisfies its check qty_window CHECK (((qty > 10) AND (qty < 5))): "
                           "no value of column qty is both >= 11 and <= 4",
    }
