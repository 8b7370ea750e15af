"""The pg_dump backstop's normalisation, and how compare() layers it under the itemised snapshot."""

from __future__ import annotations

from migbot.snapshot.compare import compare
from migbot.snapshot.dump import normalise
from migbot.snapshot.types import Snapshot

DUMP = r"""--
-- PostgreSQL database dump
--

\restrict AbCdEf123

-- Dumped from database version 15.20
SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

--
-- Name: users; Type: TABLE; Schema: public; Owner: app
--

CREATE TABLE public.users (
    id integer NOT NULL,
    email text,
    name text
);


ALTER TABLE public.users OWNER TO app;

--
-- Name: TABLE users; Type: ACL; Schema: public; Owner: app
--

GRANT SELECT ON TABLE public.users TO PUBLIC;

--
-- Name: CAST (integer AS public.pair); Type: CAST; Schema: -; Owner: -
--

CREATE CAST (integer AS public.pair) WITH INOUT;

\unrestrict AbCdEf123
"""


def test_normalise_keys_entries_by_what_they_define_and_drops_the_noise() -> None:
    entries = normalise(DUMP)
    assert set(entries) == {"TABLE public.users", "ACL TABLE public.users", "CAST (integer AS public.pair)"}
    assert entries["ACL TABLE public.users"] == "GRANT SELECT ON TABLE public.users TO PUBLIC;"
    assert "restrict" not in "".join(entries.values())
    assert "SET " not in "".join(entries.values())


def test_normalise_ignores_column_order_only() -> None:
    reordered = DUMP.replace("    email text,\n    name text\n", "    name text,\n    email text\n")
    assert normalise(reordered) == normalise(DUMP)
    retyped = DUMP.replace("    email text,", "    email varchar,")
    assert normalise(retyped) != normalise(DUMP)


def _snapshot(dump: str | None, columns: str = "id, email, name") -> Snapshot:
    return Snapshot(objects={"column order": {"public.users": {"columns": columns}}},
                    dump=normalise(dump) if dump is not None else None,
                    dump_missing=None if dump is not None else "pg_dump was not found")


def test_a_dump_difference_nothing_itemised_names_is_reported_from_the_dump() -> None:
    without_grant = DUMP.replace("GRANT SELECT ON TABLE public.users TO PUBLIC;", "")
    diff = compare(_snapshot(without_grant), _snapshot(DUMP))
    [change] = diff.changes
    assert (change.kind, change.name, change.change) == ("structure", "ACL TABLE public.users", "added")
    assert "GRANT SELECT ON TABLE public.users TO PUBLIC;" in change.describe()


def test_columns_in_another_order_are_their_own_difference() -> None:
    diff = compare(_snapshot(DUMP), _snapshot(DUMP, columns="id, name, email, added"))
    assert diff.structural == []
    [change] = diff.reordered
    assert change.describe() == "columns of `public.users` are in another order: id, email, name → id, name, email"


def test_without_a_dump_the_comparison_says_it_rests_on_the_catalogs() -> None:
    diff = compare(_snapshot(None), _snapshot(DUMP))
    assert diff.empty
    assert diff.unchecked == "pg_dump was not found"


def test_an_added_table_lists_its_columns_in_the_tables_own_order() -> None:
    from migbot.snapshot.compare import compare

    after = Snapshot(objects={
        "table": {"public.t": {"kind": "table"}},
        "column": {f"public.t.{c}": {"table": "public.t", "type": "integer"} for c in ("id", "b_col", "a_col")},
        "column order": {"public.t": {"columns": "id, b_col, a_col"}},
    })
    [added] = [c for c in compare(Snapshot(), after).changes if c.kind == "table"]
    assert added.columns == ["id", "b_col", "a_col"]
