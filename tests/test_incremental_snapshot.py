"""A snapshot read again only where the catalogs changed equals a full read, step after step,
through the changes that alter another relation's definitions (renames behind a foreign key,
a view, a default's sequence, a partition, a trigger) and those only a full read can follow
(types, functions, schemas)."""

from __future__ import annotations

import pytest

from migbot.snapshot.catalog import read_objects
from migbot.snapshot.incremental import snapshot_since
from pg_unit import conn, server  # noqa: F401

VERSION_TABLES = ("alembic_version",)

# (DDL, the relations the partial snapshot must read again; None: it must read everything)
STEPS = [
    ("CREATE TABLE a (id serial PRIMARY KEY, name text)", ("public.a", "public.a_id_seq")),
    ("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)", ("public.alembic_version",)),
    # The foreign key adds triggers to `a`, and a_id_seq depends on `a`: both read again.
    ("CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id))", ("public.a", "public.a_id_seq", "public.b")),
    ("ALTER TABLE a RENAME TO a2", ("public.a2", "public.a_id_seq", "public.b")),
    ("ALTER TABLE a2 RENAME COLUMN id TO ident", ("public.a2", "public.a_id_seq", "public.b")),
    ("CREATE VIEW v AS SELECT name FROM a2", ("public.v",)),
    ("ALTER TABLE a2 RENAME COLUMN name TO label", ("public.a2", "public.a_id_seq", "public.b", "public.v")),
    ("ALTER SEQUENCE a_id_seq RENAME TO a_seq", ("public.a2", "public.a_seq")),
    ("COMMENT ON CONSTRAINT b_a_id_fkey ON b IS 'the owner'", ("public.b",)),
    ("CREATE INDEX b_a ON b (a_id)", ("public.b",)),
    ("ALTER INDEX b_a RENAME TO b_a_id", ("public.b",)),
    # A changed relation brings what depends on it, though a grant renames nothing.
    ("GRANT SELECT (label) ON a2 TO PUBLIC", ("public.a2", "public.a_seq", "public.b", "public.v")),
    ("ALTER TABLE b ALTER COLUMN a_id SET NOT NULL", ("public.b",)),
    ("INSERT INTO b SELECT 1, NULL WHERE false", ()),
    ("CREATE TYPE mood AS ENUM ('calm')", None),
    ("ALTER TABLE b ADD COLUMN m mood", ("public.b",)),
    ("ALTER TYPE mood RENAME TO feeling", None),
    ("CREATE TABLE p (id int, at date) PARTITION BY RANGE (at)", ("public.p",)),
    ("CREATE TABLE p1 PARTITION OF p FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')", ("public.p", "public.p1")),
    ("ALTER TABLE p RENAME TO p_all", ("public.p1", "public.p_all")),
    ("DROP VIEW v", ()),  # the view's objects go with it; nothing else changed
    ("ALTER TABLE a2 DROP COLUMN label", ("public.a2", "public.a_seq", "public.b")),
    ("CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'", None),
    ("CREATE TRIGGER b_touch BEFORE UPDATE ON b FOR EACH ROW EXECUTE FUNCTION touch()", ("public.b",)),
    ("ALTER TABLE b RENAME TO b2", ("public.b2",)),
    ("CREATE STATISTICS b2_stats ON id, a_id FROM b2", ("public.b2",)),
    ("ALTER TABLE b2 ENABLE ROW LEVEL SECURITY", ("public.b2",)),
    ("CREATE POLICY b2_read ON b2 FOR SELECT USING (true)", ("public.b2",)),
    ("CREATE RULE a2_keep AS ON DELETE TO a2 DO INSTEAD NOTHING", ("public.a2", "public.a_seq", "public.b2")),
    ("ALTER TABLE a2 RENAME TO a3", ("public.a3", "public.a_seq", "public.b2")),
    ("ALTER SEQUENCE a_seq OWNED BY NONE", ("public.a3", "public.a_seq")),
    ("CREATE TABLE x (one int); CREATE TABLE y (two int)", ("public.x", "public.y")),
    ("ALTER TABLE x RENAME TO tmp; ALTER TABLE y RENAME TO x; ALTER TABLE tmp RENAME TO y", ("public.x", "public.y")),
    ("DROP TABLE b2 CASCADE", ("public.a3",)),
    ("CREATE SCHEMA other", None),
    ("ALTER TABLE y SET SCHEMA other", ("other.y",)),
    ("CREATE TYPE pair AS (a int, b int)", None),
    ("REVOKE USAGE ON TYPE pair FROM PUBLIC", None),
    ("CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one WITH NO DATA", ("public.mv",)),
    ("REFRESH MATERIALIZED VIEW mv", ("public.mv",)),
    ("COMMENT ON COLUMN x.two IS 'two'", ("public.x",)),
]


def test_partial_snapshots_equal_full_ones_and_read_only_what_changed(conn) -> None:  # noqa: F811
    conn.autocommit = True
    snapshot, basis = snapshot_since(conn, VERSION_TABLES, None)
    assert basis.reread is None
    for ddl, reread in STEPS:
        conn.execute(ddl)
        snapshot, basis = snapshot_since(conn, VERSION_TABLES, basis)
        assert snapshot.objects == read_objects(conn, VERSION_TABLES), ddl
        assert basis.reread == reread, ddl


@pytest.mark.parametrize("ddl", [
    "COMMENT ON SCHEMA public IS 'the default'",
    "CREATE ROLE incremental_role",
    "DO $$ BEGIN EXECUTE format($f$ALTER DATABASE %I SET work_mem = '8MB'$f$, current_database()); END $$",
    "CREATE DOMAIN positive AS int CHECK (VALUE > 0)",
])
def test_changes_outside_relations_read_everything(conn, ddl: str) -> None:  # noqa: F811
    conn.autocommit = True
    conn.execute("CREATE TABLE t (id int)")
    _, basis = snapshot_since(conn, VERSION_TABLES, None)
    try:
        conn.execute(ddl)
        snapshot, basis = snapshot_since(conn, VERSION_TABLES, basis)
    finally:
        conn.execute("DROP ROLE IF EXISTS incremental_role")
    assert snapshot.objects == read_objects(conn, VERSION_TABLES)
    assert basis.reread is None
