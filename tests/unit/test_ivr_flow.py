"""IVR flows: one entry, no dangling edges, every node reachable, a way out of every loop."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from include.campaigns.validation import ivr_flow_problems


def flow(entry, **nodes) -> dict:
    """flow("a", a=["b"], b=[]): node ids mapped to their next nodes."""
    return {"entry": entry, "nodes": {n: {"audio": f"{n}.wav", "next": nexts} for n, nexts in nodes.items()}}


def test_no_flow_has_no_problems():
    assert ivr_flow_problems(None) == []


def test_a_valid_flow_has_no_problems():
    menu = flow(
        "greeting",
        greeting=["menu"],
        menu=["sales", "support", "menu"],  # "repeat the menu" loops back, with exits
        sales=["goodbye"],
        support=["goodbye"],
        goodbye=[],
    )
    assert ivr_flow_problems(menu) == []


def test_a_single_terminal_node_is_a_valid_flow():
    assert ivr_flow_problems({"entry": "only", "nodes": {"only": {}}}) == []


@pytest.mark.parametrize("nodes", [None, {}, [], "greeting"])
def test_a_flow_needs_a_non_empty_object_of_nodes(nodes):
    assert ivr_flow_problems({"entry": "a", "nodes": nodes}) == ["ivr_flow.nodes must be a non-empty object"]


@pytest.mark.parametrize("entry", [None, "missing"])
def test_the_entry_must_be_a_node(entry):
    problems = ivr_flow_problems({"nodes": {"a": {}}} if entry is None else flow(entry, a=[]))
    assert problems == [f"ivr_flow.entry {entry!r} is not a node"]


def test_an_edge_to_a_missing_node_is_a_problem():
    assert ivr_flow_problems(flow("a", a=["b", "ghost"], b=[])) == ["ivr_flow node 'a' points to missing node 'ghost'"]


def test_every_dangling_edge_is_reported():
    problems = ivr_flow_problems(flow("a", a=["b", "x"], b=["y"], c=[]))
    assert "ivr_flow node 'a' points to missing node 'x'" in problems
    assert "ivr_flow node 'b' points to missing node 'y'" in problems


@pytest.mark.parametrize("nexts", ["b", {"b": 1}, 3])
def test_next_must_be_a_list(nexts):
    problems = ivr_flow_problems({"entry": "a", "nodes": {"a": {"next": nexts}, "b": {}}})
    assert "ivr_flow node 'a': next must be a list" in problems


def test_a_node_unreachable_from_the_entry_is_a_problem():
    assert ivr_flow_problems(flow("a", a=["b"], b=[], orphan=["b"])) == [
        "ivr_flow nodes unreachable from the entry: orphan"
    ]


def test_a_flow_with_no_terminal_node_is_a_problem():
    assert ivr_flow_problems(flow("a", a=["b"], b=["a"])) == ["ivr_flow has no terminal node"]


def test_a_cycle_with_no_exit_is_a_problem_even_when_another_branch_ends():
    problems = ivr_flow_problems(flow("a", a=["loop1", "end"], loop1=["loop2"], loop2=["loop1"], end=[]))
    assert problems == ["ivr_flow nodes in a cycle with no exit: loop1, loop2"]


def test_a_node_that_only_loops_to_itself_is_a_cycle_with_no_exit():
    assert ivr_flow_problems(flow("a", a=["stuck", "end"], stuck=["stuck"], end=[])) == [
        "ivr_flow nodes in a cycle with no exit: stuck"
    ]


def test_a_cycle_that_has_an_exit_is_fine():
    assert ivr_flow_problems(flow("a", a=["b"], b=["c"], c=["a", "end"], end=[])) == []
    assert ivr_flow_problems(flow("a", a=["a", "end"], end=[])) == []


def test_all_problems_are_reported_together():
    problems = ivr_flow_problems(flow("a", a=["ghost", "trap", "end"], trap=["trap"], end=[], orphan=[]))
    assert len(problems) == 3
    assert any("missing node 'ghost'" in p for p in problems)
    assert any("unreachable from the entry: orphan" in p for p in problems)
    assert any("cycle with no exit: trap" in p for p in problems)


@pytest.mark.parametrize(
    "bad_flow",
    [
        {"entry": "a", "nodes": {"a": {"next": [["b"]]}, "b": {}}},
        {"entry": ["a"], "nodes": {"a": {}}},
        {"entry": "a", "nodes": {"a": {"next": [{"id": "b"}]}, "b": {}}},
    ],
)
def test_a_malformed_edge_or_entry_is_reported_not_a_crash(bad_flow):
    assert ivr_flow_problems(bad_flow)


@st.composite
def dag_flows(draw) -> dict:
    """Nodes n0..nk; each edge goes to a higher-numbered node; every node is reached from n0."""
    size = draw(st.integers(1, 12))
    names = [f"n{i}" for i in range(size)]
    edges: dict[str, set[str]] = {name: set() for name in names}
    for i in range(1, size):
        edges[names[draw(st.integers(0, i - 1))]].add(names[i])  # a parent, so it is reachable
    for i in range(size - 1):
        extra = draw(st.sets(st.integers(i + 1, size - 1), max_size=3))
        edges[names[i]].update(names[j] for j in extra)
    return {"entry": "n0", "nodes": {n: {"audio": f"{n}.wav", "next": sorted(edges[n])} for n in names}}


@settings(max_examples=300, deadline=None)
@given(dag_flows())
def test_every_acyclic_flow_reachable_from_its_entry_is_valid(dag):
    assert ivr_flow_problems(dag) == []


@settings(max_examples=200, deadline=None)
@given(dag_flows(), st.data())
def test_adding_an_unreachable_node_to_a_valid_flow_is_reported(dag, data):
    dag["nodes"]["island"] = {"next": data.draw(st.sets(st.sampled_from(sorted(dag["nodes"]))).map(sorted))}
    assert ivr_flow_problems(dag) == ["ivr_flow nodes unreachable from the entry: island"]


@settings(max_examples=200, deadline=None)
@given(dag_flows(), st.data())
def test_a_back_edge_from_a_branching_node_keeps_a_flow_valid_as_its_forward_edge_still_exits(dag, data):
    names = sorted(dag["nodes"], key=lambda n: int(n[1:]))
    branching = [n for n in names if dag["nodes"][n]["next"]]
    if not branching:
        return
    source = data.draw(st.sampled_from(branching))
    target = data.draw(st.sampled_from(names[: names.index(source) + 1]))
    dag["nodes"][source]["next"].append(target)
    assert ivr_flow_problems(dag) == []
