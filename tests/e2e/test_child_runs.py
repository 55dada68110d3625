"""Workflow nodes start child runs: the child feeds its parent; cancelling reaches the child."""

import time

from tests.e2e.conftest import create_workflow, orphan, start_run, wait_for_run

CHILD = {
    "name": "child",
    "nodes": [{"ref": "square", "kind": "transform", "args": {"pair": "{{ [input.x, input.x] }}"}}],
}


def parent_of(child_id: str, **node) -> dict:
    return {
        "name": "parent",
        "nodes": [
            {"ref": "prep", "kind": "transform", "args": {"x": "{{ input.x }}"}},
            {
                "ref": "sub",
                "kind": "workflow",
                "depends_on": ["prep"],
                "args": {"workflow_id": child_id, "input": {"x": "{{ nodes.prep.output.x }}"}},
                **node,
            },
            {
                "ref": "use",
                "kind": "transform",
                "depends_on": ["sub"],
                "args": {"got": "{{ nodes.sub.output }}"},
            },
        ],
    }


def test_a_child_run_feeds_its_parent_and_they_reference_each_other(api):
    parent_id = start_run(
        api, create_workflow(api, parent_of(create_workflow(api, CHILD))), {"x": 7}
    )
    parent = wait_for_run(api, parent_id)
    assert parent["status"] == "succeeded", parent["error"]
    nodes = {n["ref"]: n for n in parent["nodes"]}
    assert nodes["use"]["output"] == {"got": {"square": {"pair": [7, 7]}}}
    child_id = nodes["sub"]["child_run_id"]
    assert nodes["sub"]["attempts"][0]["child_run_id"] == child_id
    child = api.get(f"/runs/{child_id}").json()["data"]
    assert child["status"] == "succeeded"
    assert (child["parent_run_id"], child["parent_node_ref"]) == (parent_id, "sub")
    assert (child["role"], child["created_by"]) == ("parent", f"run:{parent_id}")
    assert child["input"] == {"x": 7}


def test_a_failed_child_is_retried_with_a_new_child_then_fails_the_parent(api):
    failing = create_workflow(
        api,
        {
            "name": "bad",
            "nodes": [{"ref": "x", "kind": "transform", "args": {"v": "{{ abs('no') }}"}}],
        },
    )
    parent = wait_for_run(
        api,
        start_run(
            api,
            create_workflow(
                api, parent_of(failing, retry={"max_attempts": 2, "initial_interval": 0})
            ),
            {"x": 1},
        ),
    )
    assert parent["status"] == "failed"
    sub = next(n for n in parent["nodes"] if n["ref"] == "sub")
    assert sub["error"]["type"] == "ChildRunFailed"
    children = [a["child_run_id"] for a in sub["attempts"]]
    assert len(children) == 2 and children[0] != children[1]
    assert all(api.get(f"/runs/{c}").json()["data"]["status"] == "failed" for c in children)


def running_child(api, parent_id: str, timeout: float = 30) -> str:
    """The id of the parent's child run, once that child is running."""
    deadline = time.monotonic() + timeout
    while True:
        nodes = api.get(f"/runs/{parent_id}").json()["data"]["nodes"]
        sub = next(n for n in nodes if n["ref"] == "sub")
        child_id = sub.get("child_run_id")
        if child_id and api.get(f"/runs/{child_id}").json()["data"]["status"] == "running":
            return child_id
        assert time.monotonic() < deadline, "the child run did not start"
        time.sleep(0.05)


def test_cancelling_the_parent_cancels_the_child(api, local_stack):
    slow_child = create_workflow(
        api, {"name": "slow", "nodes": [{"ref": "zz", "kind": "wait", "start_delay": 60}]}
    )
    parent_id = start_run(api, create_workflow(api, parent_of(slow_child)), {"x": 1})
    child_id = running_child(api, parent_id)
    assert api.post(f"/runs/{parent_id}/cancel").status_code == 202
    assert wait_for_run(api, parent_id)["status"] == "cancelled"
    child = wait_for_run(api, child_id)
    assert child["status"] == "cancelled"
    assert "parent run ended" in child["error"]["message"]


def test_an_unknown_child_workflow_is_refused_at_save_time(api):
    response = api.post("/workflows", json=parent_of("wf_nope"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "nodes", 1, "args", "workflow_id"]
    missing = api.post(
        "/workflows", json={"name": "x", "nodes": [{"ref": "w", "kind": "workflow"}]}
    )
    assert missing.status_code == 422


def test_a_workflow_that_starts_itself_stops_at_the_depth_limit(api):
    body = {"name": "loop", "nodes": [{"ref": "me", "kind": "transform"}]}
    workflow_id = create_workflow(api, body)
    body["nodes"] = [{"ref": "me", "kind": "workflow", "args": {"workflow_id": workflow_id}}]
    assert api.put(f"/workflows/{workflow_id}", json=body).status_code == 200
    top = wait_for_run(api, start_run(api, workflow_id), timeout=120)
    assert top["status"] == "failed"
    # Walk down to the deepest run: it failed because it would nest too deep.
    run = top
    for _ in range(20):
        sub = run["nodes"][0]
        if not sub.get("child_run_id"):
            break
        run = api.get(f"/runs/{sub['child_run_id']}").json()["data"]
    assert run["nodes"][0]["error"]["type"] == "MaxDepthExceeded"


def test_long_refs_in_nested_child_runs_get_names_aws_takes(api, local_stack):
    """Longest refs, two levels of child runs: every execution starts under a name that
    StartExecution with execution logging takes (the local stack refuses any other)."""
    long_ref = "r" * 64
    leaf = create_workflow(
        api, {"name": "leaf", "nodes": [{"ref": long_ref, "kind": "wait", "start_delay": 1}]}
    )
    middle = create_workflow(
        api,
        {
            "name": "middle",
            "nodes": [{"ref": "m" * 64, "kind": "workflow", "args": {"workflow_id": leaf}}],
        },
    )
    top = wait_for_run(api, start_run(api, create_workflow(api, parent_of(middle)), {"x": 1}))
    assert top["status"] == "succeeded", top["error"]
    names = [
        e["name"] for machine in ("NodeStateMachine",) for e in local_stack.executions(machine)
    ]
    assert all(len(n) <= 80 and n.replace("-", "").replace("_", "").isalnum() for n in names)


def test_the_janitor_settles_an_orphaned_child_and_resumes_its_parent(api, local_stack):
    """Issue 13 row 3: the janitor resumes the parent's AwaitChild token, a task of the node
    machine. Swept through JanitorFunction itself, so the IAM check (tests/iam) proves its role
    may send it."""
    slow_child = create_workflow(
        api, {"name": "slow2", "nodes": [{"ref": "zz", "kind": "wait", "start_delay": 60}]}
    )
    parent_id = start_run(api, create_workflow(api, parent_of(slow_child)), {"x": 1})
    child_id = running_child(api, parent_id)
    orphan(local_stack, child_id)  # its execution stops behind the engine's back

    answer = local_stack.invoke("JanitorFunction", {"source": "aws.events", "detail": {}})
    assert (child_id, "failed") in [(s["run_id"], s["status"]) for s in answer["settled"]]
    assert answer.get("failed", []) == []  # no run's error (AccessDenied) in the sweep
    parent = wait_for_run(api, parent_id)
    assert parent["status"] == "failed"
    nodes = {n["ref"]: n for n in parent["nodes"]}
    assert nodes["sub"]["status"] == "failed"
    assert nodes["sub"]["error"]["type"] == "ChildRunFailed"
    assert nodes["use"]["status"] == "cancelled"
