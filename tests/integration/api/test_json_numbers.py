"""Free-form JSON (inputs, args, outputs, schemas) keeps every JSON number exactly, wherever the
API stores it: DynamoDB's own number type refuses Python floats, so a missed path is a 500."""

import json

import pytest

from tests.helpers import http_event

NUMBERS = {"half": 0.5, "tiny": 1e-7, "big": 12345678901234567890, "neg": -2.25, "none": None}


def call(stack, method, path, body=None, query=""):
    event = http_event(method, f"/v1/orgs/acme{path}", body, query=query)
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"] or "null")


@pytest.fixture
def workflow_id(stack):
    nodes = [{"ref": "a", "kind": "transform", "args": {"n": NUMBERS}}]
    status, body = call(
        stack, "POST", "/workflows", {"name": "n", "nodes": nodes, "returns": NUMBERS}
    )
    assert status == 201, body
    assert body["data"]["nodes"][0]["args"] == {"n": NUMBERS} and body["data"]["returns"] == NUMBERS
    return body["data"]["id"]


def test_run_inputs(stack, workflow_id):
    status, run = call(stack, "POST", "/runs", {"workflow_id": workflow_id, "input": NUMBERS})
    assert status == 201, run
    assert call(stack, "GET", f"/runs/{run['data']['id']}")[1]["data"]["input"] == NUMBERS


def test_external_run_args_and_outputs(stack):
    status, run = call(stack, "POST", "/runs/external", {"workflow_id": "x", "args": NUMBERS})
    assert status == 201, run
    run_id = run["data"]["id"]
    status, updated = call(
        stack, "PUT", f"/runs/{run_id}", {"phase": "succeeded", "outputs": NUMBERS}
    )
    assert status == 200, updated
    got = call(stack, "GET", f"/runs/{run_id}")[1]["data"]
    assert (got["args"], got["outputs"]) == (NUMBERS, NUMBERS)


def test_schedule_inputs(stack, workflow_id):
    body = {"name": "s", "expression": "rate(1 hour)", "workflow_id": workflow_id, "input": NUMBERS}
    status, schedule = call(stack, "POST", "/schedules", body)
    assert status == 201, schedule
    assert call(stack, "GET", f"/schedules/{schedule['data']['id']}")[1]["data"]["input"] == NUMBERS


def test_batch_inputs(stack, workflow_id):
    status, batch = call(
        stack, "POST", "/batches", {"workflow_id": workflow_id, "inputs": [NUMBERS]}
    )
    assert status == 202, batch
    stack.drain("BatchesFunction")
    status, runs = call(stack, "GET", "/runs", query=f"batch_id={batch['data']['id']}")
    assert status == 200, runs
    [run] = runs["data"]
    assert call(stack, "GET", f"/runs/{run['id']}")[1]["data"]["input"] == NUMBERS


def test_action_definition_schemas(stack):
    status, dest = call(
        stack, "POST", "/destinations", {"label": "d", "url": "https://example.com/x"}
    )
    assert status == 201, dest
    schema = {"type": "object", "properties": {"r": {"type": "number", "minimum": 0.5}}}
    body = {"name": "n", "schema": schema, "destinations": [{"destination_id": dest["data"]["id"]}]}
    status, created = call(stack, "POST", "/actions/definitions", body)
    assert status == 201, created
    assert call(stack, "GET", "/actions/definitions/n")[1]["data"]["schema"] == schema
