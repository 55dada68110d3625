"""External runs (seed 002): created, upserted and deleted by their client; listed and counted
with engine runs; engine runs accept only tags."""

import json

import pytest

from stepwise.infra import executions
from tests.helpers import http_event

BASE = "/v1/orgs/acme"


def call(stack, method, path, body=None, query=""):
    response = stack.invoke("ApiFunction", http_event(method, f"{BASE}{path}", body, query=query))
    return response["statusCode"], json.loads(response["body"] or "null")


def totals(stack, query):
    return call(stack, "GET", "/runs", query=f"limit=1&{query}".rstrip("&"))[1]["total"]


def test_an_external_run_is_created_with_a_client_id_and_read_back(stack):
    body = {
        "id": "deploy-42",
        "workflow_id": "deploy",
        "flow_type": "self_service_action",
        "args": {"env": "prod"},
        "tags": {"team": "web"},
    }
    status, payload = call(stack, "POST", "/runs/external", body)
    assert status == 201, payload
    run = payload["data"]
    assert (run["id"], run["kind"], run["status"]) == ("deploy-42", "external", "queued")
    assert run["args"] == {"env": "prod"} and run["tags"] == {"team": "web"}
    assert run["created_by"] == run["updated_by"] == "key:local" and run["nodes"] == []
    assert call(stack, "POST", "/runs/external", body)[0] == 409  # the id is taken
    generated = call(stack, "POST", "/runs/external", {"workflow_id": "deploy"})[1]["data"]
    assert generated["id"].startswith("run_")
    assert call(stack, "POST", "/runs/external", {"id": "Bad Id", "workflow_id": "x"})[0] == 422


def test_put_reports_phases_actions_and_outputs_and_moves_the_totals(stack):
    call(stack, "POST", "/runs/external", {"id": "job-1", "workflow_id": "etl"})
    assert totals(stack, "status=queued") == 1 and totals(stack, "workflow_id=etl") == 1
    body = {"phase": "running", "actions": [{"id": "extract", "phase": "running"}]}
    status, payload = call(stack, "PUT", "/runs/job-1", body)
    assert status == 200 and payload["data"]["status"] == "running"
    assert payload["data"]["started_at"] and payload["data"]["actions"][0]["id"] == "extract"
    assert totals(stack, "status=queued") == 0 and totals(stack, "status=running") == 1
    body = {"phase": "succeeded", "outputs": {"rows": 10}}
    run = call(stack, "PUT", "/runs/job-1", body)[1]["data"]
    assert run["status"] == "succeeded" and run["finished_at"] and run["outputs"] == {"rows": 10}
    assert totals(stack, "status=succeeded") == 1 and totals(stack, "status=running") == 0
    status, payload = call(stack, "PUT", "/runs/job-1", {"phase": "running"})
    assert status == 409 and "has ended" in payload["errors"][0]["message"]
    listed = call(stack, "GET", "/runs", query="status=succeeded")[1]["data"]
    assert [r["id"] for r in listed] == ["job-1"] and listed[0]["kind"] == "external"


def test_put_creates_a_missing_run_and_needs_its_workflow(stack):
    status, payload = call(stack, "PUT", "/runs/new-one", {"phase": "running"})
    assert status == 422 and payload["detail"][0]["loc"] == ["body", "workflow_id"]
    status, payload = call(stack, "PUT", "/runs/new-one", {"workflow_id": "w", "phase": "running"})
    assert status == 201 and payload["data"]["status"] == "running"
    assert totals(stack, "") == 1 and totals(stack, "status=running") == 1


def test_put_refuses_to_create_a_run_under_an_id_clients_cannot_have(stack):
    """Found by the contract test: it was a 500 (the id failed validation unhandled)."""
    status, payload = call(stack, "PUT", "/runs/Not:Valid", {"workflow_id": "w"})
    assert status == 422 and payload["detail"][0]["loc"] == ["path", "run_id"]


def test_delete_removes_an_external_run_and_its_counts(stack):
    call(stack, "POST", "/runs/external", {"id": "gone", "workflow_id": "w"})
    assert call(stack, "DELETE", "/runs/gone")[0] == 204
    assert call(stack, "GET", "/runs/gone")[0] == 404
    assert totals(stack, "") == 0 and totals(stack, "status=queued") == 0
    assert call(stack, "DELETE", "/runs/gone")[0] == 404


def test_engine_runs_take_tags_only(stack, monkeypatch):
    monkeypatch.setattr(executions, "resume_run", lambda token, reason: True)
    nodes = [{"ref": "a", "kind": "transform", "args": 1}]
    workflow = call(stack, "POST", "/workflows", {"name": "w", "nodes": nodes})[1]["data"]["id"]
    run_id = call(stack, "POST", "/runs", {"workflow_id": workflow})[1]["data"]["id"]
    status, payload = call(stack, "PUT", f"/runs/{run_id}", {"tags": {"team": "ops"}})
    assert status == 200 and payload["data"]["tags"] == {"team": "ops"}
    assert payload["data"]["kind"] == "workflow" and payload["data"]["updated_by"] == "key:local"
    status, payload = call(stack, "PUT", f"/runs/{run_id}", {"phase": "succeeded"})
    assert status == 409 and "only tags" in payload["errors"][0]["message"]
    assert call(stack, "DELETE", f"/runs/{run_id}")[0] == 409
    external = call(stack, "POST", "/runs/external", {"id": "ext", "workflow_id": "w"})
    assert external[0] == 201
    assert call(stack, "POST", "/runs/ext/cancel")[0] == 409


@pytest.mark.parametrize(
    "body",
    [
        {"phase": "sleeping"},
        {"actions": [{"id": "a"}]},
        {"tags": {"": "x"}},
        {"flow_type": "chatbot"},
        {"unknown": 1},
    ],
)
def test_bad_updates_are_422(stack, body):
    call(stack, "POST", "/runs/external", {"id": "r", "workflow_id": "w"})
    assert call(stack, "PUT", "/runs/r", body)[0] == 422


@pytest.mark.attack
def test_a_client_cannot_take_the_id_of_a_child_or_batch_run_yet_to_start(stack):
    workflow = call(
        stack, "POST", "/workflows", {"name": "p", "nodes": [{"ref": "a", "kind": "transform"}]}
    )
    parent = call(stack, "POST", "/runs", {"workflow_id": workflow[1]["data"]["id"]})[1]["data"][
        "id"
    ]
    for future in (f"{parent}.call.1", f"{parent}.0001", "run_01jf3v8k9q2m7x4c5b6n1p0r8t"):
        status, payload = call(stack, "PUT", f"/runs/{future}", {"workflow_id": "w"})
        assert status == 422 and payload["detail"][0]["loc"] == ["path", "run_id"], payload
        status, payload = call(stack, "POST", "/runs/external", {"id": future, "workflow_id": "w"})
        assert status == 422 and payload["detail"][0]["loc"] == ["body", "id"], payload
        assert call(stack, "GET", f"/runs/{future}")[0] == 404
    assert call(stack, "POST", "/runs/external", {"id": "deploy-42", "workflow_id": "w"})[0] == 201
