"""Redrive of the node kinds that hold more than one record: a for_each node runs only its
items that did not succeed, and a workflow node redrives its failed child run instead of
starting a fresh one. Steps driven one by one on moto."""

import json

import pytest

from stepwise import components
from stepwise.core.statuses import NodeStatus, RunStatus
from stepwise.engine import attempts as attempts_module
from stepwise.engine.executors import NodeFailure
from tests.helpers import DEFAULT_KEY, deliver, http_event
from tests.integration.runs.test_redrive import ORG, api, call, queued_starts, step

EACH = {
    "name": "each",
    "nodes": [
        {"ref": "each", "kind": "transform", "for_each": "{{ input.xs }}", "args": "{{ item }}"}
    ],
}


@pytest.fixture(autouse=True)
def _every_node_is_an_execution(stack):
    components.engine().advance.inline_limit = 0


@pytest.fixture
def executed(monkeypatch):
    """Every attempt a transform computes, as (ref, index); those listed in ``failing`` fail
    for good."""
    calls: list[tuple[str, int | None]] = []
    failing: set[tuple[str, int | None]] = set()
    real = attempts_module.execute

    def execute(spec, context):
        at = (spec.ref, context.get("index"))
        calls.append(at)
        if at in failing:
            raise NodeFailure("Boom", f"{at} is down", retryable=False)
        return real(spec, context)

    monkeypatch.setattr(attempts_module, "execute", execute)
    return calls, failing


def drive_items(stack, run_id, count, token):
    step(stack, "attempt", run_id, node_ref="each", attempt=1)
    step(stack, "start_items", run_id, node_ref="each", task_token=token)
    for index in range(count):
        step(stack, "item_attempt", run_id, node_ref="each", index=index, attempt=1)
    step(stack, "chunk_done", run_id, node_ref="each", chunk=0)
    step(stack, "collect_items", run_id, node_ref="each")


def test_a_redriven_for_each_runs_only_the_items_that_did_not_succeed(stack, resumed, executed):
    calls, failing = executed
    failing |= {("each", 3), ("each", 7)}
    workflow = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", EACH)["data"]
    run_id = api(
        stack,
        "POST",
        f"/v1/orgs/{ORG}/runs",
        {"workflow_id": workflow["id"], "input": {"xs": list(range(10))}},
    )["data"]["id"]
    deliver(stack, "start", run_id)
    drive_items(stack, run_id, 10, "fan0")
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "node_failed"})
    store = components.store()
    assert store.runs.get_run(ORG, run_id).status == RunStatus.FAILED
    assert len(calls) == 10

    failing.clear()
    calls.clear()
    assert call(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/redrive", {})[0] == 202
    deliver(stack, "start", run_id)
    drive_items(stack, run_id, 10, "fan1")
    assert sorted(calls) == [("each", 3), ("each", 7)], "succeeded items ran again"
    node = store.runs.get_node(ORG, run_id, "each")
    assert (node.status, node.attempt) == (NodeStatus.SUCCEEDED, 2)
    items = store.nodes.list_items(ORG, run_id, "each")
    assert [i.attempt for i in items] == [1, 1, 1, 2, 1, 1, 1, 2, 1, 1]
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "all_nodes_settled"})
    run = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}")["data"]
    assert run["status"] == "succeeded" and run["output"] == {"each": list(range(10))}


def test_a_redriven_for_each_whose_items_changed_runs_them_all(stack, resumed, executed):
    calls, failing = executed
    failing.add(("each", 1))
    workflow = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", EACH)["data"]
    run_id = api(
        stack,
        "POST",
        f"/v1/orgs/{ORG}/runs",
        {"workflow_id": workflow["id"], "input": {"xs": [1, 2, 3]}},
    )["data"]["id"]
    deliver(stack, "start", run_id)
    drive_items(stack, run_id, 3, "fan0")
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "node_failed"})
    failing.clear()
    calls.clear()
    body = {"input": {"xs": [4, 5, 6, 7]}}
    assert call(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/redrive", body)[0] == 202
    deliver(stack, "start", run_id)
    drive_items(stack, run_id, 4, "fan1")
    assert sorted(calls) == [("each", i) for i in range(4)]
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "all_nodes_settled"})
    assert api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}")["data"]["output"] == {
        "each": [4, 5, 6, 7]
    }


def test_a_redriven_workflow_node_redrives_its_failed_child(stack, resumed, executed):
    calls, failing = executed
    child_body = {
        "name": "child",
        "nodes": [
            {"ref": "ca", "kind": "transform", "args": {"a": 1}},
            {"ref": "cb", "kind": "transform", "args": {"b": 2}, "depends_on": ["ca"]},
        ],
    }
    child_wf = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", child_body)["data"]["id"]
    parent_body = {
        "name": "parent",
        "nodes": [{"ref": "call", "kind": "workflow", "args": {"workflow_id": child_wf}}],
    }
    parent_wf = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", parent_body)["data"]["id"]
    run_id = api(stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": parent_wf})["data"]["id"]
    failing.add(("cb", None))

    def child_runs(attempt, token):
        outcome = step(stack, "attempt", run_id, node_ref="call", attempt=1)
        assert outcome["next"] == "child" and outcome["attempt"] == attempt
        child_id = outcome["child_run_id"]
        step(stack, "await_child", run_id, child_run_id=child_id, task_token=f"parent-{token}")
        return child_id

    deliver(stack, "start", run_id)
    child_id = child_runs(1, "0")
    deliver(stack, "start", child_id)
    step(stack, "attempt", child_id, node_ref="ca", attempt=1)
    step(stack, "attempt", child_id, node_ref="cb", attempt=1)
    components.engine().runs.finalize_run(ORG, child_id, {"reason": "node_failed"})
    step(stack, "child_settled", run_id, node_ref="call", attempt=1, child_run_id=child_id)
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "node_failed"})
    store = components.store()
    assert store.runs.get_run(ORG, run_id).status == RunStatus.FAILED
    assert store.runs.get_run(ORG, child_id).status == RunStatus.FAILED

    failing.clear()
    calls.clear()
    assert call(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/redrive", {})[0] == 202
    deliver(stack, "start", run_id)
    # The node's attempt 2 resumes the same child run, redriven, rather than a new child.
    assert child_runs(2, "1") == child_id
    child = store.runs.get_run(ORG, child_id)
    assert child.redrive_count == 1 and child.redrives[0]["by"] == f"run:{run_id}"
    assert (child_id, 1) in queued_starts()
    deliver(stack, "start", child_id)
    step(stack, "attempt", child_id, node_ref="cb", attempt=1)
    components.engine().runs.finalize_run(ORG, child_id, {"reason": "all_nodes_settled"})
    assert calls == [("cb", None)], "the child's succeeded node ran again"
    step(stack, "child_settled", run_id, node_ref="call", attempt=2, child_run_id=child_id)
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "all_nodes_settled"})
    parent = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}")["data"]
    assert parent["status"] == "succeeded"
    assert parent["output"] == {"call": {"cb": {"b": 2}}}


def test_a_workflow_limited_key_redrives_only_its_workflows_runs(stack, resumed, executed):
    _, failing = executed
    failing.add(("x", None))
    body = {"name": "one", "nodes": [{"ref": "x", "kind": "transform", "args": 1}]}
    mine = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", body)["data"]["id"]
    theirs = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", body)["data"]["id"]
    runs = {}
    for wf in (mine, theirs):
        run_id = api(stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": wf})["data"]["id"]
        deliver(stack, "start", run_id)
        step(stack, "attempt", run_id, node_ref="x", attempt=1)
        components.engine().runs.finalize_run(ORG, run_id, {"reason": "node_failed"})
        runs[wf] = run_id
    made = stack.invoke(
        "ApiFunction",
        http_event(
            "POST",
            f"/v1/orgs/{ORG}/keys",
            {"name": "limited", "scopes": ["write"], "workflows": [mine]},
            key=DEFAULT_KEY,
        ),
    )
    limited = json.loads(made["body"])["data"]["key"]
    path = f"/v1/orgs/{ORG}/runs/{{}}/redrive"
    assert call(stack, "POST", path.format(runs[theirs]), {}, key=limited)[0] == 404
    assert call(stack, "POST", path.format(runs[mine]), {}, key=limited)[0] == 202
    read_only = json.loads(
        stack.invoke(
            "ApiFunction",
            http_event(
                "POST", f"/v1/orgs/{ORG}/keys", {"name": "ro", "scopes": ["read"]}, key=DEFAULT_KEY
            ),
        )["body"]
    )["data"]["key"]
    assert call(stack, "POST", path.format(runs[theirs]), {}, key=read_only)[0] == 403
