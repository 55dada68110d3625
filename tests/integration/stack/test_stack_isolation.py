"""Tests that share their module's stack still start from a clean one.

The two tests depend on their order, on purpose: the first leaves a workflow, a run, a schedule
and an API key behind; the second, next in this file (pytest runs a file's tests in order),
finds none of them. Run alone (``-k``, or on another xdist worker) the second has nothing to
look for and skips.
"""

import json

import pytest

from stepwise import components
from stepwise_local.provision import local_client
from tests.helpers import DEFAULT_KEY, http_event, queued_run_messages

BASE = "/v1/orgs/acme"
LEFT_KEY = "swk_left_by_an_earlier_test"
left: dict[str, str] = {}  # what the first test made, for the second


def call(stack, method, path, body=None, key=DEFAULT_KEY):
    response = stack.invoke("ApiFunction", http_event(method, f"{BASE}{path}", body, key))
    return response["statusCode"], json.loads(response["body"] or "null")


def test_1_leaves_a_workflow_a_run_a_schedule_and_a_key_behind(stack):
    nodes = [{"ref": "a", "kind": "transform", "args": {"n": 1}}]
    status, workflow = call(stack, "POST", "/workflows", {"name": "left", "nodes": nodes})
    assert status == 201, workflow
    status, run = call(stack, "POST", "/runs", {"workflow_id": workflow["data"]["id"]})
    assert status == 201, run
    body = {"name": "s", "expression": "rate(1 minute)", "workflow_id": workflow["data"]["id"]}
    status, schedule = call(stack, "POST", "/schedules", body)
    assert status == 201, schedule
    stack.add_api_key("acme", LEFT_KEY)
    assert call(stack, "GET", "/runs", key=LEFT_KEY)[0] == 200
    left.update(
        workflow=workflow["data"]["id"], run=run["data"]["id"], schedule=schedule["data"]["id"]
    )


def test_2_finds_nothing_the_first_left(stack):
    if not left:
        pytest.skip("runs right after test_1_..., which did not run")
    assert call(stack, "GET", f"/workflows/{left['workflow']}")[0] == 404
    assert call(stack, "GET", f"/runs/{left['run']}")[0] == 404
    assert call(stack, "GET", "/runs")[1]["data"] == []
    assert call(stack, "GET", f"/schedules/{left['schedule']}")[0] == 404
    assert call(stack, "GET", "/schedules")[1]["data"] == []
    group = stack.stack.names["ScheduleGroup"]
    assert local_client("scheduler").list_schedules(GroupName=group)["Schedules"] == []
    assert queued_run_messages() == []  # the first test's run start is gone with its queue
    assert call(stack, "GET", "/runs", key=LEFT_KEY)[0] == 401
    assert components.api_keys().find(LEFT_KEY) is None
