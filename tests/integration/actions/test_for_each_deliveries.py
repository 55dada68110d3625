"""A for_each action node's items on moto, step by step: each item's attempt is a delivery of
its own (record, lease, webhook-id, signal token), retried with the node's policy, and the
node's output is the items' results in order."""

import base64
import json

import pytest

from stepwise import components
from stepwise.engine.address import NodeAddress
from stepwise_local.receiver import Answer
from tests.conftest import OTHER_KEY, OTHER_ORG
from tests.helpers import http_event
from tests.integration.actions.test_dispatcher import ORG, api
from tests.integration.actions.test_signals import signal

SIGNALING = {"enabled": True, "default": "ack"}


def fanned_out(stack, url, items, signaling=None, schema=None, retry=None):
    """A run whose for_each action node has made one record per item; its id."""
    dest_body = {"label": "d", "url": url}
    if signaling:
        dest_body["signaling"] = signaling
    dest = api(stack, "POST", "/destinations", dest_body)["data"]
    definition = {"name": "act", "destinations": [{"destination_id": dest["id"]}]}
    if schema:
        definition["schema"] = schema
    api(stack, "POST", "/actions/definitions", definition)
    node = {
        "ref": "call",
        "kind": "action",
        "action": "act",
        "for_each": "{{ input.xs }}",
        "max_concurrency": 2,
        "args": {"n": "{{ item }}"},
        "retry": retry or {"max_attempts": 2, "initial_interval": 1},
    }
    created = api(stack, "POST", "/workflows", {"name": "w", "nodes": [node]})
    assert "data" in created, created
    body = {"workflow_id": created["data"]["id"], "input": {"xs": items}}
    run_id = api(stack, "POST", "/runs", body)["data"]["id"]
    engine = components.engine()
    engine.runs.start_run(ORG, run_id)
    assert engine.nodes.attempt(NodeAddress(ORG, run_id, "call", 1))["next"] == "map"
    return run_id


def item_attempt(run_id, index, attempt=1):
    """Runs the item's attempt step; its outcome and the message ItemDeliver would queue."""
    outcome = components.engine().for_each.item_attempt(
        NodeAddress(ORG, run_id, "call", attempt, index)
    )
    message = {
        "org_id": ORG,
        "run_id": run_id,
        "node_ref": "call",
        "index": index,
        "attempt": attempt,
        "task_token": f"item-{index}-{attempt}",
    }
    return outcome, message


def settle(run_id, index, attempt=1, delivery=None):
    return components.engine().actions.action_settled(
        NodeAddress(ORG, run_id, "call", attempt, index), delivery or {"reason": "delivered"}
    )


def item(run_id, index):
    return components.store().nodes.get_item(ORG, run_id, "call", index)


def test_each_item_is_one_delivery_with_its_own_webhook_id_and_the_output_is_in_order(
    stack, receiver, resumed
):
    url = receiver.respond(
        "/each", lambda r: Answer(200, {"doubled": r.payload["data"]["input"]["n"] * 2})
    )
    run_id = fanned_out(stack, url, [5, 6, 7])
    dispatcher = components.dispatcher()
    for index in (2, 0, 1):  # items finish in any order
        outcome, message = item_attempt(run_id, index)
        assert outcome["next"] == "deliver" and outcome["attempt"] == 1
        assert outcome["heartbeat_seconds"] > 0 and outcome["timeout_seconds"] > 0
        dispatcher.deliver(message)
        dispatcher.deliver(message)  # the same message delivered twice POSTs once
        assert settle(run_id, index) == {"next": "done"}
    requests = receiver.at("/each")
    assert len(requests) == 3
    assert [r.headers["webhook-id"] for r in requests] == [
        f"{run_id}.call[2]",
        f"{run_id}.call[0]",
        f"{run_id}.call[1]",
    ]
    first = requests[1].payload["data"]
    assert first["record"] == f"{run_id}.call[0]" and first["index"] == 0
    assert first["input"] == {"n": 5} and first["node"] == "call" and first["attempt"] == 1
    assert resumed.count(("item-0-1", "delivered")) == 2  # the duplicate resumes again, harmless
    assert [item(run_id, i).status for i in range(3)] == ["succeeded"] * 3

    components.engine().for_each.collect_items(NodeAddress(ORG, run_id, "call"))
    node = components.store().runs.get_node(ORG, run_id, "call")
    assert node.status == "succeeded"
    assert components.store().payloads.read(node.output) == [
        {"doubled": 10},
        {"doubled": 12},
        {"doubled": 14},
    ]


def test_an_item_that_fails_retries_alone_with_the_same_webhook_id(stack, receiver, resumed):
    seen: dict[int, int] = {}

    def answer(request):
        n = request.payload["data"]["input"]["n"]
        seen[n] = seen.get(n, 0) + 1
        return Answer(503, {}) if n == 1 and seen[n] == 1 else Answer(200, {"n": n})

    url = receiver.respond("/retry", answer)
    run_id = fanned_out(stack, url, [0, 1])
    dispatcher = components.dispatcher()
    for index in (0, 1):
        dispatcher.deliver(item_attempt(run_id, index)[1])
    assert settle(run_id, 0) == {"next": "done"}
    again = settle(run_id, 1)
    assert again["next"] == "again" and again["attempt"] == 2 and again["wait_seconds"] >= 1
    assert item(run_id, 1).attempt_record(1).status == "retry_scheduled"
    assert item(run_id, 0).status == "succeeded" and item(run_id, 0).attempt == 1

    outcome, message = item_attempt(run_id, 1, attempt=2)
    assert outcome["next"] == "deliver"
    dispatcher.deliver(message)
    assert settle(run_id, 1, attempt=2) == {"next": "done"}
    retried = [r for r in receiver.at("/retry") if r.payload["data"]["index"] == 1]
    assert [r.payload["data"]["attempt"] for r in retried] == [1, 2]
    assert {r.headers["webhook-id"] for r in retried} == {f"{run_id}.call[1]"}
    assert [a.status for a in item(run_id, 1).attempts.values()] == [
        "retry_scheduled",
        "succeeded",
    ]


def test_an_item_whose_input_breaks_the_schema_fails_alone_and_the_node_names_it(
    stack, receiver, resumed
):
    url = receiver.answer("/typed", Answer(200, {"ok": True}))
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    run_id = fanned_out(stack, url, [1, "two", 3], schema=schema)
    outcomes = [item_attempt(run_id, index) for index in range(3)]
    assert outcomes[1][0] == {"next": "done"}  # nothing to deliver
    bad = item(run_id, 1)
    assert bad.status == "failed" and bad.error["type"] == "InputRejected"
    assert len(bad.attempts) == 1  # not retried: the same input would break it again
    for index in (0, 2):
        components.dispatcher().deliver(outcomes[index][1])
        settle(run_id, index)
    assert [r.payload["data"]["index"] for r in receiver.at("/typed")] == [0, 2]

    components.engine().for_each.collect_items(NodeAddress(ORG, run_id, "call"))
    node = components.store().runs.get_node(ORG, run_id, "call")
    assert node.status == "failed" and node.error["type"] == "InputRejected"
    assert node.error["message"].startswith("item 1: ")


def test_a_callback_settles_its_own_item_only(stack, receiver, resumed):
    url = receiver.answer("/ack", Answer(202))
    run_id = fanned_out(stack, url, ["a", "b"], signaling=SIGNALING)
    for index in (0, 1):
        components.dispatcher().deliver(item_attempt(run_id, index)[1])
    tokens = [r.payload["data"]["signal_url"].rsplit("/", 1)[1] for r in receiver.at("/ack")]
    assert len(set(tokens)) == 2 and resumed == []  # acks wait for their callbacks

    status, body = signal(stack, tokens[1], {"signal": "success", "result": {"ticket": "B"}})
    assert status == 202 and body["data"]["record"] == f"{run_id}.call[1]"
    assert stack.drain("SignalsFunction") == 1
    assert resumed == [("item-1-1", "signalled")]
    assert item(run_id, 1).attempt_record(1).signal["kind"] == "success"
    assert item(run_id, 0).attempt_record(1).signal is None

    assert settle(run_id, 1) == {"next": "done"}
    settled = item(run_id, 1)
    assert settled.status == "succeeded"
    assert components.store().payloads.read(settled.output) == {"ticket": "B"}
    assert item(run_id, 0).status == "running"

    # The same token again: a repeat changes nothing; item 0's token still works for item 0.
    assert signal(stack, tokens[1], {"signal": "failure"})[1]["data"]["status"] == (
        "already_settled"
    )
    status, body = signal(stack, tokens[0], {"signal": "heartbeat"})
    assert status == 202 and body["data"]["record"] == f"{run_id}.call[0]"
    assert item(run_id, 0).attempt_record(1).heartbeats == 1


def test_a_token_for_an_item_that_was_retried_is_late(stack, receiver, resumed):
    url = receiver.answer("/late", Answer(202))
    run_id = fanned_out(stack, url, ["a"], signaling=SIGNALING, retry={"max_attempts": 2})
    components.dispatcher().deliver(item_attempt(run_id, 0)[1])
    [request] = receiver.at("/late")
    token = request.payload["data"]["signal_url"].rsplit("/", 1)[1]
    # The wait ran out: ItemDeliveryTimedOut hands ItemActionSettled a timeout.
    assert settle(run_id, 0, delivery={"outcome": "timeout"})["next"] == "again"
    item_attempt(run_id, 0, attempt=2)
    status, body = signal(stack, token, {"signal": "success"})
    assert status == 409 and "superseded by attempt 2" in body["errors"][0]["message"]
    assert item(run_id, 0).attempt_record(1).signal is None


@pytest.mark.attack
def test_a_token_moved_to_another_item_is_refused(stack, receiver, resumed):
    url = receiver.answer("/moved", Answer(202))
    run_id = fanned_out(stack, url, ["a", "b"], signaling=SIGNALING)
    components.dispatcher().deliver(item_attempt(run_id, 0)[1])
    [request] = receiver.at("/moved")
    token = request.payload["data"]["signal_url"].rsplit("/", 1)[1]
    body, _, mac = token.partition(".")
    fields = json.loads(_b64decode(body))
    assert fields["i"] == 0
    moved = _b64encode(json.dumps({**fields, "i": 1}, separators=(",", ":")))
    status, _ = signal(stack, f"{moved}.{mac}", {"signal": "success"})
    assert status == 401
    assert item(run_id, 1).attempt_record(1) is None


def test_the_action_records_of_a_for_each_node_are_its_items(stack, receiver, resumed):
    url = receiver.respond(
        "/rec",
        lambda r: Answer(500, {}) if r.payload["data"]["attempt"] == 1 else Answer(200, {"ok": 1}),
    )
    run_id = fanned_out(stack, url, ["a", "b"], retry={"max_attempts": 2, "initial_interval": 0})
    for index in (0, 1):
        components.dispatcher().deliver(item_attempt(run_id, index)[1])
        assert settle(run_id, index)["next"] == "again"
        components.dispatcher().deliver(item_attempt(run_id, index, attempt=2)[1])
        assert settle(run_id, index, attempt=2) == {"next": "done"}

    listed = api(stack, "GET", f"/runs/{run_id}/actions")["data"]
    assert [(r["id"], r["index"]) for r in listed] == [
        (f"{run_id}.call[0]", 0),
        (f"{run_id}.call[1]", 1),
    ]
    record = api(stack, "GET", f"/actions/records/{run_id}.call[1]")["data"]
    assert record["input"] == {"n": "b"} and record["output"] == {"ok": 1}
    assert record["state"]["status"] == "succeeded" and record["state"]["attempt"] == 2
    assert [(e["attempt"], e["kind"]) for e in record["events"]] == [
        (1, "dispatch"),
        (1, "answer"),
        (1, "retry"),
        (2, "dispatch"),
        (2, "answer"),
        (2, "success"),
    ]
    assert record["events"][0]["id"] == f"{run_id}.call[1].1.dispatch"
    for missing in (f"{run_id}.call[2]", f"{run_id}.call[01]", f"{run_id}.call[x]"):
        response = stack.invoke(
            "ApiFunction", http_event("GET", f"/v1/orgs/{ORG}/actions/records/{missing}")
        )
        assert response["statusCode"] == 404, missing
    # Another org's key, asking in its own org for this org's record.
    other = stack.invoke(
        "ApiFunction",
        http_event("GET", f"/v1/orgs/{OTHER_ORG}/actions/records/{run_id}.call[0]", OTHER_KEY),
    )
    assert other["statusCode"] == 404


def _b64decode(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def _b64encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_an_item_cancelled_while_its_message_waits_is_never_posted(stack, receiver, resumed):
    url = receiver.answer("/cancelled", Answer(200, {}))
    run_id = fanned_out(stack, url, ["a", "b"])
    messages = [item_attempt(run_id, index)[1] for index in (0, 1)]
    # The run ends (finalize_run cancels the items that have not finished) before the dispatcher
    # reads item 0's message: its lease is refused, nothing is POSTed, nothing resumed.
    components.store().nodes.cancel_item(ORG, run_id, "call", 0, "the run was cancelled")
    for message in messages:
        components.dispatcher().deliver(message)
    assert [r.payload["data"]["index"] for r in receiver.at("/cancelled")] == [1]
    assert resumed == [("item-1-1", "delivered")]
    assert item(run_id, 0).status == "cancelled"
    assert item(run_id, 0).attempt_record(1).delivery is None
