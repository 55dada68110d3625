"""A run's log lines: written by callers and by the engine, read back in order, paged."""

import json

import pytest

from stepwise import components
from stepwise.infra import executions
from tests.helpers import http_event

BASE = "/v1/orgs/acme"


def call(stack, method, path, body=None, query=""):
    response = stack.invoke("ApiFunction", http_event(method, f"{BASE}{path}", body, query=query))
    return response["statusCode"], json.loads(response["body"])


def new_run(stack, nodes):
    workflow = call(stack, "POST", "/workflows", {"name": "w", "nodes": nodes})[1]["data"]["id"]
    return call(stack, "POST", "/runs", {"workflow_id": workflow})[1]["data"]["id"]


ONE = [{"ref": "a", "kind": "transform", "args": 1}]


def test_lines_come_back_in_order_and_page(stack):
    run_id = new_run(stack, ONE)
    for n in range(5):
        body = {"level": "info", "message": f"line {n}", "node_ref": "a"}
        status, payload = call(stack, "POST", f"/runs/{run_id}/logs", body)
        assert status == 201 and payload["data"]["source"] == "api"
    first = call(stack, "GET", f"/runs/{run_id}/logs", query="limit=3")[1]
    second = call(
        stack, "GET", f"/runs/{run_id}/logs", query=f"limit=3&cursor={first['next_page']}"
    )[1]
    messages = [line["message"] for line in first["data"] + second["data"]]
    assert messages == [f"line {n}" for n in range(5)] and second["next_page"] is None
    # The run itself does not read its log lines.
    assert "line 0" not in json.dumps(call(stack, "GET", f"/runs/{run_id}")[1])


def test_the_engine_logs_failures_and_retries_but_not_successes(stack, monkeypatch):
    monkeypatch.setattr(executions, "resume_run", lambda token, reason: True)
    failing = [
        {"ref": "ok", "kind": "transform", "args": 1},
        {"ref": "bad", "kind": "transform", "args": "{{ abs('x') }}", "depends_on": ["ok"]},
    ]
    run_id = new_run(stack, failing)
    components.engine().runs.start_run("acme", run_id)
    lines = call(stack, "GET", f"/runs/{run_id}/logs")[1]["data"]
    assert [(line["level"], line["node_ref"], line["source"]) for line in lines] == [
        ("error", "bad", "engine")
    ]
    assert "ExpressionError" in lines[0]["message"]


@pytest.mark.parametrize(
    "body",
    [{"message": ""}, {"level": "loud", "message": "x"}, {"message": "x", "node_ref": "Bad Ref"}],
)
def test_bad_lines_are_422(stack, body):
    run_id = new_run(stack, ONE)
    assert call(stack, "POST", f"/runs/{run_id}/logs", body)[0] == 422


def test_an_unknown_run_has_no_log(stack):
    assert call(stack, "POST", "/runs/run_missing/logs", {"message": "x"})[0] == 404
    assert call(stack, "GET", "/runs/run_missing/logs")[0] == 404
