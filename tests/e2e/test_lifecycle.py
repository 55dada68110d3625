"""Cancel, run timeout, versions and history, end to end."""

import time

from stepwise.infra.executions import node_execution_name
from tests.e2e.conftest import create_workflow, start_run, wait_for_run
from tests.helpers import diamond


def wait_for_node(api, run_id, ref, status, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        run = api.get(f"/runs/{run_id}").json()["data"]
        node = next(n for n in run["nodes"] if n["ref"] == ref)
        if node["status"] == status:
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.05)


def assert_executions_end(local_stack, run_id, within=10):
    """No execution of the run is left running. The run's own execution ends just after it
    records the run settled, and moto stops executions only between states, so this waits a
    moment: ``within`` is far below the slow node's 30 s delay, which a missed stop would show."""
    deadline = time.monotonic() + within
    while [e for e in local_stack.running_executions() if run_id in e]:
        assert time.monotonic() < deadline, local_stack.running_executions()
        time.sleep(0.1)


SLOW = {
    "name": "slow",
    "nodes": [
        {"ref": "quick", "kind": "transform"},
        {"ref": "slow", "kind": "wait", "start_delay": 30, "depends_on": ["quick"]},
        {"ref": "after", "kind": "transform", "depends_on": ["slow"]},
    ],
}


def test_cancel_mid_run_stops_everything_and_starts_nothing(api, local_stack):
    run_id = start_run(api, create_workflow(api, SLOW))
    wait_for_node(api, run_id, "slow", "scheduled")
    response = api.post(f"/runs/{run_id}/cancel", json={"reason": "changed my mind"})
    assert response.status_code == 202, response.text
    run = wait_for_run(api, run_id)
    assert run["status"] == "cancelled"
    assert run["error"] == {"type": "Cancelled", "message": "changed my mind", "node": None}
    statuses = {n["ref"]: n["status"] for n in run["nodes"]}
    assert statuses == {"quick": "succeeded", "slow": "cancelled", "after": "cancelled"}
    assert_executions_end(local_stack, run_id)
    assert not any(
        e["name"] == node_execution_name(run_id, "after")
        for e in local_stack.executions("NodeStateMachine")
    )
    again = api.post(f"/runs/{run_id}/cancel")
    assert again.status_code == 409
    assert "already ended (cancelled)" in again.json()["errors"][0]["message"]


def test_a_run_timeout_ends_the_run_timed_out(api, local_stack):
    run_id = start_run(api, create_workflow(api, {**SLOW, "timeout": 2}))
    run = wait_for_run(api, run_id)
    assert run["status"] == "timed_out"
    assert run["error"]["type"] == "RunTimedOut"
    assert {n["ref"]: n["status"] for n in run["nodes"]}["slow"] == "cancelled"
    assert_executions_end(local_stack, run_id)


def test_a_run_pins_its_workflow_version(api):
    body = {
        "name": "versioned",
        "nodes": [
            {"ref": "pause", "kind": "wait", "start_delay": 2},
            {"ref": "say", "kind": "transform", "args": {"v": 1}, "depends_on": ["pause"]},
        ],
    }
    workflow_id = create_workflow(api, body)
    first = start_run(api, workflow_id)
    body["nodes"][1]["args"] = {"v": 2}
    updated = api.put(f"/workflows/{workflow_id}", json=body)
    assert updated.status_code == 200 and updated.json()["data"]["version"] == 2
    second = start_run(api, workflow_id)
    assert wait_for_run(api, first)["output"] == {"say": {"v": 1}}
    assert wait_for_run(api, second)["output"] == {"say": {"v": 2}}
    versions = api.get(f"/workflows/{workflow_id}/versions").json()["data"]
    assert [v["version"] for v in versions] == [1, 2]
    assert api.get(f"/workflows/{workflow_id}?version=1").json()["data"]["nodes"][1]["args"] == {
        "v": 1
    }
    bad = api.put(f"/workflows/{workflow_id}", json={"name": "x", "nodes": []})
    assert bad.status_code == 422
    assert api.get(f"/workflows/{workflow_id}").json()["data"]["version"] == 2
    assert api.put("/workflows/wf_missing", json=body).status_code == 404


def test_history_lists_typed_events_in_order_and_pages(api):
    run_id = start_run(api, create_workflow(api, diamond()), {"n": 4})
    wait_for_run(api, run_id)
    events, cursor = [], None
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/runs/{run_id}/history", params=params).json()
        events.extend(page["data"])
        cursor = page["next_page"]
        if not cursor:
            break
    assert [e["event_id"] for e in events] == list(range(1, len(events) + 1))
    types = [e["event_type"] for e in events]
    assert types[:2] == ["RUN_CREATED", "RUN_STARTED"] and types[-1] == "RUN_SUCCEEDED"
    for ref in "abcd":
        mine = [e["event_type"] for e in events if e["node_ref"] == ref]
        assert mine == ["NODE_SCHEDULED", "NODE_STARTED", "NODE_SUCCEEDED"], (ref, mine)
    scheduled_d = next(
        e for e in events if e["node_ref"] == "d" and e["event_type"] == "NODE_SCHEDULED"
    )
    assert scheduled_d["spec"]["depends_on"] == ["b", "c"]
    succeeded = [e for e in events if e["event_type"] == "NODE_SUCCEEDED"]
    assert {e["node_ref"]: e["result"] for e in succeeded}["a"] == {"n": 4}
    # d was scheduled only after both b and c succeeded.
    position = {(e["node_ref"], e["event_type"]): e["event_id"] for e in events}
    assert position[("d", "NODE_SCHEDULED")] > max(
        position[("b", "NODE_SUCCEEDED")], position[("c", "NODE_SUCCEEDED")]
    )
    tampered = api.get(f"/runs/{run_id}/history", params={"cursor": "abc.def"})
    assert tampered.status_code == 400
