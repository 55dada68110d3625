"""Action nodes end to end: the local stack POSTs signed webhooks to a real receiver."""

import json
from datetime import datetime

import pytest
from standardwebhooks.webhooks import Webhook

from stepwise_local.receiver import Answer, Receiver
from tests.e2e.conftest import create_workflow, start_run, wait_for_run


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as running:
        yield running


def action_setup(api, url, name, sla_ms=5000, schema=None):
    dest = api.post(
        "/destinations", json={"label": name, "url": url, "response_time_sla_ms": sla_ms}
    )
    assert dest.status_code == 201, dest.text
    body = {"name": name, "destinations": [{"destination_id": dest.json()["data"]["id"]}]}
    if schema:
        body["schema"] = schema
    assert api.post("/actions/definitions", json=body).status_code == 201
    return dest.json()["data"]["signing_secret"]


def run_action(api, name, args, retry=None):
    node = {"ref": "call", "kind": "action", "action": name, "args": args}
    if retry:
        node["retry"] = retry
    run = wait_for_run(
        api, start_run(api, create_workflow(api, {"name": "w", "nodes": [node]}), {"who": "ada"})
    )
    return run, run["nodes"][0]


def test_a_synchronous_answer_is_the_nodes_output_and_the_request_is_signed(api, receiver):
    url = receiver.answer("/sync", Answer(200, {"greeted": True}))
    secret = action_setup(api, url, "greet")
    run, node = run_action(api, "greet", {"name": "{{ input.who }}"})
    assert run["status"] == "succeeded", run["error"]
    assert node["output"] == {"greeted": True}
    [request] = receiver.at("/sync")
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "action.attempt"
    assert payload["data"]["input"] == {"name": "ada"} and payload["data"]["attempt"] == 1
    assert request.headers["webhook-id"] == f"{run['id']}.call"


def test_500_then_200_is_retried_with_the_same_webhook_id(api, receiver):
    url = receiver.answer("/flaky", Answer(500, {"err": 1}), Answer(200, {"ok": 2}))
    action_setup(api, url, "flaky")
    run, node = run_action(api, "flaky", {}, retry={"max_attempts": 3, "initial_interval": 1})
    assert run["status"] == "succeeded" and node["output"] == {"ok": 2}
    assert [(a["attempt"], a["status"]) for a in node["attempts"]] == [
        (1, "retry_scheduled"),
        (2, "succeeded"),
    ]
    assert node["attempts"][0]["error"]["type"] == "HTTP500"
    ids = {r.headers["webhook-id"] for r in receiver.at("/flaky")}
    assert len(receiver.at("/flaky")) == 2 and ids == {f"{run['id']}.call"}


def test_a_400_fails_at_once(api, receiver):
    url = receiver.answer("/bad", Answer(400, {"error": "bad input"}))
    action_setup(api, url, "strict")
    run, node = run_action(api, "strict", {}, retry={"max_attempts": 3, "initial_interval": 1})
    assert run["status"] == "failed" and node["error"]["type"] == "HTTP400"
    assert len(node["attempts"]) == 1 and len(receiver.at("/bad")) == 1


def test_an_answer_slower_than_the_sla_is_retried(api, receiver):
    url = receiver.answer(
        "/slow", Answer(200, {"late": True}, delay=2.5), Answer(200, {"fast": True})
    )
    action_setup(api, url, "slowpoke", sla_ms=1000)
    run, node = run_action(api, "slowpoke", {}, retry={"max_attempts": 2, "initial_interval": 1})
    assert run["status"] == "succeeded" and node["output"] == {"fast": True}
    assert node["attempts"][0]["error"]["type"] == "Timeout"


def test_input_that_breaks_the_schema_fails_without_a_call(api, receiver):
    url = receiver.answer("/schema", Answer(200, {}))
    action_setup(api, url, "typed", schema={"type": "object", "required": ["email"]})
    run, node = run_action(api, "typed", {"name": "x"}, retry={"max_attempts": 3})
    assert run["status"] == "failed" and node["error"]["type"] == "InputRejected"
    assert "email" in node["error"]["message"] and receiver.at("/schema") == []
    assert json.dumps(node)  # the record is complete JSON


def test_the_action_record_has_the_seed_shape_with_state_definition_and_events(api, receiver):
    url = receiver.answer(
        "/record", Answer(503, {}, headers={"Retry-After": "1"}), Answer(200, {"id": 7})
    )
    action_setup(api, url, "recorded")
    run, node = run_action(
        api, "recorded", {"x": 1}, retry={"max_attempts": 2, "initial_interval": 0}
    )
    assert run["status"] == "succeeded"
    record_id = f"{run['id']}.call"
    response = api.get(f"/actions/records/{record_id}")
    assert response.status_code == 200
    record = response.json()["data"]
    assert (
        record["id"] == record_id and record["input"] == {"x": 1} and record["output"] == {"id": 7}
    )
    assert record["state"]["status"] == "succeeded" and record["state"]["attempt"] == 2
    assert record["definition"]["name"] == "recorded"
    assert record["definition"]["destinations"][0]["destination"]["config"]["url"] == url
    kinds = [(e["attempt"], e["kind"]) for e in record["events"]]
    assert kinds == [
        (1, "dispatch"),
        (1, "answer"),
        (1, "retry"),
        (2, "dispatch"),
        (2, "answer"),
        (2, "success"),
    ]
    retry = record["events"][2]
    assert retry["available_at"] and "503" in retry["message"]
    # Retry-After (1 s) stretched the zero backoff.
    attempts = node["attempts"]
    gap = datetime.fromisoformat(attempts[1]["started_at"]) - datetime.fromisoformat(
        attempts[0]["completed_at"]
    )
    assert gap.total_seconds() >= 1
    listed = api.get(f"/runs/{run['id']}/actions").json()["data"]
    assert [r["id"] for r in listed] == [record_id]
    assert api.get(f"/actions/records/{run['id']}.nope").status_code == 404
    assert api.get("/actions/records/garbage").status_code == 404
