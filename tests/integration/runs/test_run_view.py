"""The run resource places each node in its workflow's graph (seeds 001 and 004): position,
action, fallback, retry, children with the edge's outcome, and the children it led to."""

import json

from stepwise import components
from stepwise.infra import executions
from tests.helpers import http_event

BASE = "/v1/orgs/acme"
WORKFLOW = {
    "name": "graph",
    "nodes": [
        {
            "ref": "fetch",
            "kind": "transform",
            "args": "{{ abs('x') }}",
            "fallback": "cached",
            "retry": {"max_attempts": 1, "initial_interval": 0},
        },
        {"ref": "cached", "kind": "transform", "args": {"from": "cache"}},
        {"ref": "use", "kind": "transform", "args": {"ok": True}, "depends_on": ["fetch"]},
        {"ref": "report", "kind": "transform", "depends_on": ["fetch.error"]},
    ],
}


def call(stack, method, path, body=None):
    response = stack.invoke("ApiFunction", http_event(method, f"{BASE}{path}", body))
    return response["statusCode"], json.loads(response["body"] or "null")


def test_nodes_carry_their_graph_and_where_their_outcome_led(stack, monkeypatch):
    monkeypatch.setattr(executions, "resume_run", lambda token, reason: True)
    status, workflow = call(stack, "POST", "/workflows", WORKFLOW)
    assert status == 201, workflow
    status, created = call(stack, "POST", "/runs", {"workflow_id": workflow["data"]["id"]})
    assert status == 201, created
    queued = {n["ref"]: n for n in created["data"]["nodes"]}
    assert [queued[r]["position"] for r in ("fetch", "cached", "use", "report")] == [0, 1, 2, 3]
    assert queued["fetch"]["fallback"] == "cached"
    assert queued["fetch"]["retry"]["max_attempts"] == 1
    assert sorted((c["ref"], c["on"]) for c in queued["fetch"]["children"]) == [
        ("cached", "error"),
        ("report", "error"),
        ("use", "success"),
    ]
    assert queued["fetch"]["next"] == []  # not settled yet

    run_id = created["data"]["id"]
    components.engine().runs.start_run("acme", run_id, "token")  # transforms run inline
    nodes = {n["ref"]: n for n in call(stack, "GET", f"/runs/{run_id}")[1]["data"]["nodes"]}
    assert nodes["fetch"]["status"] == "failed"  # abs('x') is a type error
    assert sorted(nodes["fetch"]["next"]) == ["cached", "report"]  # its error edges
    assert nodes["use"]["status"] == "skipped" and nodes["use"]["next"] == []
    assert nodes["cached"]["status"] == "succeeded" and nodes["cached"]["children"] == []


def test_an_external_run_has_no_graph(stack):
    status, run = call(stack, "POST", "/runs/external", {"workflow_id": "elsewhere"})
    assert status == 201, run
    assert run["data"]["nodes"] == []
    assert call(stack, "GET", f"/runs/{run['data']['id']}")[0] == 200
