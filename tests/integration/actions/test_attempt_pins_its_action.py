"""An action attempt delivers exactly what it resolved when it was prepared: the definition
version its input was checked against and that version's default destination, even when the
alias moves before the dispatcher runs."""

import json

from stepwise import components
from stepwise_local.receiver import Answer
from tests.integration.actions.test_dispatcher import ORG, api


def define(stack, destination_id, **fields):
    body = {"name": "act", "destinations": [{"destination_id": destination_id}], **fields}
    return api(stack, "POST", "/actions/definitions", body)["data"]


def prepared(stack, workflow_id, attempt=1):
    """A new run of the workflow whose action attempt was handed to the queue; its message."""
    run_id = api(stack, "POST", "/runs", {"workflow_id": workflow_id})["data"]["id"]
    engine = components.engine()
    engine.runs.start_run(ORG, run_id)
    step = {"step": "attempt", "org_id": ORG, "run_id": run_id, "node_ref": "call"}
    assert engine.handle({**step, "attempt": attempt})["next"] == "deliver"
    message = {"org_id": ORG, "run_id": run_id, "node_ref": "call", "attempt": attempt}
    return run_id, {**message, "task_token": f"node-{run_id}"}


def test_an_alias_moved_after_prepare_does_not_redirect_the_attempt(stack, receiver, resumed):
    first = api(
        stack,
        "POST",
        "/destinations",
        {"label": "a", "url": receiver.answer("/a", Answer(200, {}))},
    )
    second = api(
        stack,
        "POST",
        "/destinations",
        {"label": "b", "url": receiver.answer("/b", Answer(200, {}))},
    )
    assert define(stack, first["data"]["id"], aliases=["prod"])["version"] == 1
    node = {"ref": "call", "kind": "action", "action": "act@prod", "args": {"n": 1}}
    workflow = api(stack, "POST", "/workflows", {"name": "w", "nodes": [node]})["data"]["id"]
    run_id, message = prepared(stack, workflow)

    assert define(stack, second["data"]["id"])["version"] == 2
    moved = api(stack, "PUT", "/actions/definitions/act/aliases/prod", {"version": 2})["data"]
    assert moved["version"] == 2
    components.dispatcher().deliver(message)

    [delivered] = receiver.at("/a")
    assert receiver.at("/b") == []
    data = json.loads(delivered.body)["data"]
    assert (data["action"], data["version"]) == ("act", 1)
    tried = components.store().runs.get_node(ORG, run_id, "call").attempt_record(1)
    assert tried.action == {"name": "act", "version": 1, "destination_id": first["data"]["id"]}

    # A run prepared after the move follows the alias to version 2 and its destination.
    _, later = prepared(stack, workflow)
    components.dispatcher().deliver(later)
    [moved_delivery] = receiver.at("/b")
    assert json.loads(moved_delivery.body)["data"]["version"] == 2
