"""Business metrics as the functions print them: CloudWatch EMF lines on stdout, one per set of
dimensions and org, read back here exactly as CloudWatch would read them."""

import json
from typing import Any

import pytest

from stepwise import components
from stepwise.engine.address import NodeAddress
from stepwise_local.receiver import Answer
from tests.helpers import deliver, diamond, http_event
from tests.integration.actions.test_dispatcher import prepared_attempt
from tests.integration.engine.test_engine_steps import start_run, step

ORG = "acme"


@pytest.fixture
def emf(capsys):
    """Reads what the functions printed since the last read: only the EMF lines."""
    capsys.readouterr()

    def read() -> list[dict[str, Any]]:
        lines = capsys.readouterr().out.splitlines()
        return [json.loads(line) for line in lines if line.startswith('{"_aws"')]

    return read


def points(lines: list[dict[str, Any]], name: str) -> list[tuple[dict[str, str], list, Any]]:
    """Every line carrying metric ``name``: (its dimensions, its values, its org_id)."""
    found = []
    for line in lines:
        [directive] = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Stepwise"
        names = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
        if name in names:
            [keys] = directive["Dimensions"]
            assert "org_id" not in keys and "run_id" not in keys
            found.append(({k: line[k] for k in keys}, line[name], line.get("org_id")))
    return found


def dims(**values: str) -> dict[str, str]:
    return {**values, "service": "stepwise"}


def test_a_succeeded_run_counts_its_start_its_attempts_and_its_status_once(stack, emf, resumed):
    run_id = start_run(stack, diamond(), {"n": 2})
    assert points(emf(), "RunsStarted") == [(dims(), [1.0], ORG)]

    deliver(stack, "start", run_id)  # the four transforms run inline, and the run finishes
    lines = emf()
    assert points(lines, "NodeAttempts") == [(dims(Kind="transform"), [1.0] * 4, ORG)]
    assert points(lines, "NodeFailures") == []
    assert points(lines, "RunsSettled") == [(dims(Status="succeeded"), [1.0], ORG)]
    # One invocation: one line for each set of dimensions.
    assert len(lines) == 2

    deliver(stack, "finalize", run_id)
    deliver(stack, "start", run_id)
    assert emf() == []  # a replayed message counts nothing twice


def test_a_failed_attempt_counts_as_an_attempt_and_a_failure_of_its_kind(stack, emf, resumed):
    body = {
        "name": "broken",
        "nodes": [{"ref": "x", "kind": "transform", "args": {"v": "{{ abs('nope') }}"}}],
    }
    run_id = start_run(stack, body)
    emf()
    deliver(stack, "start", run_id)
    lines = emf()
    assert points(lines, "NodeAttempts") == [(dims(Kind="transform"), [1.0], ORG)]
    assert points(lines, "NodeFailures") == [(dims(Kind="transform"), [1.0], ORG)]
    assert points(lines, "RunsSettled") == [(dims(Status="failed"), [1.0], ORG)]


def sqs_event(message: dict[str, Any]) -> dict[str, Any]:
    record = {
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": json.dumps(message),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
    }
    return {"Records": [record]}


def test_a_webhook_5xx_counts_its_class_and_latency_and_a_failed_action_attempt(
    stack, receiver, emf, resumed
):
    url = receiver.answer("/down", Answer(503, {"busy": True}))
    run_id, message = prepared_attempt(stack, url, retry={"max_attempts": 2})
    emf()
    answer = stack.invoke("DispatcherFunction", sqs_event(message))
    assert answer == {"batchItemFailures": []}
    lines = emf()
    assert points(lines, "WebhookDeliveries") == [(dims(StatusClass="5xx"), [1.0], ORG)]
    [(latency_dims, [latency], org)] = points(lines, "WebhookLatency")
    assert latency_dims == dims() and org == ORG
    assert 0 < latency < 5000  # milliseconds, measured around the POST

    outcome = step(stack, "action_settled", run_id, node_ref="call", attempt=1)
    assert outcome["next"] == "again"  # retried: still a failed attempt
    lines = emf()
    assert points(lines, "NodeAttempts") == [(dims(Kind="action"), [1.0], ORG)]
    assert points(lines, "NodeFailures") == [(dims(Kind="action"), [1.0], ORG)]


def test_signals_count_by_outcome_and_a_forged_token_names_no_org(stack, receiver, emf, resumed):
    url = receiver.answer("/ack", Answer(202))
    run_id, message = prepared_attempt(stack, url, signaling={"enabled": True, "default": "ack"})
    components.dispatcher().deliver(message)
    token = json.loads(receiver.at("/ack")[0].body)["data"]["signal_url"].rsplit("/", 1)[1]
    emf()

    def signal(token: str) -> int:
        event = http_event("POST", f"/v1/signals/{token}", {"signal": "success"}, None)
        return stack.invoke("ApiFunction", event)["statusCode"]

    assert signal(token) == 202
    assert points(emf(), "Signals") == [(dims(Outcome="accepted"), [1.0], ORG)]
    assert signal(token) == 200
    assert points(emf(), "Signals") == [(dims(Outcome="duplicate"), [1.0], ORG)]
    assert signal(token[:-4] + "AAAA") == 401
    assert points(emf(), "Signals") == [(dims(Outcome="invalid"), [1.0], None)]

    stack.drain("SignalsFunction")
    components.engine().actions.action_settled(NodeAddress(ORG, run_id, "call", 1), {})
    emf()
    components.engine().actions.action_settled(NodeAddress(ORG, run_id, "call", 1), {})
    assert emf() == []  # the attempt was counted once, when it settled
