"""A schema snapshot read from the PostgreSQL catalogs.

Covers what `alembic check` and reflection-based tools miss: constraints by
their definitions (named or not), index definitions and validity, sequences, enum
labels, domains, views and materialized views with their options, functions and
aggregates, triggers, policies and their roles, extensions, schemas, comments,
owners and privileges, row-level security, storage parameters, replica identity,
partitions and inheritance, column storage and compression, and the rarer kinds in
snapshot.others. Objects are keyed by name, never by OID. Column order is kept
apart ("column order"): compare() reports it on its own, as a warning. Objects owned
by extensions, the system schemas and Alembic's version table are left out.

Anything the itemised kinds miss is caught by the pg_dump backstop (snapshot.dump).
"""

from __future__ import annotations

import re

import psycopg

from migbot.snapshot import access
from migbot.snapshot.others import OTHER_QUERIES
from migbot.snapshot.types import Definition, Snapshot
from migbot.user_objects import USER_NAMESPACES, enabled_state, not_extension_member

QUERIES: dict[str, str] = {
    "schema": f"""
        SELECT n.nspname AS key, {access.columns('n.nspacl', 'n', 'n.nspowner')},
               obj_description(n.oid, 'pg_namespace') AS comment
        FROM pg_namespace n WHERE n.oid IN ({USER_NAMESPACES}) AND {not_extension_member('pg_namespace', 'n.oid')}
    """,
    "extension": """
        SELECT e.extname AS key, e.extversion AS version, n.nspname AS schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    """,
    "table": f"""
        SELECT n.nspname || '.' || c.relname AS key,
               CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table' ELSE 'table' END
                 AS kind,
               CASE c.relpersistence WHEN 'u' THEN 'unlogged' ELSE NULL END AS persistence,
               CASE WHEN c.relrowsecurity THEN 'enabled' ELSE NULL END AS row_security,
               CASE WHEN c.relforcerowsecurity THEN 'forced' ELSE NULL END AS force_row_security,
               (SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(c.reloptions) AS o) AS storage_parameters,
               CASE c.relreplident WHEN 'f' THEN 'FULL' WHEN 'n' THEN 'NOTHING'
                    WHEN 'i' THEN 'USING INDEX ' || (SELECT ri.relname FROM pg_index x
                                                    JOIN pg_class ri ON ri.oid = x.indexrelid
                                                    WHERE x.indrelid = c.oid AND x.indisreplident) END
                 AS replica_identity,
               pg_get_partkeydef(c.oid) AS partition_key,
               CASE WHEN c.relispartition THEN
                 (SELECT pn.nspname || '.' || p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                  JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid)
                 || ' ' || pg_get_expr(c.relpartbound, c.oid) END AS partition_of,
               CASE WHEN NOT c.relispartition THEN
                 (SELECT string_agg(pn.nspname || '.' || p.relname, ', ' ORDER BY i.inhseqno)
                  FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                  JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid) END AS inherits,
               (SELECT am.amname FROM pg_am am WHERE am.oid = c.relam AND am.amname <> 'heap') AS access_method,
               (SELECT s.srvname || COALESCE(' ' || array_to_string(ft.ftoptions, ', '), '')
                  FROM pg_foreign_table ft JOIN pg_foreign_server s ON s.oid = ft.ftserver
                 WHERE ft.ftrelid = c.oid) AS foreign_server,
               {access.columns('c.relacl', 'r', 'c.relowner')},
               obj_description(c.oid, 'pg_class') AS comment
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'f') AND c.relnamespace IN ({USER_NAMESPACES})
          AND NOT (c.relname = ANY(%(version_tables)s)) AND {not_extension_member('pg_class', 'c.oid')}
          AND {{relations:c.oid}}
    """,
    "column": f"""
        SELECT n.nspname || '.' || c.relname || '.' || a.attname AS key,
               n.nspname || '.' || c.relname AS "table",
               format_type(a.atttypid, a.atttypmod) AS type,
               CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'NULL' END AS nullable,
               CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS "default",
               CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END AS identity,
               CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS generated,
               CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                    THEN (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END AS collation,
               CASE WHEN a.attstorage <> t.typstorage THEN
                 CASE a.attstorage WHEN 'p' THEN 'PLAIN' WHEN 'e' THEN 'EXTERNAL' WHEN 'm' THEN 'MAIN'
                      ELSE 'EXTENDED' END END AS storage,
               {{compression}} AS compression,
               CASE WHEN a.attstattarget > 0 THEN a.attstattarget::text END AS statistics,
               -- n_distinct and n_distinct_inherited are the only attribute options PostgreSQL documents
               (SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(a.attoptions) AS o WHERE o LIKE 'n\\_distinct%%')
                 AS options,
               {access.granted('a.attacl', 'c', 'c.relowner')} AS privileges,
               col_description(c.oid, a.attnum) AS comment
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND c.relnamespace IN ({USER_NAMESPACES})
          AND NOT (c.relname = ANY(%(version_tables)s)) AND {not_extension_member('pg_class', 'c.oid')}
          AND {{relations:c.oid}}
    """,
    "constraint": f"""
        SELECT n.nspname || '.' || c.relname || '.' || con.conname AS key,
               n.nspname || '.' || c.relname AS "table",
               CASE con.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique' WHEN 'f' THEN 'foreign key'
                    WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion' WHEN 't' THEN 'trigger' END AS kind,
               pg_get_constraintdef(con.oid) AS definition,
               CASE WHEN NOT con.convalidated THEN 'not validated' END AS validation,
               obj_description(con.oid, 'pg_constraint') AS comment
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE con.contype IN ('p', 'u', 'f', 'c', 'x', 't') AND c.relnamespace IN ({USER_NAMESPACES})
          AND NOT (c.relname = ANY(%(version_tables)s)) AND {not_extension_member('pg_class', 'c.oid')}
          AND {{relations:c.oid}}
    """,
    "index": f"""
        SELECT n.nspname || '.' || ic.relname AS key,
               n.nspname || '.' || tc.relname AS "table",
               pg_get_indexdef(i.indexrelid) AS definition,
               CASE WHEN NOT i.indisvalid THEN 'invalid' END AS validity,
               CASE WHEN i.indisclustered THEN 'clustered' END AS clustered,
               obj_description(ic.oid, 'pg_class') AS comment
        FROM pg_index i
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_class tc ON tc.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = ic.relnamespace
        WHERE ic.relnamespace IN ({USER_NAMESPACES})
          AND NOT (tc.relname = ANY(%(version_tables)s))
          AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid
                          AND con.contype IN ('p', 'u', 'x') AND con.conrelid = i.indrelid)
          AND {not_extension_member('pg_class', 'tc.oid')} AND {{relations:tc.oid}}
    """,
    "sequence": f"""
        SELECT n.nspname || '.' || c.relname AS key,
               format_type(s.seqtypid, NULL) AS type,
               s.seqstart::text AS start, s.seqincrement::text AS increment,
               s.seqmin::text AS min, s.seqmax::text AS max, s.seqcache::text AS cache,
               CASE WHEN s.seqcycle THEN 'cycle' END AS cycle,
               (SELECT tn.nspname || '.' || tc.relname || '.' || ta.attname
                  FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid
                  JOIN pg_namespace tn ON tn.oid = tc.relnamespace
                  JOIN pg_attribute ta ON ta.attrelid = d.refobjid AND ta.attnum = d.refobjsubid
                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1) AS owned_by,
               {access.columns('c.relacl', 's', 'c.relowner')},
               obj_description(c.oid, 'pg_class') AS comment
        FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relnamespace IN ({USER_NAMESPACES}) AND {not_extension_member('pg_class', 'c.oid')}
          AND {{relations:c.oid}}
    """,
    "type": f"""
        SELECT n.nspname || '.' || t.typname AS key,
               CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'c' THEN 'composite'
                    WHEN 'r' THEN 'range' END AS kind,
               CASE t.typtype
                 WHEN 'e' THEN (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                FROM pg_enum e WHERE e.enumtypid = t.oid)
                 WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod)
                    || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
                    || COALESCE(' DEFAULT ' || t.typdefault, '')
                    || COALESCE((SELECT ' ' || string_agg(pg_get_constraintdef(dc.oid), ' ' ORDER BY dc.conname)
                                 FROM pg_constraint dc WHERE dc.contypid = t.oid), '')
                 WHEN 'c' THEN (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', '
                                                  ORDER BY a.attnum)
                                FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0
                                  AND NOT a.attisdropped)
                 WHEN 'r' THEN (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid)
               END AS definition,
               {access.columns('t.typacl', 'T', 't.typowner')},
               obj_description(t.oid, 'pg_type') AS comment
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typnamespace IN ({USER_NAMESPACES})
          AND (t.typtype IN ('e', 'd', 'r')
               OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
          AND {not_extension_member('pg_type', 't.oid')}
    """,
    "view": f"""
        SELECT n.nspname || '.' || c.relname AS key,
               CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END AS kind,
               pg_get_viewdef(c.oid) AS definition,
               (SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(c.reloptions) AS o) AS options,
               CASE WHEN c.relkind = 'm' AND NOT c.relispopulated THEN 'not populated' END AS populated,
               {access.columns('c.relacl', 'r', 'c.relowner')},
               obj_description(c.oid, 'pg_class') AS comment
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND c.relnamespace IN ({USER_NAMESPACES})
          AND {not_extension_member('pg_class', 'c.oid')} AND {{relations:c.oid}}
    """,
    "function": f"""
        SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS key,
               CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window function'
                    ELSE 'function' END AS kind,
               CASE WHEN p.prokind = 'a' THEN
                 (SELECT 'SFUNC = ' || a.aggtransfn::regprocedure::text || ', STYPE = '
                         || format_type(a.aggtranstype, NULL)
                         || COALESCE(', FINALFUNC = ' || NULLIF(a.aggfinalfn, 0)::regprocedure::text, '')
                         || COALESCE(', COMBINEFUNC = ' || NULLIF(a.aggcombinefn, 0)::regprocedure::text, '')
                         || COALESCE(', INITCOND = ' || quote_literal(a.agginitval), '')
                         || COALESCE(', SORTOP = ' || NULLIF(a.aggsortop, 0)::regoperator::text, '')
                         || CASE a.aggkind WHEN 'o' THEN ', ordered-set' WHEN 'h' THEN ', hypothetical' ELSE '' END
                    FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
                 ELSE pg_get_functiondef(p.oid) END AS definition,
               {access.columns('p.proacl', 'f', 'p.proowner')},
               obj_description(p.oid, 'pg_proc') AS comment
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.pronamespace IN ({USER_NAMESPACES}) AND p.prokind IN ('f', 'p', 'a', 'w')
          AND {not_extension_member('pg_proc', 'p.oid')}
    """,
    "trigger": f"""
        SELECT n.nspname || '.' || c.relname || '.' || t.tgname AS key,
               n.nspname || '.' || c.relname AS "table",
               pg_get_triggerdef(t.oid) AS definition,
               {enabled_state('t.tgenabled')} AS enabled,
               obj_description(t.oid, 'pg_trigger') AS comment
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND c.relnamespace IN ({USER_NAMESPACES})
          AND {not_extension_member('pg_class', 'c.oid')} AND {{relations:c.oid}}
    """,
    "policy": f"""
        SELECT n.nspname || '.' || c.relname || '.' || p.polname AS key,
               n.nspname || '.' || c.relname AS "table",
               CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                    WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS command,
               CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END AS mode,
               (SELECT string_agg(g, ', ' ORDER BY g) FROM (
                  SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END AS g
                  FROM unnest(p.polroles) AS r) AS roles_) AS roles,
               pg_get_expr(p.polqual, p.polrelid) AS using_expr,
               pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
        FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relnamespace IN ({USER_NAMESPACES}) AND {{relations:c.oid}}
    """,
}

# Kept apart from "column": compare() reports a different order on its own (a warning).
COLUMN_ORDER = f"""
    SELECT n.nspname || '.' || c.relname AS key,
           string_agg(a.attname, ', ' ORDER BY a.attnum) AS columns
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f')
      AND c.relnamespace IN ({USER_NAMESPACES})
      AND NOT (c.relname = ANY(%(version_tables)s)) AND {not_extension_member('pg_class', 'c.oid')}
      AND {{relations:c.oid}}
    GROUP BY 1
"""
_COMPRESSION = "CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' END"  # PostgreSQL 14 and later


RELATION_FILTER = re.compile(r"\{relations:([a-z.]+)\}")


def queries(server_version: int, *, relations: bool = False) -> dict[str, str]:
    """Every query, as the server's version can run it. With `relations`, only the kinds that
    belong to a table, view or sequence, each limited to the relations in %(relations)s."""
    compression = _COMPRESSION if server_version >= 140000 else "NULL"
    found = {kind: query.replace("{compression}", compression) for kind, query in QUERIES.items()}
    found.update(OTHER_QUERIES)
    found["column order"] = COLUMN_ORDER
    if not relations:
        return {kind: RELATION_FILTER.sub("true", query) for kind, query in found.items()}
    return {kind: RELATION_FILTER.sub(r"\1 = ANY(%(relations)s)", query)
            for kind, query in found.items() if RELATION_FILTER.search(query)}


def read_objects(conn: psycopg.Connection, version_tables: tuple[str, ...],
                 relations: list[int] | None = None) -> dict[str, dict[str, Definition]]:
    """kind -> key -> definition, sorted by key; with `relations` (OIDs), only what belongs to them."""
    params = {"version_tables": list(version_tables), "relations": relations}
    kinds = queries(conn.info.server_version, relations=relations is not None)
    # One round trip for all the queries: the server runs them back to back. A partial read's
    # plans are kept (psycopg prepares them): left to choose, PostgreSQL plans each anew for its
    # OID list, which costs more than running it.
    with conn.pipeline():
        if relations is not None:
            conn.execute("SET plan_cache_mode = force_generic_plan")
        cursors = {kind: conn.cursor(row_factory=psycopg.rows.dict_row) for kind in kinds}
        for kind, query in kinds.items():
            cursors[kind].execute(query, params)
        if relations is not None:
            conn.execute("RESET plan_cache_mode")
    objects: dict[str, dict[str, Definition]] = {}
    for kind, cur in cursors.items():
        with cur:
            rows = cur.fetchall()
        objects[kind] = {
            row.pop("key"): {k: (str(v) if v is not None else None) for k, v in row.items()}
            for row in sorted(rows, key=lambda r: r["key"])
        }
    return objects


def take_snapshot(conn: psycopg.Connection, version_tables: tuple[str, ...] = ("alembic_version",)) -> Snapshot:
    return Snapshot(objects=read_objects(conn, version_tables))
