"""SQL fragments for who owns an object and who may use it, as text a reviewer can read.

Privileges are listed only where they differ from PostgreSQL's defaults for the object's
owner (acldefault), so a table created by a migration shows nothing, and `GRANT SELECT
ON users TO PUBLIC` shows `PUBLIC: SELECT`. A default privilege revoked is listed too.
"""

from __future__ import annotations


def owner(role_oid: str) -> str:
    return f"pg_get_userbyid({role_oid})"


def _grantee(column: str) -> str:
    return f"CASE WHEN {column} = 0 THEN 'PUBLIC' ELSE pg_get_userbyid({column}) END"


def _listed(items: str, where: str) -> str:
    """'grantee: PRIV, PRIV; grantee: PRIV' over aclexplode() rows `items` (alias e) filtered by `where`."""
    return f"""(SELECT string_agg(g, '; ' ORDER BY g) FROM (
        SELECT {_grantee('e.grantee')} || ': ' || string_agg(e.privilege_type
               || CASE WHEN e.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END, ', ' ORDER BY e.privilege_type) AS g
        FROM {items} AS e WHERE {where} GROUP BY e.grantee) AS grants_)"""


def _same(a: str, b: str) -> str:
    return f"{a}.grantee = {b}.grantee AND {a}.privilege_type = {b}.privilege_type AND {a}.is_grantable = {b}.is_grantable"


def _unless_default(acl: str, listed: str) -> str:
    """A NULL ACL is the defaults: nothing granted or revoked beyond them (and nothing to compute)."""
    return f"CASE WHEN {acl} IS NULL THEN NULL ELSE {listed} END"


def granted(acl: str, objtype: str, owner_oid: str) -> str:
    """Privileges granted beyond the defaults. objtype is acldefault's letter: r (table,
    view), s (sequence), c (column), n (schema), f (function), T (type)."""
    default = f"acldefault('{objtype}', {owner_oid})"
    return _unless_default(acl, _listed(f"aclexplode({acl})",
                                        f"NOT EXISTS (SELECT 1 FROM aclexplode({default}) AS d WHERE {_same('d', 'e')})"))


def revoked(acl: str, objtype: str, owner_oid: str) -> str:
    """Default privileges taken away (REVOKE ALL ON users FROM owner, ...)."""
    return _unless_default(acl, _listed(f"aclexplode(acldefault('{objtype}', {owner_oid}))",
                                        f"NOT EXISTS (SELECT 1 FROM aclexplode({acl}) AS a WHERE {_same('a', 'e')})"))


def explicit(acl: str) -> str:
    """Every entry of an ACL as it is (for default privileges, which have no baseline)."""
    return _listed(f"aclexplode({acl})", "true")


def columns(acl: str, objtype: str, owner_oid: str) -> str:
    """owner, privileges and revoked privileges, as SELECT list items."""
    return (f"{owner(owner_oid)} AS owner, {granted(acl, objtype, owner_oid)} AS privileges, "
            f"{revoked(acl, objtype, owner_oid)} AS revoked")
