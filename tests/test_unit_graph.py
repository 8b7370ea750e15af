"""Unit tests for migbot.plan.graph.RevisionGraph."""

from __future__ import annotations

from migbot.discover.revisions import RevisionFile
from migbot.plan.graph import RevisionGraph


def rev(rev_id: str | None, *parents: str, path: str | None = None, labels: tuple[str, ...] = (),
        depends_on: tuple[str, ...] = ()) -> RevisionFile:
    return RevisionFile(path=path or f"versions/{rev_id}.py", revision=rev_id, down_revisions=tuple(parents),
                        branch_labels=labels, depends_on=depends_on)


def graph(*revs: RevisionFile) -> RevisionGraph:
    return RevisionGraph(list(revs))


# --- heads ---------------------------------------------------------------------------
def test_linear_history_has_one_head():
    assert graph(rev("a"), rev("b", "a"), rev("c", "b")).heads() == ["c"]


def test_fork_has_two_sorted_heads():
    assert graph(rev("a"), rev("z", "a"), rev("b", "a")).heads() == ["b", "z"]


def test_merge_revision_joins_heads():
    assert graph(rev("a"), rev("b", "a"), rev("c", "a"), rev("m", "b", "c")).heads() == ["m"]


def test_empty_graph_has_no_heads():
    assert graph().heads() == []


def test_files_without_revision_id_are_ignored():
    g = graph(rev("a"), rev(None, "a", path="versions/broken.py"))
    assert g.ids == {"a"}
    assert g.heads() == ["a"]


def test_heads_does_not_grow_children_mapping():
    g = graph(rev("a"), rev("b", "a"))
    g.heads()
    assert set(g.children) == {"a"}


# --- duplicates --------------------------------------------------------------------------
def test_no_duplicates():
    assert graph(rev("a"), rev("b", "a")).duplicates == {}


def test_duplicate_id_lists_both_files_first_kept():
    first, second = rev("a", path="v/one.py"), rev("a", path="v/two.py")
    g = graph(first, second)
    assert list(g.duplicates) == ["a"]
    assert [f.path for f in g.duplicates["a"]] == ["v/one.py", "v/two.py"]
    assert g.by_id["a"] is first


def test_triplicate_id_lists_three_files_once_each():
    g = graph(rev("a", path="1.py"), rev("a", path="2.py"), rev("a", path="3.py"))
    assert [f.path for f in g.duplicates["a"]] == ["1.py", "2.py", "3.py"]


# --- missing parents -----------------------------------------------------------------------
def test_missing_down_revision_is_reported():
    child = rev("b", "gone")
    assert graph(rev("a"), child).missing_parents() == [(child, "gone", "down_revision")]


def test_missing_depends_on_is_reported():
    child = rev("b", "a", depends_on=("nope",))
    assert graph(rev("a"), child).missing_parents() == [(child, "nope", "depends_on")]


def test_existing_parents_are_not_missing():
    assert graph(rev("a"), rev("b", "a"), rev("c", "a", depends_on=("b",))).missing_parents() == []


def test_branch_label_is_not_a_missing_parent():
    g = graph(rev("a", labels=("billing",)), rev("b", "a", depends_on=("billing",)))
    assert g.missing_parents() == []


def test_one_missing_parent_of_merge():
    merge = rev("m", "a", "ghost")
    assert graph(rev("a"), merge).missing_parents() == [(merge, "ghost", "down_revision")]


# --- ancestors ------------------------------------------------------------------------------
def test_merged_unions_ids_and_first_graph_wins():
    base_a = rev("a", path="base/a.py")
    head_a = rev("a", path="head/a.py")
    merged = RevisionGraph.merged(graph(base_a, rev("b", "a")), graph(head_a, rev("c", "a")))
    assert merged.ids == {"a", "b", "c"}
    assert merged.by_id["a"] is base_a
    assert merged.duplicates == {}


def test_merged_graph_shows_two_heads_when_both_sides_build_on_same_parent():
    base = graph(rev("a"), rev("b", "a"))
    head = graph(rev("a"), rev("c", "a"))
    assert RevisionGraph.merged(base, head).heads() == ["b", "c"]
    assert base.heads() == ["b"] and head.heads() == ["c"]


def test_merged_with_branch_up_to_date_has_single_head():
    base = graph(rev("a"), rev("b", "a"))
    head = graph(rev("a"), rev("b", "a"), rev("c", "b"))
    assert RevisionGraph.merged(base, head).heads() == ["c"]


def test_depends_on_may_name_a_unique_id_prefix():
    assert graph(rev("abc123"), rev("b", "abc123", depends_on=("abc",))).missing_parents() == []
