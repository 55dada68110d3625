"""Lifecycle events: each run that settles puts exactly one event on the stack's bus."""

import json

import boto3
import pytest

from stepwise import components
from stepwise.infra import executions
from tests.helpers import http_event

BASE = "/v1/orgs/acme"


@pytest.fixture
def bus_messages(stack):
    """Every event with source stepwise, through a rule to a queue (as a consumer would)."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue = sqs.create_queue(QueueName="lifecycle")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="stepwise-runs", EventPattern=json.dumps({"source": ["stepwise"]}))
    events.put_targets(Rule="stepwise-runs", Targets=[{"Id": "q", "Arn": arn}])

    def read():
        found = []
        while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            found += [json.loads(m["Body"]) for m in batch]
            for m in batch:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        return found

    return read


def call(stack, method, path, body=None):
    response = stack.invoke("ApiFunction", http_event(method, f"{BASE}{path}", body))
    return response["statusCode"], json.loads(response["body"] or "null")


def test_a_settled_run_publishes_one_event_even_when_finalize_replays(
    stack, bus_messages, monkeypatch
):
    monkeypatch.setattr(executions, "resume_run", lambda token, reason: True)
    nodes = [{"ref": "a", "kind": "transform", "args": "{{ abs('x') }}"}]
    workflow = call(stack, "POST", "/workflows", {"name": "w", "nodes": nodes})[1]["data"]["id"]
    run_id = call(stack, "POST", "/runs", {"workflow_id": workflow})[1]["data"]["id"]
    engine = components.engine()
    engine.runs.start_run("acme", run_id)
    engine.runs.finalize_run("acme", run_id, {"reason": "node_failed"})
    engine.runs.finalize_run("acme", run_id, {"reason": "node_failed"})  # a replay
    [event] = bus_messages()
    assert event["source"] == "stepwise" and event["detail-type"] == "Run Failed"
    detail = event["detail"]
    assert (detail["run_id"], detail["workflow_id"], detail["status"]) == (
        run_id,
        workflow,
        "failed",
    )
    assert detail["error"]["type"] == "ExpressionError" and detail["duration_seconds"] >= 0


def test_an_external_run_publishes_when_its_client_ends_it(stack, bus_messages):
    call(stack, "POST", "/runs/external", {"id": "job", "workflow_id": "etl"})
    call(stack, "PUT", "/runs/job", {"phase": "running"})
    assert bus_messages() == []  # running is not settled
    call(stack, "PUT", "/runs/job", {"phase": "succeeded"})
    [event] = bus_messages()
    assert event["detail-type"] == "Run Succeeded"
    assert event["detail"]["kind"] == "external" and event["detail"]["run_id"] == "job"
