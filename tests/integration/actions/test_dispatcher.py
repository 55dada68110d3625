"""The dispatcher on moto, driven step by step against a real local receiver."""

import json

import boto3
import pytest

from stepwise import components
from stepwise.engine.address import NodeAddress
from stepwise_local.receiver import Answer
from tests.helpers import http_event

ORG = "acme"


def api(stack, method, path, body=None):
    response = stack.invoke("ApiFunction", http_event(method, f"/v1/orgs/{ORG}{path}", body))
    return json.loads(response["body"])


def prepared_attempt(stack, url, credential=None, signaling=None, retry=None):
    """A run whose action node has an attempt handed to the queue; its SQS message."""
    dest_body = {"label": "d", "url": url}
    if signaling:
        dest_body["signaling"] = signaling
    if credential:
        dest_body["credential_id"] = api(stack, "POST", "/credentials", credential)["data"]["id"]
    dest = api(stack, "POST", "/destinations", dest_body)["data"]
    api(
        stack,
        "POST",
        "/actions/definitions",
        {"name": "act", "destinations": [{"destination_id": dest["id"]}]},
    )
    node = {"ref": "call", "kind": "action", "action": "act", "args": {"n": 1}}
    if retry:
        node["retry"] = retry
    workflow = api(stack, "POST", "/workflows", {"name": "w", "nodes": [node]})["data"]
    run_id = api(stack, "POST", "/runs", {"workflow_id": workflow["id"]})["data"]["id"]
    engine = components.engine()
    engine.runs.start_run(ORG, run_id)
    outcome = engine.nodes.attempt(NodeAddress(ORG, run_id, "call", 1))
    assert outcome["next"] == "deliver"
    return run_id, {
        "org_id": ORG,
        "run_id": run_id,
        "node_ref": "call",
        "attempt": 1,
        "task_token": "node-token",
    }


def test_one_message_delivered_twice_posts_once(stack, receiver, resumed):
    url = receiver.answer("/x", Answer(200, {"ok": True}))
    run_id, message = prepared_attempt(stack, url)
    dispatcher = components.dispatcher()
    dispatcher.deliver(message)
    dispatcher.deliver(message)
    assert len(receiver.at("/x")) == 1
    assert resumed.count(("node-token", "delivered")) == 2
    components.engine().actions.action_settled(
        NodeAddress(ORG, run_id, "call", 1), {"reason": "delivered"}
    )
    node = components.store().runs.get_node(ORG, run_id, "call")
    assert node.status == "succeeded"


def test_a_loopback_destination_is_refused_at_dispatch_when_not_allowed(stack, receiver, resumed):
    url = receiver.answer("/y", Answer(200, {}))
    run_id, message = prepared_attempt(stack, url)
    dispatcher = components.dispatcher()
    dispatcher.allow_loopback = False
    dispatcher.deliver(message)
    assert receiver.at("/y") == []
    components.engine().actions.action_settled(
        NodeAddress(ORG, run_id, "call", 1), {"reason": "delivered"}
    )
    node = components.store().runs.get_node(ORG, run_id, "call")
    assert node.status == "failed" and node.error["type"] == "DestinationRefused"
    assert "loopback" in node.error["message"]


def test_the_credential_is_presented_and_never_stored_in_the_record(stack, receiver, resumed):
    url = receiver.answer("/z", Answer(200, {}))
    credential = {"name": "c", "type": "bearer", "token": "tok-123"}
    run_id, message = prepared_attempt(stack, url, credential)
    components.dispatcher().deliver(message)
    [request] = receiver.at("/z")
    assert request.headers["authorization"] == "Bearer tok-123"
    node = components.store().runs.get_node(ORG, run_id, "call")
    assert "tok-123" not in json.dumps(node, default=str)


@pytest.mark.attack
@pytest.mark.parametrize("bad", ["tok-bad\n", "tok-bad\u20ac"])
def test_a_stored_credential_with_a_newline_fails_the_attempt_without_quoting_it(
    stack, receiver, resumed, caplog, bad
):
    # Stored before credentials were checked: put the bad value straight into its secret.
    url = receiver.answer("/nl", Answer(200, {}))
    credential = {"name": "c", "type": "bearer", "token": "tok-good"}
    run_id, message = prepared_attempt(stack, url, credential)
    [made] = [c for c in components.catalog().list_credentials(ORG, 50, None)[0] if c.name == "c"]
    stored = components.catalog().get_credential(ORG, made.id)
    boto3.client("secretsmanager").put_secret_value(
        SecretId=stored["secret_arn"], SecretString=json.dumps({"token": bad})
    )
    components.dispatcher().deliver(message)
    assert receiver.at("/nl") == []
    components.engine().actions.action_settled(
        NodeAddress(ORG, run_id, "call", 1), {"reason": "delivered"}
    )
    node = components.store().runs.get_node(ORG, run_id, "call")
    assert node.status == "failed" and node.error["type"] == "DestinationRefused"
    assert "control characters" in node.error["message"]
    assert "tok-bad" not in json.dumps(node, default=str) and "tok-bad" not in caplog.text
