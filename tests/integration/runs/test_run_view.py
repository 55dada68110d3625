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
    components.engine().runs.start_run("acme", run_id)  # transforms run inline
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


def s3_reads():
    """Counts the GetObject calls the functions make (they share this process's client)."""
    from stepwise.infra import aws

    calls: list[str] = []

    def count(model, **_):
        calls.append(model.name)

    aws.client("s3").meta.events.register("before-call.s3.GetObject", count)
    return calls, lambda: aws.client("s3").meta.events.unregister("before-call.s3.GetObject", count)


def test_a_run_get_and_its_history_read_no_s3_output_and_the_node_get_reads_one(stack, monkeypatch):
    """Issue 14 row 11: outputs above the inline limit live in S3; GET /runs/{id} and the
    history leave them out (``output_omitted``, ``result_omitted``) instead of reading each."""
    monkeypatch.setattr(executions, "resume_run", lambda token, reason: True)
    big = {"ref": "big", "kind": "transform", "args": {"parts": ["{{ input.s }}"] * 20}}
    body = {
        "name": "large outputs",
        "nodes": [big, {**big, "ref": "big2"}, {"ref": "small", "kind": "transform"}],
        "returns": {"done": True},
    }
    status, workflow = call(stack, "POST", "/workflows", body)
    assert status == 201, workflow
    s = "x" * 4000  # 20 copies: about 80 KB of output per big node, over the 64 KB inline limit
    status, created = call(
        stack, "POST", "/runs", {"workflow_id": workflow["data"]["id"], "input": {"s": s}}
    )
    run_id = created["data"]["id"]
    components.engine().runs.start_run("acme", run_id)  # transforms run inline

    calls, stop = s3_reads()
    try:
        status, answer = call(stack, "GET", f"/runs/{run_id}")
        assert status == 200
        nodes = {n["ref"]: n for n in answer["data"]["nodes"]}
        assert (nodes["big"]["output"], nodes["big"]["output_omitted"]) == (None, True)
        assert {n["status"] for n in nodes.values()} == {"succeeded"}
        assert nodes["big2"]["output_omitted"] is True
        assert (nodes["small"]["output"], nodes["small"]["output_omitted"]) == ({}, False)
        status, history = call(stack, "GET", f"/runs/{run_id}/history")
        assert status == 200
        ends = {e["node_ref"]: e for e in history["data"] if e["event_type"] == "NODE_SUCCEEDED"}
        assert ends["big"]["result"] is None and ends["big"]["result_omitted"] is True
        assert ends["small"]["result"] == {} and ends["small"]["result_omitted"] is False
        assert calls == []

        status, node = call(stack, "GET", f"/runs/{run_id}/nodes/big")
        assert status == 200
        assert node["data"]["output"] == {"parts": [s] * 20}
        assert node["data"]["output_omitted"] is False
        assert len(calls) == 1
    finally:
        stop()
    assert call(stack, "GET", f"/runs/{run_id}/nodes/nope")[0] == 404
    assert call(stack, "GET", "/runs/run_nope/nodes/big")[0] == 404
