"""Pause and resume over HTTP, through real executions in moto: running nodes finish, nothing
new starts while paused, resume starts what became ready, and cancel and the timeout still end
a paused run."""

import time

import boto3

from stepwise.infra.executions import node_execution_name
from tests.e2e.conftest import create_workflow, start_run, wait_for_run


def slow_then_fan(delay: int = 2, **extra) -> dict:
    """slow (waits ``delay`` s) -> inline (a transform run inline) and later (an execution)."""
    return {
        "name": "pausable",
        "nodes": [
            {"ref": "slow", "kind": "wait", "start_delay": delay, "args": {"n": "{{ input.n }}"}},
            {
                "ref": "inline",
                "kind": "transform",
                "args": {"n": "{{ nodes.slow.output.n }}"},
                "depends_on": ["slow"],
            },
            {
                "ref": "later",
                "kind": "wait",
                "start_delay": 1,
                "args": {"m": "{{ nodes.slow.output.n }}"},
                "depends_on": ["slow"],
            },
        ],
        **extra,
    }


def wait_for(api, run_id, check, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        run = api.get(f"/runs/{run_id}").json()["data"]
        if check(run):
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.05)


def node_status(run):
    return {n["ref"]: n["status"] for n in run["nodes"]}


def history(api, run_id):
    return api.get(f"/runs/{run_id}/history", params={"limit": 1000}).json()["data"]


def started_running(api, workflow, run_input=None):
    run_id = start_run(api, workflow, run_input or {"n": 7})
    wait_for(api, run_id, lambda r: node_status(r)["slow"] in ("scheduled", "running"))
    return run_id


def test_a_paused_run_finishes_its_running_node_starts_nothing_then_resumes(api, local_stack):
    run_id = started_running(api, create_workflow(api, slow_then_fan()))
    paused = api.post(f"/runs/{run_id}/pause", json={"reason": "db maintenance"})
    assert paused.status_code == 200, paused.text
    assert paused.json()["data"]["status"] == "paused"

    # The running node finishes; its children are held: not inline, not started.
    run = wait_for(api, run_id, lambda r: node_status(r)["slow"] == "succeeded")
    time.sleep(1.5)  # what would have started had the run not been paused
    run = api.get(f"/runs/{run_id}").json()["data"]
    assert run["status"] == "paused"
    assert node_status(run) == {"slow": "succeeded", "inline": "pending", "later": "pending"}
    sfn = boto3.client("stepfunctions")
    machine = local_stack.stack.names["NodeStateMachine"]
    names = {e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    assert node_execution_name(run_id, "later") not in names

    # Pausing again changes nothing (one pause in the history).
    again = api.post(f"/runs/{run_id}/pause")
    assert again.status_code == 200 and again.json()["data"]["status"] == "paused"

    resumed = api.post(f"/runs/{run_id}/resume")
    assert resumed.status_code == 202, resumed.text
    assert resumed.json()["data"]["status"] == "running"
    run = wait_for_run(api, run_id)
    assert run["status"] == "succeeded", run
    assert run["output"] == {"inline": {"n": 7}, "later": {"m": 7}}

    events = [e for e in history(api, run_id) if e["event_type"].startswith("RUN_")]
    kinds = [e["event_type"] for e in events]
    assert kinds == ["RUN_CREATED", "RUN_STARTED", "RUN_PAUSED", "RUN_RESUMED", "RUN_SUCCEEDED"]
    assert events[2]["by"] == "key:local" and events[2]["reason"] == "db maintenance"
    assert events[3]["by"] == "key:local"

    # Resuming a run whose pause was resumed already: no change, no error; a settled run: 409.
    repeat = api.post(f"/runs/{run_id}/resume")
    assert repeat.status_code == 409  # it has ended by now
    assert "ended" in repeat.json()["errors"][0]["message"]
    assert api.post(f"/runs/{run_id}/pause").status_code == 409


def test_cancel_ends_a_paused_run_cancelled(api):
    run_id = started_running(api, create_workflow(api, slow_then_fan()))
    assert api.post(f"/runs/{run_id}/pause").status_code == 200
    cancelled = api.post(f"/runs/{run_id}/cancel", json={"reason": "not needed"})
    assert cancelled.status_code == 202, cancelled.text
    run = wait_for_run(api, run_id)
    assert run["status"] == "cancelled"
    assert set(node_status(run).values()) == {"cancelled"}
    assert api.post(f"/runs/{run_id}/resume").status_code == 409


def test_the_run_timeout_keeps_counting_while_paused(api):
    run_id = started_running(api, create_workflow(api, slow_then_fan(delay=1, timeout=4)))
    assert api.post(f"/runs/{run_id}/pause").status_code == 200
    run = wait_for_run(api, run_id, timeout=30)
    assert run["status"] == "timed_out", run
    assert node_status(run)["slow"] == "succeeded"  # it was running: it finished
    assert node_status(run)["later"] == "cancelled"  # held, then cancelled by the timeout


def test_a_failure_while_paused_fails_the_run(api):
    body = slow_then_fan(delay=1)
    body["nodes"][0]["args"] = {"n": "{{ abs(input.n) }}"}  # fails on a string
    run_id = started_running(api, create_workflow(api, body), {"n": "x"})
    assert api.post(f"/runs/{run_id}/pause").status_code == 200
    run = wait_for_run(api, run_id)
    assert run["status"] == "failed" and run["error"]["node"] == "slow"


def test_a_run_paused_while_queued_starts_nothing_until_resumed(api):
    workflow = create_workflow(api, slow_then_fan(delay=1))
    run_id = start_run(api, workflow, {"n": 3})
    paused = api.post(f"/runs/{run_id}/pause")
    assert paused.status_code == 200, paused.text
    time.sleep(1.5)
    run = api.get(f"/runs/{run_id}").json()["data"]
    assert run["status"] == "paused"
    # Whatever had started before the pause landed finishes; nothing after it starts.
    assert node_status(run)["inline"] == "pending" and node_status(run)["later"] == "pending"
    assert api.post(f"/runs/{run_id}/resume").status_code == 202
    assert wait_for_run(api, run_id)["status"] == "succeeded"


def test_pause_and_resume_refuse_what_they_cannot_do(api, other_org_api):
    run_id = started_running(api, create_workflow(api, slow_then_fan(delay=1)))
    # Another org's key: 404, and the run is untouched.
    path = f"/v1/orgs/globex/runs/{run_id}"
    assert other_org_api.post(f"{path}/pause").status_code == 404
    assert api.get(f"/runs/{run_id}").json()["data"]["status"] != "paused"
    # Resume of a run that is not paused: 409 saying so.
    not_paused = api.post(f"/runs/{run_id}/resume")
    assert not_paused.status_code == 409
    assert "not paused" in not_paused.json()["errors"][0]["message"]
    assert wait_for_run(api, run_id)["status"] == "succeeded"
    # An external run is not executed here.
    external = api.post("/runs/external", json={"workflow_id": "wf_elsewhere"})
    assert external.status_code == 201, external.text
    ext_id = external.json()["data"]["id"]
    refused = api.post(f"/runs/{ext_id}/pause")
    assert refused.status_code == 409 and "external" in refused.json()["errors"][0]["message"]
    assert api.post(f"/runs/{ext_id}/resume").status_code == 409
    # An unknown run: 404; a reason too long: 422 naming it.
    assert api.post("/runs/run_nope/pause").status_code == 404
    long = api.post(f"/runs/{run_id}/pause", json={"reason": "x" * 1001})
    assert long.status_code == 422 and long.json()["detail"][0]["loc"] == ["body", "reason"]
