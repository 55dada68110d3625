"""Pause and resume, with the engine's steps placed one by one (state machines do not execute
here): a node that settles while the run is paused holds its children, resume starts them
once however often the release runs or races with a replayed settle, and what still ends a
paused run ends it."""

import pytest

from stepwise import components
from stepwise.core.statuses import NodeStatus
from tests.helpers import deliver, diamond
from tests.integration.engine.test_engine_steps import (
    ORG,
    api,
    named,
    node_executions,
    start_run,
    statuses,
    step,
)


@pytest.fixture(autouse=True)
def _every_node_is_an_execution(stack):
    components.engine().advance.inline_limit = 0


def pause(stack, run_id, expect="paused"):
    answer = api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/pause", {"reason": "hold"})
    assert answer["data"]["status"] == expect, answer
    return answer


def test_a_node_settling_while_paused_holds_its_children_until_resume_starts_them_once(
    stack, resumed
):
    run_id = start_run(stack, diamond(), {"n": 3})
    deliver(stack, "start", run_id)
    pause(stack, run_id)
    # a was started before the pause: it runs and settles; b and c become ready and are held.
    step(stack, "attempt", run_id, node_ref="a", attempt=1)
    assert statuses(run_id) == {"a": "succeeded", "b": "pending", "c": "pending", "d": "pending"}
    assert node_executions(stack) == named(run_id, "a")
    held = components.store().runs.get_node(ORG, run_id, "b")
    assert held.satisfied_edges == {"a.success"}  # its edge is resolved, waiting for resume
    # A replayed settle of a while paused starts nothing either.
    step(stack, "attempt", run_id, node_ref="a", attempt=1)
    assert node_executions(stack) == named(run_id, "a")

    answer = api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/resume")
    assert answer["data"]["status"] == "running"
    assert node_executions(stack) == named(run_id, "a")  # the release is queued, not done
    assert stack.drain("BulkFunction") == 1
    assert node_executions(stack) == named(run_id, *"abc")
    assert statuses(run_id)["b"] == statuses(run_id)["c"] == NodeStatus.SCHEDULED
    # The release again, and a's settle replayed after it: nothing starts twice.
    components.held_nodes().release(ORG, run_id)
    step(stack, "attempt", run_id, node_ref="a", attempt=1)
    assert node_executions(stack) == named(run_id, *"abc")

    for ref in "bcd":
        step(stack, "attempt", run_id, node_ref=ref, attempt=1)
    assert components.store().runs.get_run(ORG, run_id).status == "succeeded"
    history = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}/history")["data"]
    kinds = [e["event_type"] for e in history if e["event_type"].startswith("RUN_")]
    assert kinds == ["RUN_CREATED", "RUN_STARTED", "RUN_PAUSED", "RUN_RESUMED", "RUN_SUCCEEDED"]


def test_a_failure_while_paused_settles_the_run_and_cancels_what_was_held(stack, resumed):
    body = diamond()
    body["nodes"][1]["args"] = {"bad": "{{ abs(nodes.a.output.n) }}"}
    body["nodes"][2]["start_delay"] = 5  # c waits: it is still running when b fails
    run_id = start_run(stack, body, {"n": "three"})
    deliver(stack, "start", run_id)
    step(stack, "attempt", run_id, node_ref="a", attempt=1)
    pause(stack, run_id)
    step(stack, "attempt", run_id, node_ref="b", attempt=1)  # started before the pause
    # The paused run finishes in b's step, as a running one does.
    assert components.store().runs.get_run(ORG, run_id).status == "failed"
    assert statuses(run_id) == {"a": "succeeded", "b": "failed", "c": "cancelled", "d": "cancelled"}
    # The counters moved paused -> failed: no paused run is left counted.
    assert components.store().runs.run_counts(ORG).get("status:paused", 0) == 0


def test_the_release_of_a_run_paused_again_starts_nothing(stack, resumed):
    run_id = start_run(stack, diamond(), {"n": 3})
    deliver(stack, "start", run_id)
    pause(stack, run_id)
    step(stack, "attempt", run_id, node_ref="a", attempt=1)
    api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/resume")
    pause(stack, run_id)  # paused again before the queued release runs
    assert stack.drain("BulkFunction") == 1
    assert node_executions(stack) == named(run_id, "a")
    assert statuses(run_id)["b"] == "pending"
    history = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}/history")["data"]
    kinds = [e["event_type"] for e in history if e["event_type"].startswith("RUN_")]
    assert kinds == ["RUN_CREATED", "RUN_STARTED", "RUN_PAUSED", "RUN_RESUMED", "RUN_PAUSED"]
