"""Workflows run end to end over HTTP, through real Step Functions executions in moto."""

import json
from pathlib import Path

import boto3
import httpx

from stepwise.infra.executions import node_execution_name
from tests.e2e.conftest import create_workflow, start_run, wait_for_run
from tests.helpers import diamond


def test_a_diamond_succeeds_with_d_built_from_b_and_c(api, local_stack):
    run_id = start_run(api, create_workflow(api, diamond()), {"n": 21})
    run = wait_for_run(api, run_id)
    assert run["status"] == "succeeded", run
    nodes = {n["ref"]: n for n in run["nodes"]}
    assert nodes["d"]["output"] == {"from_b": [21, 21], "from_c": "n is 21"}
    assert run["output"] == {"d": nodes["d"]["output"]}
    assert all(n["status"] == "succeeded" and n["attempt"] == 1 for n in nodes.values())
    # d started only after both of its parents had finished.
    assert nodes["d"]["started_at"] >= max(nodes["b"]["finished_at"], nodes["c"]["finished_at"])
    assert (
        run["started_at"] <= nodes["a"]["started_at"]
        and run["finished_at"] >= nodes["d"]["finished_at"]
    )
    # Transforms that never wait run inline: the nodes have no execution (nor has the run).
    sfn = boto3.client("stepfunctions")
    machines = local_stack.stack.names
    nodes_run = sfn.list_executions(stateMachineArn=machines["NodeStateMachine"])["executions"]
    names = {node_execution_name(run_id, ref) for ref in nodes}
    assert not [e for e in nodes_run if e["name"] in names]


def test_a_failing_node_fails_the_run_with_its_error(api):
    body = diamond()
    body["nodes"][2]["args"] = {"boom": "{{ abs(nodes.a.output.n) }}"}
    run = wait_for_run(api, start_run(api, create_workflow(api, body), {"n": "not a number"}))
    assert run["status"] == "failed"
    assert run["error"]["node"] == "c" and run["error"]["type"] == "ExpressionError"
    nodes = {n["ref"]: n["status"] for n in run["nodes"]}
    assert nodes["a"] == "succeeded" and nodes["c"] == "failed" and nodes["d"] == "cancelled"
    assert nodes["b"] in {"succeeded", "cancelled"}
    assert run["output"] is None


def test_returns_shapes_the_run_output(api):
    body = diamond(returns={"total": "{{ length(nodes.b.output.double) }}", "in": "{{ input }}"})
    run = wait_for_run(api, start_run(api, create_workflow(api, body), {"n": 2}))
    assert run["status"] == "succeeded"
    assert run["output"] == {"total": 2, "in": {"n": 2}}


def test_a_one_megabyte_payload_is_kept_whole(api, local_stack):
    """Payloads above the inline limit go to S3. The run's input and output come back with the
    run; a node's output with the node (the run says ``output_omitted``: a run of many large
    outputs would read them all and pass the 6 MB a Lambda answer may have)."""
    body = {
        "name": "big",
        "nodes": [{"ref": "echo", "kind": "transform", "args": {"blob": "{{ input.blob }}"}}],
    }
    blob = "x" * 1_000_000
    run = wait_for_run(api, start_run(api, create_workflow(api, body), {"blob": blob}))
    assert run["status"] == "succeeded"
    assert run["input"]["blob"] == blob
    assert run["nodes"][0]["output"] is None and run["nodes"][0]["output_omitted"] is True
    node = api.get(f"/runs/{run['id']}/nodes/echo").json()["data"]
    assert node["output"]["blob"] == blob and node["output_omitted"] is False
    assert run["output"] == {"echo": {"blob": blob}}
    keys = [
        o["Key"]
        for o in boto3.client("s3").list_objects_v2(
            Bucket=local_stack.stack.names["PayloadBucket"]
        )["Contents"]
        if run["id"] in o["Key"]
    ]
    assert len(keys) == 3  # the run's input and output, and the node's output


def test_an_unknown_workflow_is_a_404(api):
    response = api.post("/runs", json={"workflow_id": "wf_01doesnotexist"})
    assert response.status_code == 404
    assert response.json() == {
        "data": None,
        "errors": [{"code": "not_found", "message": "workflow 'wf_01doesnotexist' not found"}],
    }


def test_a_malformed_body_is_a_422_naming_the_field(api):
    response = api.post("/runs", json={"input": {}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "workflow_id"]
    response = api.post("/workflows", json={"name": "x", "nodes": [{"ref": "a"}]})
    assert response.status_code == 422
    assert ["body", "nodes", 0, "kind"] in [e["loc"] for e in response.json()["detail"]]


def test_another_orgs_key_gets_404_for_the_same_run(api, other_org_api):
    run_id = start_run(api, create_workflow(api, diamond()), {"n": 1})
    wait_for_run(api, run_id)
    assert other_org_api.get(f"/v1/orgs/acme/runs/{run_id}").status_code == 404
    assert other_org_api.get(f"/v1/orgs/globex/runs/{run_id}").status_code == 404
    assert api.get(f"/runs/{run_id}").status_code == 200


def test_health_answers_without_a_key(local_stack):
    response = httpx.get(f"{local_stack.base_url}/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_many_runs_at_once_all_succeed(api):
    workflow_id = create_workflow(api, diamond())
    run_ids = [start_run(api, workflow_id, {"n": i}) for i in range(16)]
    runs = [wait_for_run(api, run_id) for run_id in run_ids]
    assert [r["status"] for r in runs] == ["succeeded"] * 16, [r["error"] for r in runs]
    assert [r["output"]["d"]["from_b"] for r in runs] == [[i, i] for i in range(16)]


def test_the_readme_walkthrough_workflow_gives_the_documented_output(api):
    """examples/diamond.json with the README's input yields the output the README shows."""
    body = json.loads((Path(__file__).resolve().parents[2] / "examples/diamond.json").read_text())
    run = wait_for_run(api, start_run(api, create_workflow(api, body), {"name": "ada", "n": 2}))
    assert run["status"] == "succeeded"
    assert run["output"] == {"result": {"from_b": [2, 2], "from_c": "hello ada!"}}
