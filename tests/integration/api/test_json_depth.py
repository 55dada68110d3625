"""Free JSON nested past MAX_JSON_DEPTH is a 422 naming the field on every route that takes it,
not a 500 when the API tries to serialise, store or render it."""

import json

import pytest

from stepwise.core.fields import MAX_JSON_DEPTH
from tests.helpers import http_event

pytestmark = pytest.mark.attack  # issue 14: make audit runs it


def call(stack, method, path, body=None):
    response = stack.invoke("ApiFunction", http_event(method, f"/v1/orgs/acme{path}", body))
    return response["statusCode"], json.loads(response["body"] or "null")


def nested(levels: int) -> object:
    value: object = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


def locs(answer) -> list[list]:
    return [e["loc"] for e in answer["detail"]]


@pytest.fixture
def workflow_id(stack):
    nodes = [{"ref": "a", "kind": "transform", "args": nested(MAX_JSON_DEPTH)}]
    status, body = call(stack, "POST", "/workflows", {"name": "deep", "nodes": nodes})
    assert status == 201, body  # exactly the limit is accepted
    return body["data"]["id"]


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 500])
def test_workflow_args_and_returns(stack, levels):
    nodes = [{"ref": "a", "kind": "transform", "args": nested(levels)}]
    status, answer = call(stack, "POST", "/workflows", {"name": "w", "nodes": nodes})
    assert status == 422 and ["body", "nodes", 0, "args"] in locs(answer), answer
    nodes = [{"ref": "a", "kind": "transform"}]
    body = {"name": "w", "nodes": nodes, "returns": nested(levels)}
    status, answer = call(stack, "POST", "/workflows", body)
    assert status == 422 and ["body", "returns"] in locs(answer), answer


def test_run_schedule_and_batch_inputs(stack, workflow_id):
    deep = nested(500)
    status, answer = call(stack, "POST", "/runs", {"workflow_id": workflow_id, "input": deep})
    assert status == 422 and ["body", "input"] in locs(answer), answer
    schedule = {"name": "s", "expression": "rate(1 hour)", "workflow_id": workflow_id}
    status, answer = call(stack, "POST", "/schedules", {**schedule, "input": deep})
    assert status == 422 and ["body", "input"] in locs(answer), answer
    status, answer = call(
        stack, "POST", "/batches", {"workflow_id": workflow_id, "inputs": [1, deep]}
    )
    assert status == 422 and ["body", "inputs", 1] in locs(answer), answer
    status, run = call(stack, "POST", "/runs", {"workflow_id": workflow_id, "input": nested(10)})
    assert status == 201, run


def test_external_run_args_and_outputs(stack):
    deep = nested(MAX_JSON_DEPTH + 1)
    status, answer = call(stack, "POST", "/runs/external", {"workflow_id": "x", "args": deep})
    assert status == 422 and ["body", "args"] in locs(answer), answer
    status, run = call(stack, "POST", "/runs/external", {"workflow_id": "x"})
    assert status == 201, run
    body = {"phase": "succeeded", "outputs": deep}
    status, answer = call(stack, "PUT", f"/runs/{run['data']['id']}", body)
    assert status == 422 and ["body", "outputs"] in locs(answer), answer
