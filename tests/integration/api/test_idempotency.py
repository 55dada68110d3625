"""Idempotency-Key on creating POSTs: a retry gets the first answer and creates nothing."""

import json

import pytest

from stepwise import components
from tests.conftest import OTHER_KEY
from tests.helpers import DEFAULT_KEY, http_event

WORKFLOW = {"name": "w", "nodes": [{"ref": "a", "kind": "transform", "args": 1}]}


def post(stack, path, body, idempotency_key=None, key=DEFAULT_KEY, org="acme"):
    event = http_event("POST", f"/v1/orgs/{org}{path}", body, key)
    if idempotency_key is not None:
        event["headers"]["idempotency-key"] = idempotency_key
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"])


def run_count(org="acme"):
    return components.store().runs.run_counts(org).get("all", 0)


@pytest.fixture
def workflow_id(stack):
    status, payload = post(stack, "/workflows", WORKFLOW)
    assert status == 201
    return payload["data"]["id"]


def test_a_retried_run_start_gets_the_same_run(stack, workflow_id):
    body = {"workflow_id": workflow_id, "input": {"n": 1}}
    first = post(stack, "/runs", body, "start-1")
    again = post(stack, "/runs", body, "start-1")
    assert first[0] == 201 and again == first
    assert run_count() == 1
    other = post(stack, "/runs", body, "start-2")
    assert other[0] == 201 and other[1]["data"]["id"] != first[1]["data"]["id"]
    assert post(stack, "/runs", body)[0] == 201  # no key: a new run each time
    assert run_count() == 3


def test_the_same_key_with_another_body_is_a_422_naming_the_header(stack, workflow_id):
    assert post(stack, "/runs", {"workflow_id": workflow_id, "input": 1}, "k")[0] == 201
    status, payload = post(stack, "/runs", {"workflow_id": workflow_id, "input": 2}, "k")
    assert status == 422
    [error] = payload["detail"]
    assert error["loc"] == ["header", "Idempotency-Key"] and error["type"] == "idempotency_conflict"
    assert run_count() == 1


def test_keys_are_per_org_and_per_route(stack, workflow_id):
    assert post(stack, "/workflows", WORKFLOW, "shared")[0] == 201
    assert post(stack, "/runs", {"workflow_id": workflow_id}, "shared")[0] == 201
    status, payload = post(stack, "/workflows", WORKFLOW, "shared", key=OTHER_KEY, org="globex")
    assert status == 201
    mine = post(stack, "/workflows", WORKFLOW, "shared")[1]["data"]["id"]
    assert payload["data"]["id"] != mine


def test_a_retried_workflow_create_gets_the_same_workflow(stack):
    first = post(stack, "/workflows", WORKFLOW, "wf-1")
    assert post(stack, "/workflows", WORKFLOW, "wf-1") == first


def test_a_failed_create_is_not_recorded(stack):
    """An error answer is not cached: the retry is tried again (and can then succeed)."""
    status, _ = post(stack, "/runs", {"workflow_id": "wf_missing"}, "retry-me")
    assert status == 404
    status, _ = post(stack, "/runs", {"workflow_id": "wf_missing"}, "retry-me")
    assert status == 404


def test_credentials_and_external_runs_take_the_key_too(stack):
    credential = {"name": "c", "type": "bearer", "token": "tok-1"}
    first = post(stack, "/credentials", credential, "cred-1")
    assert first[0] == 201 and post(stack, "/credentials", credential, "cred-1") == first
    assert "tok-1" not in json.dumps(first)
    listed = stack.invoke("ApiFunction", http_event("GET", "/v1/orgs/acme/credentials"))
    assert len(json.loads(listed["body"])["data"]) == 1
    external = {"workflow_id": "etl"}
    run = post(stack, "/runs/external", external, "ext-1")
    assert run[0] == 201 and post(stack, "/runs/external", external, "ext-1") == run
    assert run_count() == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/destinations", {"label": "d", "url": "https://hooks.example.com/x"}),
        ("/keys", {"name": "k", "scopes": ["read"]}),
    ],
)
def test_creates_that_show_a_secret_once_refuse_the_key(stack, path, body):
    status, payload = post(stack, path, body, "secret-1")
    assert status == 422 and payload["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert post(stack, path, body)[0] == 201


def test_a_retried_action_definition_create_adds_no_second_version(stack):
    destination = post(stack, "/destinations", {"label": "d", "url": "https://h.example.com/x"})
    body = {"name": "notify", "destinations": [{"destination_id": destination[1]["data"]["id"]}]}
    first = post(stack, "/actions/definitions", body, "def-1")
    assert first[0] == 201 and first[1]["data"]["version"] == 1
    assert post(stack, "/actions/definitions", body, "def-1") == first
    listed = stack.invoke("ApiFunction", http_event("GET", "/v1/orgs/acme/actions/definitions"))
    [definition] = json.loads(listed["body"])["data"]
    assert definition["version"] == 1
    status, payload = post(stack, "/actions/definitions", {**body, "variant": "v2"}, "def-1")
    assert status == 422
    [error] = payload["detail"]
    assert error["loc"] == ["header", "Idempotency-Key"] and error["type"] == "idempotency_conflict"
    assert post(stack, "/actions/definitions", body)[1]["data"]["version"] == 2  # no key: new


def test_a_retried_log_line_is_written_once_per_run(stack, workflow_id):
    runs = [post(stack, "/runs", {"workflow_id": workflow_id})[1]["data"]["id"] for _ in "ab"]
    line = {"level": "info", "message": "sent 3 emails"}
    first = post(stack, f"/runs/{runs[0]}/logs", line, "log-1")
    assert first[0] == 201 and post(stack, f"/runs/{runs[0]}/logs", line, "log-1") == first
    other = post(stack, f"/runs/{runs[1]}/logs", line, "log-1")  # another run: another line
    assert other[0] == 201 and other[1]["data"]["run_id"] == runs[1]
    status, payload = post(stack, f"/runs/{runs[0]}/logs", {**line, "message": "x"}, "log-1")
    assert status == 422 and payload["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    for run_id, count in ((runs[0], 1), (runs[1], 1)):
        read = stack.invoke("ApiFunction", http_event("GET", f"/v1/orgs/acme/runs/{run_id}/logs"))
        assert len(json.loads(read["body"])["data"]) == count
