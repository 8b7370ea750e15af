"""Which user objects changed since the last snapshot, from the catalogs' row versions.

Every committed change to a catalog row gives it a new `xmin`, and a removed row lowers its
catalog's count. So (count, newest xmin) over the catalog rows that describe one relation
changes exactly when a DDL statement changed that relation (PostgreSQL updates in place
only statistics such as reltuples, which no snapshot reads). The same pair over each catalog
of the other kinds (schemas, types, functions, extensions, ...) says whether any of them
changed, and a hash of the role names catches a renamed role.

A snapshot then re-reads only the relations whose digest moved, and those whose definitions
name them (a foreign key, a view, a default's sequence, a partition), found in pg_depend.
Anything it cannot place re-reads everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from migbot.user_objects import USER_NAMESPACES

# The relation kinds whose objects the snapshot can re-read one relation at a time.
PARTIAL_RELKINDS = frozenset("rpfvmSiI")

RELATIONS = f"""
WITH rel AS (
  SELECT c.oid, COALESCE(x.indrelid, c.oid) AS owner
  FROM pg_class c LEFT JOIN pg_index x ON x.indexrelid = c.oid
  WHERE c.relnamespace IN ({USER_NAMESPACES})
), rows_ AS (
  SELECT r.owner, c.xmin AS x FROM rel r JOIN pg_class c ON c.oid = r.oid
  UNION ALL SELECT r.owner, a.xmin FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid
  UNION ALL SELECT r.owner, d.xmin FROM rel r JOIN pg_attrdef d ON d.adrelid = r.oid
  UNION ALL SELECT r.owner, k.xmin FROM rel r JOIN pg_constraint k ON k.conrelid = r.oid
  UNION ALL SELECT r.owner, i.xmin FROM rel r JOIN pg_index i ON i.indexrelid = r.oid
  UNION ALL SELECT r.owner, t.xmin FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid
  UNION ALL SELECT r.owner, p.xmin FROM rel r JOIN pg_policy p ON p.polrelid = r.oid
  UNION ALL SELECT r.owner, w.xmin FROM rel r JOIN pg_rewrite w ON w.ev_class = r.oid
  UNION ALL SELECT r.owner, s.xmin FROM rel r JOIN pg_statistic_ext s ON s.stxrelid = r.oid
  UNION ALL SELECT r.owner, q.xmin FROM rel r JOIN pg_sequence q ON q.seqrelid = r.oid
  UNION ALL SELECT r.owner, h.xmin FROM rel r JOIN pg_inherits h ON h.inhrelid = r.oid
  UNION ALL SELECT r.owner, f.xmin FROM rel r JOIN pg_foreign_table f ON f.ftrelid = r.oid
  UNION ALL SELECT r.owner, d.xmin FROM rel r JOIN pg_depend d
    ON d.classid = 'pg_class'::regclass AND d.objid = r.oid
  UNION ALL SELECT r.owner, d.xmin FROM rel r JOIN pg_description d
    ON d.classoid = 'pg_class'::regclass AND d.objoid = r.oid
  UNION ALL SELECT r.owner, d.xmin FROM rel r JOIN pg_constraint k ON k.conrelid = r.oid
    JOIN pg_description d ON d.classoid = 'pg_constraint'::regclass AND d.objoid = k.oid
  UNION ALL SELECT r.owner, d.xmin FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid
    JOIN pg_description d ON d.classoid = 'pg_trigger'::regclass AND d.objoid = t.oid
)
SELECT o.oid::bigint, n.nspname || '.' || o.relname, o.relkind::text, count(*)::bigint,
       max(rows_.x::text::bigint)
FROM rows_ JOIN pg_class o ON o.oid = rows_.owner JOIN pg_namespace n ON n.oid = o.relnamespace
GROUP BY 1, 2, 3
"""


def _versions(catalog: str, where: str = "true") -> str:
    return f"(SELECT count(*) || ':' || COALESCE(max(xmin::text::bigint), 0) FROM {catalog} WHERE {where})"


# Objects made after initdb have OIDs from 16384 (FirstNormalObjectId) up: PostgreSQL's own
# rows, which no migration changes, are left out of the big catalogs.
_USER_MADE = "oid >= 16384"
_OTHER_CATALOGS = [
    "pg_namespace", "pg_extension", "pg_enum", "pg_range", "pg_aggregate", "pg_ts_config_map",
    "pg_foreign_data_wrapper", "pg_default_acl", "pg_event_trigger", "pg_publication",
    "pg_publication_rel", "pg_db_role_setting",
]
_OTHERS = [_versions(catalog) for catalog in _OTHER_CATALOGS] + [
    _versions(catalog, _USER_MADE) for catalog in
    ("pg_proc", "pg_collation", "pg_ts_config", "pg_ts_dict", "pg_cast", "pg_operator", "pg_foreign_server")
] + [
    # Types, but not a table's or view's row type or an array of one (those change with their
    # relation). A composite type (CREATE TYPE ... AS) keeps its privileges here, not in pg_class.
    _versions("pg_type t", "t.oid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_class r WHERE r.relkind <> 'c'"
                           " AND r.oid IN (t.typrelid, (SELECT e.typrelid FROM pg_type e WHERE e.oid = t.typelem)))"),
    _versions("pg_constraint", "contypid <> 0"),
    _versions("pg_description", "(objoid >= 16384 OR classoid = 'pg_namespace'::regclass) AND classoid NOT IN ('pg_class'::regclass,"
                                " 'pg_constraint'::regclass, 'pg_trigger'::regclass)"),
    "(SELECT md5(string_agg(oid::text || ' ' || rolname, ',' ORDER BY oid)) FROM pg_roles)",
]
_OTHERS_15 = [_versions("pg_publication_namespace")]

# For each changed relation, the relations whose objects' definitions may name it.
DEPENDENTS = """
SELECT DISTINCT CASE d.classid
  WHEN 'pg_class'::regclass THEN COALESCE((SELECT x.indrelid FROM pg_index x WHERE x.indexrelid = d.objid), d.objid)
  WHEN 'pg_constraint'::regclass THEN (SELECT k.conrelid FROM pg_constraint k WHERE k.oid = d.objid)
  WHEN 'pg_rewrite'::regclass THEN (SELECT w.ev_class FROM pg_rewrite w WHERE w.oid = d.objid)
  WHEN 'pg_trigger'::regclass THEN (SELECT t.tgrelid FROM pg_trigger t WHERE t.oid = d.objid)
  WHEN 'pg_attrdef'::regclass THEN (SELECT a.adrelid FROM pg_attrdef a WHERE a.oid = d.objid)
  WHEN 'pg_policy'::regclass THEN (SELECT p.polrelid FROM pg_policy p WHERE p.oid = d.objid)
  WHEN 'pg_statistic_ext'::regclass THEN (SELECT s.stxrelid FROM pg_statistic_ext s WHERE s.oid = d.objid)
END::bigint
FROM pg_depend d WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY(%(changed)s)
"""


@dataclass(frozen=True)
class Relation:
    name: str  # schema.name, as the snapshot keys it
    relkind: str
    versions: tuple[int, int]  # (catalog rows, newest xmin)


@dataclass(frozen=True)
class Digest:
    relations: dict[int, Relation]
    others: tuple[str, ...]


def read_digest(conn: psycopg.Connection) -> Digest:
    with conn.cursor() as cur:
        cur.execute(RELATIONS)
        relations = {oid: Relation(name, relkind, (count, newest)) for oid, name, relkind, count, newest in cur}
        others = _OTHERS + (_OTHERS_15 if conn.info.server_version >= 150000 else [])
        cur.execute("SELECT " + ", ".join(others))
        return Digest(relations, tuple(cur.fetchone()))


def read_dependents(conn: psycopg.Connection, changed: list[int]) -> set[int]:
    with conn.cursor() as cur:
        cur.execute(DEPENDENTS, {"changed": changed})
        return {row[0] for row in cur if row[0] is not None}
