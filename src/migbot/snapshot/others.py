"""The rarer kinds of the snapshot: statistics objects, rules, event triggers, publications,
collations, text search configurations and dictionaries, casts, operators, foreign servers
and default privileges. Names, never OIDs, so a recreated object compares equal.
"""

from __future__ import annotations

from migbot.snapshot import access
from migbot.user_objects import (
    USER_NAMESPACES,
    enabled_state,
    not_extension_member,
    user_made,
)

OTHER_QUERIES: dict[str, str] = {
    "statistics": f"""
        SELECT n.nspname || '.' || s.stxname AS key,
               (SELECT tn.nspname || '.' || t.relname FROM pg_class t JOIN pg_namespace tn ON tn.oid = t.relnamespace
                 WHERE t.oid = s.stxrelid) AS "table",
               pg_get_statisticsobjdef(s.oid) AS definition
        FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
        WHERE s.stxnamespace IN ({USER_NAMESPACES}) AND {not_extension_member('pg_statistic_ext', 's.oid')}
          AND {{relations:s.stxrelid}}
    """,
    "rule": f"""
        SELECT n.nspname || '.' || c.relname || '.' || r.rulename AS key,
               n.nspname || '.' || c.relname AS "table",
               pg_get_ruledef(r.oid) AS definition,
               {enabled_state('r.ev_enabled')} AS enabled
        FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE r.rulename <> '_RETURN' AND c.relnamespace IN ({USER_NAMESPACES})
          AND {not_extension_member('pg_class', 'c.oid')} AND {{relations:c.oid}}
    """,
    "event trigger": f"""
        SELECT e.evtname AS key, e.evtevent AS event, e.evtfoid::regprocedure::text AS function,
               {enabled_state('e.evtenabled')} AS enabled,
               array_to_string(e.evttags, ', ') AS tags, {access.owner('e.evtowner')} AS owner
        FROM pg_event_trigger e WHERE {user_made('pg_event_trigger', 'e.oid')}
    """,
    "publication": f"""
        SELECT p.pubname AS key, CASE WHEN p.puballtables THEN 'all tables' END AS all_tables,
               concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
                         CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END)
                 AS publishes,
               (SELECT string_agg(pt.schemaname || '.' || pt.tablename, ', ' ORDER BY pt.schemaname, pt.tablename)
                  FROM pg_publication_tables pt WHERE pt.pubname = p.pubname AND NOT p.puballtables) AS tables,
               {access.owner('p.pubowner')} AS owner
        FROM pg_publication p WHERE {user_made('pg_publication', 'p.oid')}
    """,
    "collation": f"""
        SELECT n.nspname || '.' || c.collname AS key,
               (to_jsonb(c) - 'oid' - 'collname' - 'collnamespace' - 'collowner' - 'collversion')::text
                 AS definition
        FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
        WHERE c.collnamespace IN ({USER_NAMESPACES}) AND {not_extension_member('pg_collation', 'c.oid')}
    """,
    "text search configuration": f"""
        SELECT n.nspname || '.' || c.cfgname AS key,
               (SELECT p.prsname FROM pg_ts_parser p WHERE p.oid = c.cfgparser) AS parser,
               (SELECT string_agg(m.maptokentype || ': ' || m.mapdict::regdictionary::text, ', '
                                  ORDER BY m.maptokentype, m.mapseqno)
                  FROM pg_ts_config_map m WHERE m.mapcfg = c.oid) AS mapping
        FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
        WHERE c.cfgnamespace IN ({USER_NAMESPACES}) AND {not_extension_member('pg_ts_config', 'c.oid')}
    """,
    "text search dictionary": f"""
        SELECT n.nspname || '.' || d.dictname AS key,
               (SELECT t.tmplname FROM pg_ts_template t WHERE t.oid = d.dicttemplate) AS template,
               d.dictinitoption AS options
        FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
        WHERE d.dictnamespace IN ({USER_NAMESPACES}) AND {not_extension_member('pg_ts_dict', 'd.oid')}
    """,
    "cast": f"""
        SELECT format_type(c.castsource, NULL) || ' AS ' || format_type(c.casttarget, NULL) AS key,
               NULLIF(c.castfunc, 0)::regprocedure::text AS function,
               CASE c.castcontext WHEN 'e' THEN 'explicit' WHEN 'a' THEN 'assignment' ELSE 'implicit' END AS context,
               CASE c.castmethod WHEN 'f' THEN 'function' WHEN 'i' THEN 'inout' ELSE 'binary' END AS method
        FROM pg_cast c WHERE {user_made('pg_cast', 'c.oid')}
    """,
    "operator": f"""
        SELECT n.nspname || '.' || o.oprname || '(' || COALESCE(format_type(NULLIF(o.oprleft, 0), NULL), 'NONE')
               || ', ' || format_type(o.oprright, NULL) || ')' AS key,
               o.oprcode::regprocedure::text AS function,
               NULLIF(o.oprcom, 0)::regoperator::text AS commutator,
               NULLIF(o.oprnegate, 0)::regoperator::text AS negator,
               NULLIF(o.oprrest, 0)::regproc::text AS restrict, NULLIF(o.oprjoin, 0)::regproc::text AS "join",
               concat_ws(', ', CASE WHEN o.oprcanhash THEN 'hashes' END, CASE WHEN o.oprcanmerge THEN 'merges' END)
                 AS flags
        FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
        WHERE o.oprnamespace IN ({USER_NAMESPACES}) AND {not_extension_member('pg_operator', 'o.oid')}
    """,
    "foreign server": f"""
        SELECT s.srvname AS key, w.fdwname AS wrapper, s.srvtype AS type, s.srvversion AS version,
               (SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(s.srvoptions) AS o) AS options,
               {access.columns('s.srvacl', 'S', 's.srvowner')}
        FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
        WHERE {user_made('pg_foreign_server', 's.oid')}
    """,
    # ALTER DATABASE ... SET and ALTER ROLE ... IN DATABASE ... SET: pg_dump without --create omits them.
    "database setting": """
        SELECT COALESCE(pg_get_userbyid(NULLIF(s.setrole, 0)) || ' in this database', 'this database') || ': '
               || split_part(c.setting, '=', 1) AS key,
               substr(c.setting, length(split_part(c.setting, '=', 1)) + 2) AS value
        FROM pg_db_role_setting s CROSS JOIN LATERAL unnest(s.setconfig) AS c(setting)
        WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
    """,
    "default privileges": f"""
        SELECT pg_get_userbyid(d.defaclrole) || ' on '
               || CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions'
                       WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' END
               || COALESCE(' in ' || (SELECT nspname FROM pg_namespace WHERE oid = d.defaclnamespace), '') AS key,
               {access.explicit('d.defaclacl')} AS privileges
        FROM pg_default_acl d
    """,
}
