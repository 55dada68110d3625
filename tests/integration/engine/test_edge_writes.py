"""A child with one incoming edge that needs an execution: its edge and its schedule are one
write, and a schedule refused because the run changed since the step read it still leaves the
edge recorded (resume and redrive read the edges)."""

import pytest

from stepwise import components
from stepwise.core.statuses import RunStatus
from tests.helpers import deliver, diamond
from tests.integration.engine.test_engine_steps import (  # noqa: F401  (an autouse fixture)
    ORG,
    _every_node_is_an_execution,
    api,
    named,
    node_executions,
    start_run,
    statuses,
    step,
)


@pytest.fixture
def edge_writes(monkeypatch):
    """The edges recorded alone (``record_edge``), by node."""
    calls: list[tuple[str, str]] = []
    nodes = components.store().nodes
    original = nodes.record_edge

    def record_edge(org_id, run_id, ref, edge, outcome):
        calls.append((ref, edge))
        return original(org_id, run_id, ref, edge, outcome)

    monkeypatch.setattr(nodes, "record_edge", record_edge)
    return calls


def test_a_single_edge_child_is_scheduled_with_its_edge_in_one_write(stack, resumed, edge_writes):
    run_id = start_run(stack, diamond(), {"n": 3})
    deliver(stack, "start", run_id)
    step(stack, "attempt", run_id, node_ref="a", attempt=1)
    assert node_executions(stack) == named(run_id, *"abc")
    for ref in "bc":
        node = components.store().runs.get_node(ORG, run_id, ref)
        assert node.status == "scheduled"
        assert node.satisfied_edges == {"a.success"}
    # b and c have one edge each: written with their schedules. d joins two: edge by edge.
    assert edge_writes == []
    step(stack, "attempt", run_id, node_ref="b", attempt=1)
    assert edge_writes == [("d", "b.success")]
    assert components.store().runs.get_node(ORG, run_id, "d").status == "pending"
    # A replayed settle of a: the schedules are refused (b ran, c is scheduled), the edges are
    # written again alone (a set: nothing changes), c's Standard start is sent again by name.
    step(stack, "attempt", run_id, node_ref="a", attempt=1)
    assert sorted(edge_writes[1:]) == [("b", "a.success"), ("c", "a.success")]
    assert node_executions(stack) == named(run_id, *"abc")
    for ref in "cd":
        step(stack, "attempt", run_id, node_ref=ref, attempt=1)
    assert components.store().runs.get_run(ORG, run_id).status == "succeeded"


def test_a_run_paused_after_the_step_read_it_holds_the_child_with_its_edge(
    stack, resumed, monkeypatch
):
    run_id = start_run(stack, diamond(), {"n": 3})
    deliver(stack, "start", run_id)
    runs = components.store().runs
    running = runs.get_run(ORG, run_id)
    assert running.status == RunStatus.RUNNING
    answer = api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/pause", {"reason": "hold"})
    assert answer["data"]["status"] == "paused"
    # a's step reads the run as it was before the pause: it tries to schedule b and c.
    original = runs.get_run
    monkeypatch.setattr(
        runs, "get_run", lambda org_id, rid: running if rid == run_id else original(org_id, rid)
    )
    step(stack, "attempt", run_id, node_ref="a", attempt=1)
    monkeypatch.setattr(runs, "get_run", original)
    # The schedule's check saw the pause: nothing started, the edges are recorded all the same.
    assert node_executions(stack) == named(run_id, "a")
    assert statuses(run_id) == {"a": "succeeded", "b": "pending", "c": "pending", "d": "pending"}
    for ref in "bc":
        assert runs.get_node(ORG, run_id, ref).satisfied_edges == {"a.success"}
    # Resume starts them from those edges.
    assert api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/resume")["data"]["status"] == (
        "running"
    )
    assert stack.drain("BulkFunction") == 1
    assert node_executions(stack) == named(run_id, *"abc")


def test_a_resume_between_the_refused_schedule_and_the_edge_still_starts_the_child(
    stack, resumed, monkeypatch
):
    run_id = start_run(stack, diamond(), {"n": 3})
    deliver(stack, "start", run_id)
    runs, nodes = components.store().runs, components.store().nodes
    running = runs.get_run(ORG, run_id)
    api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/pause", {"reason": "hold"})
    real_get_run, real_record_edge = runs.get_run, nodes.record_edge

    def stale(org_id, rid):
        return running if rid == run_id else real_get_run(org_id, rid)

    def record_edge(org_id, rid, ref, edge, outcome):
        # The schedule was refused (paused); the run is resumed and released before the edge
        # is written, so the release finds no edge and starts nothing.
        if ref == "b":
            monkeypatch.setattr(runs, "get_run", real_get_run)
            answer = api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/resume")
            assert answer["data"]["status"] == "running"
            assert stack.drain("BulkFunction") == 1
            monkeypatch.setattr(runs, "get_run", stale)
        return real_record_edge(org_id, rid, ref, edge, outcome)

    monkeypatch.setattr(runs, "get_run", stale)
    monkeypatch.setattr(nodes, "record_edge", record_edge)
    step(stack, "attempt", run_id, node_ref="a", attempt=1)
    monkeypatch.setattr(runs, "get_run", real_get_run)
    # The schedule tried again after the edge: b started (c by the release or its own retry).
    assert node_executions(stack) == named(run_id, *"abc")
    assert statuses(run_id)["b"] == statuses(run_id)["c"] == "scheduled"
