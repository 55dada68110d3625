"""A workflow version's graph, worked out once: roots, leaves, handled failures, event sources
and ancestors."""

from datetime import UTC, datetime

from stepwise.engine.compiled import CompiledWorkflow
from stepwise.workflows.models import NodeSpec, Workflow


def compiled(*nodes: dict) -> CompiledWorkflow:
    return CompiledWorkflow(
        Workflow(
            id="wf_1",
            org_id="acme",
            version=1,
            name="w",
            description=None,
            nodes=[NodeSpec(kind="transform", **node) for node in nodes],
            returns=None,
            timeout=60,
            created_at=datetime(2024, 1, 1, tzinfo=UTC),
        )
    )


# a (event) -> b (event) -> c -> d (event); a -> d; c fails over to h; a's error edge to k;
# z stands alone.
GRAPH = compiled(
    {"ref": "a", "emit_event": True},
    {"ref": "b", "depends_on": ["a"], "emit_event": True},
    {"ref": "c", "depends_on": ["b.success"], "fallback": "h"},
    {"ref": "d", "depends_on": ["c", "a"], "emit_event": True},
    {"ref": "h"},
    {"ref": "k", "depends_on": ["a.error"]},
    {"ref": "z"},
)


def test_roots_and_leaves_keep_the_node_order():
    assert GRAPH.roots == ["a", "z"]
    assert GRAPH.leaves == ["d", "h", "k", "z"]


def test_a_node_is_handled_when_an_error_edge_leaves_it():
    assert GRAPH.handled == {"a", "c"}


def test_a_fallback_is_an_incoming_error_edge_of_its_target():
    assert [(e.parent, e.kind) for e in GRAPH.incoming["h"]] == [("c", "error")]
    assert GRAPH.parents["h"] == ["c"]
    assert GRAPH.edge_keys["d"] == {"c.success", "a.success"}


def test_event_sources_stop_at_the_nearest_emitting_nodes():
    # d's parents: c (no event, so through it to b) and a; b stops the walk before a.
    assert sorted(GRAPH.event_sources("d")) == ["a", "b"]
    assert GRAPH.event_sources("h") == ["b"]
    assert GRAPH.event_sources("a") == []


def test_ancestors_are_every_node_upstream_once():
    assert sorted(GRAPH.ancestors("d")) == ["a", "b", "c"]
    assert sorted(GRAPH.ancestors("h")) == ["a", "b", "c"]
    assert GRAPH.ancestors("z") == []


def test_positions_follow_the_node_list():
    assert GRAPH.positions == {"a": 0, "b": 1, "c": 2, "d": 3, "h": 4, "k": 5, "z": 6}
