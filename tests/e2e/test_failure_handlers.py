"""Failure handlers and tags at start, end to end over HTTP through real Step Functions
executions in moto: a run that fails starts its workflow's on_failure handler, which runs with
the failure in its input and succeeds; a handler that fails starts nothing more."""

import time

import httpx

from tests.e2e.conftest import create_workflow, start_run, wait_for_run
from tests.helpers import run_message

FAILING = [{"ref": "boom", "kind": "transform", "args": {"v": "{{ abs(input.n) }}"}}]


def wait_for_handlers(api: httpx.Client, run_id: str, timeout: float = 30) -> list[str]:
    """The run's handler runs, once linked: the run reads failed a moment before its finalize
    step has started and linked the handler."""
    deadline = time.monotonic() + timeout
    while True:
        run = api.get(f"/runs/{run_id}").json()["data"]
        if run["handler_run_ids"] or run["handler_error"]:
            return run["handler_run_ids"]
        assert time.monotonic() < deadline, f"no handler linked: {run}"
        time.sleep(0.05)


def test_a_failed_run_starts_its_handler_which_succeeds_with_the_failure(api, local_stack):
    handler = create_workflow(
        api,
        {
            "name": "page on-call",
            "nodes": [
                {
                    "ref": "page",
                    "kind": "transform",
                    "args": {"about": "{{ input.failed }}", "nodes": "{{ input.nodes }}"},
                }
            ],
        },
    )
    template = {"failed": "{{ run.id }}", "nodes": "{{ run.failed_nodes }}"}
    workflow = create_workflow(
        api,
        {
            "name": "etl",
            "nodes": FAILING,
            "on_failure": {"workflow_id": handler, "input": template},
        },
    )
    response = api.post(
        "/runs", json={"workflow_id": workflow, "input": {"n": "x"}, "tags": {"team": "data"}}
    )
    assert response.status_code == 201, response.text
    run_id = response.json()["data"]["id"]
    # Found by its tag from the moment it exists.
    listed = api.get("/runs", params={"tag": "team=data"}).json()["data"]
    assert [r["id"] for r in listed] == [run_id]

    failed = wait_for_run(api, run_id)
    assert failed["status"] == "failed"
    [handler_id] = wait_for_handlers(api, run_id)
    assert handler_id == f"{run_id}-handler-1"
    handled = wait_for_run(api, handler_id)
    assert handled["status"] == "succeeded", handled
    assert (handled["role"], handled["handles_run_id"]) == ("handler", run_id)
    error = {"type": "ExpressionError", "message": failed["error"]["message"]}
    assert handled["output"] == {
        "page": {"about": run_id, "nodes": [{"ref": "boom", "error": error}]}
    }
    assert handled["tags"] == {}  # not the failed run's work: its tags are in its input

    # A finalize delivered late (SQS delivers at least once) starts no second handler.
    message = run_message("finalize", local_stack.org_id, run_id)
    assert local_stack.invoke("EngineFunction", message) == {"batchItemFailures": []}
    assert api.get(f"/runs/{run_id}").json()["data"]["handler_run_ids"] == [handler_id]
    listed = api.get("/runs", params={"workflow_id": handler}).json()["data"]
    assert [r["id"] for r in listed] == [handler_id]


def test_a_handler_that_fails_starts_no_handler(api, local_stack):
    handler = create_workflow(api, {"name": "broken pager", "nodes": FAILING})
    # The handler names itself: its own failure must still start nothing.
    again = api.put(
        f"/workflows/{handler}",
        json={
            "name": "broken pager",
            "nodes": FAILING,
            "on_failure": {"workflow_id": handler, "input": {"n": "x"}},
        },
    )
    assert again.status_code == 200, again.text
    workflow = create_workflow(
        api,
        {
            "name": "etl",
            "nodes": FAILING,
            "on_failure": {"workflow_id": handler, "input": {"n": "x"}},
        },
    )
    run_id = start_run(api, workflow, {"n": "x"})
    assert wait_for_run(api, run_id)["status"] == "failed"
    [handler_id] = wait_for_handlers(api, run_id)
    assert wait_for_run(api, handler_id)["status"] == "failed"
    handled = api.get(f"/runs/{handler_id}").json()["data"]
    assert handled["role"] == "handler"
    # It has ended, finalize and all: nothing was linked, nothing was started.
    assert handled["handler_run_ids"] == [] and handled["handler_error"] is None
    listed = api.get("/runs", params={"workflow_id": handler}).json()["data"]
    assert [r["id"] for r in listed] == [handler_id]
