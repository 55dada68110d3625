"""A settled run's lifecycle event: the step that moves the run to its end claims the event in
that same write (no claim write of its own), publishes it once, and gives the claim back when
the bus refuses it, so the step's retry publishes instead of waiting for the claim to go stale."""

import json

import pytest

from stepwise import components
from stepwise.core import settings
from stepwise.infra import dynamo, keys
from stepwise.runs import lifecycle_events
from tests.helpers import http_event


def stored(run_id: str) -> dict:
    return dynamo.get_item(settings.core_settings().table_name, keys.run("acme", run_id))


def start_running(stack) -> str:
    body = {"name": "w", "nodes": [{"ref": "a", "kind": "transform", "args": {"x": 1}}]}
    response = stack.invoke("ApiFunction", http_event("POST", "/v1/orgs/acme/workflows", body))
    assert response["statusCode"] == 201, response["body"]
    workflow_id = json.loads(response["body"])["data"]["id"]
    event = http_event("POST", "/v1/orgs/acme/runs", {"workflow_id": workflow_id})
    response = stack.invoke("ApiFunction", event)
    assert response["statusCode"] == 201, response["body"]
    run_id = json.loads(response["body"])["data"]["id"]
    components.store().run_state.mark_started("acme", run_id)
    return run_id


@pytest.fixture
def bus(monkeypatch):
    """What reaches the bus; ``refuse`` events are refused first, as EventBridge may."""
    sent: list[dict] = []
    state = {"refuse": 0}

    def publish(bus_name, run):
        if state["refuse"]:
            state["refuse"] -= 1
            raise lifecycle_events.PublishFailed("throttled")
        sent.append(lifecycle_events.detail(run))

    monkeypatch.setattr("stepwise.engine.run_steps.lifecycle_events.publish", publish)
    return sent, state


def test_the_step_that_finishes_the_run_claims_its_event_without_a_write_of_its_own(
    stack, bus, monkeypatch
):
    sent, _ = bus
    run_id = start_running(stack)
    store = components.store()

    def no_claim(org_id, run_id):
        raise AssertionError("the finishing step claimed the event with a write of its own")

    monkeypatch.setattr(store.run_state, "claim_event", no_claim)
    components.engine().runs.finalize_run("acme", run_id, {"reason": "settled"})
    assert [e["run_id"] for e in sent] == [run_id]
    run = stored(run_id)
    assert run["event_published_at"]
    # The claim came with the move to the end: the same write, the same moment.
    assert run["event_claimed_at"] == run["finished_at"]
    # A replay of the step publishes nothing more.
    monkeypatch.undo()
    monkeypatch.setattr(
        "stepwise.engine.run_steps.lifecycle_events.publish",
        lambda bus_name, run: sent.append(lifecycle_events.detail(run)),
    )
    components.engine().runs.finalize_run("acme", run_id, {"reason": "settled"})
    assert [e["run_id"] for e in sent] == [run_id]


def test_an_event_the_bus_refused_goes_out_on_the_steps_retry(stack, bus):
    sent, state = bus
    run_id = start_running(stack)
    engine = components.engine()
    state["refuse"] = 1
    with pytest.raises(lifecycle_events.PublishFailed):
        engine.runs.finalize_run("acme", run_id, {"reason": "settled"})
    run = stored(run_id)
    assert run["status"] in lifecycle_events.DETAIL_TYPES and "event_published_at" not in run
    assert "event_claimed_at" not in run  # given back
    # The retry (the RunQueue message comes back) publishes at once, and only once.
    engine.runs.finalize_run("acme", run_id, {"reason": "settled"})
    engine.runs.finalize_run("acme", run_id, {"reason": "settled"})
    assert [e["run_id"] for e in sent] == [run_id]
    assert components.store().runs.get_run("acme", run_id).event_published_at
