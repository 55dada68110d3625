"""The operator's quotas the engine enforces, on the full local stack: a run that goes over one
fails the node with QuotaExceeded naming it, and every run settles (none hangs).

The stack's functions run in this process, so a test lowers a quota by setting its variable (as
the template parameter would) and clearing the cached settings."""

import pytest

from stepwise.core import settings
from tests.e2e.conftest import SETTLED, create_workflow, start_run, wait_for_run


@pytest.fixture
def quota(monkeypatch):
    def set_quota(variable: str, value: int) -> None:
        monkeypatch.setenv(variable, str(value))
        settings.clear()

    yield set_quota
    monkeypatch.undo()
    settings.clear()


@pytest.mark.attack
def test_twenty_self_referencing_workflow_nodes_stop_at_the_descendants_quota(api, quota):
    """Issue 14 row 2: 20 workflow nodes that start their own workflow would start 20^10 runs.
    With the quota at 2, the tree holds the root and at most 2 other runs, a start over it
    fails its node with QuotaExceeded (which fails the run and cancels its other nodes), and
    every run of the tree settles."""
    quota("QUOTA_DESCENDANTS_PER_RUN", 2)
    body = {"name": "bomb", "nodes": [{"ref": "seed", "kind": "transform"}]}
    workflow_id = create_workflow(api, body)
    body["nodes"] = [
        {"ref": f"n{i:02d}", "kind": "workflow", "args": {"workflow_id": workflow_id}}
        for i in range(20)
    ]
    assert api.put(f"/workflows/{workflow_id}", json=body).status_code == 200
    root_id = start_run(api, workflow_id)
    root = wait_for_run(api, root_id, timeout=120)
    assert root["status"] == "failed"
    errors = [n["error"] for n in root["nodes"] if n["status"] == "failed"]
    assert {e["type"] for e in errors} == {"QuotaExceeded"}
    assert "descendants_per_run (QuotaDescendantsPerRun = 2)" in errors[0]["message"]

    listed = api.get("/runs", params={"workflow_id": workflow_id, "limit": 100}).json()["data"]
    tree = {r["id"]: r for r in listed}
    assert root_id in tree and 2 <= len(tree) <= 3  # the root and at most 2 descendants
    for run_id in tree:
        run = wait_for_run(api, run_id)  # every run of the tree settles
        assert run["status"] in SETTLED
        failed = [n["error"]["type"] for n in run["nodes"] if n["status"] == "failed"]
        assert set(failed) <= {"QuotaExceeded", "ChildRunFailed"}


def test_a_descendant_at_the_quota_starts_and_one_over_fails_the_node(api, quota):
    quota("QUOTA_DESCENDANTS_PER_RUN", 2)
    leaf = create_workflow(
        api, {"name": "leaf", "nodes": [{"ref": "x", "kind": "transform", "args": {"v": 1}}]}
    )

    def parent(count: int) -> str:
        nodes = [
            {"ref": f"c{i}", "kind": "workflow", "args": {"workflow_id": leaf}}
            for i in range(count)
        ]
        return create_workflow(api, {"name": f"parent of {count}", "nodes": nodes})

    at_limit = wait_for_run(api, start_run(api, parent(2)))
    assert at_limit["status"] == "succeeded", at_limit
    over = wait_for_run(api, start_run(api, parent(3)))
    assert over["status"] == "failed"
    errors = [n["error"] for n in over["nodes"] if n["status"] == "failed"]
    assert [e["type"] for e in errors] == ["QuotaExceeded"]
    assert "descendants_per_run (QuotaDescendantsPerRun = 2)" in errors[0]["message"]


def test_a_node_output_at_the_quota_passes_and_one_over_fails_the_node(api, quota):
    quota("QUOTA_NODE_OUTPUT_BYTES", 1024)
    workflow_id = create_workflow(
        api,
        {
            "name": "echo",
            "nodes": [
                {
                    "ref": "echo",
                    "kind": "transform",
                    "args": {"s": "{{ input.s }}"},
                    "retry": {"max_attempts": 3, "initial_interval": 0},
                }
            ],
        },
    )
    exact = "x" * (1024 - len('{"s":""}'))
    assert wait_for_run(api, start_run(api, workflow_id, {"s": exact}))["status"] == "succeeded"
    run = wait_for_run(api, start_run(api, workflow_id, {"s": exact + "x"}))
    assert run["status"] == "failed"
    [node] = run["nodes"]
    assert node["error"]["type"] == "QuotaExceeded"
    assert "node_output_bytes" in node["error"]["message"]
    assert len(node["attempts"]) == 1  # the same attempt would give the same output: no retry


def test_for_each_items_at_the_quota_pass_and_one_more_fails_the_node(api, quota):
    quota("QUOTA_FOR_EACH_ITEMS", 3)
    workflow_id = create_workflow(
        api,
        {
            "name": "each",
            "nodes": [
                {
                    "ref": "each",
                    "kind": "transform",
                    "for_each": "{{ input.xs }}",
                    "args": {"x": "{{ item }}"},
                }
            ],
        },
    )
    ok = wait_for_run(api, start_run(api, workflow_id, {"xs": [1, 2, 3]}))
    assert ok["status"] == "succeeded"
    over = wait_for_run(api, start_run(api, workflow_id, {"xs": [1, 2, 3, 4]}))
    assert over["status"] == "failed"
    error = over["nodes"][0]["error"]
    assert error["type"] == "QuotaExceeded"
    assert "for_each_items (QuotaForEachItems = 3)" in error["message"]
