"""Node events (seed 003): a node with ``emit_event`` records its output on success, with the
events of its upstream nodes as lineage, listed per workflow node with since_id and pages."""

import json
from contextlib import contextmanager

import pytest

from stepwise import components
from stepwise.infra import aws
from tests.conftest import OTHER_KEY
from tests.helpers import DEFAULT_KEY, deliver, diamond, http_event
from tests.integration.engine.test_engine_steps import (
    named,
    node_executions,
    step,
)

ORG = "acme"


def call(stack, method, path, body=None, query="", key=DEFAULT_KEY):
    event = http_event(method, f"/v1/orgs/{ORG}{path}", body, key, query=query)
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"])


def emitting(body, refs):
    for node in body["nodes"]:
        if node["ref"] in refs:
            node["emit_event"] = True
    return body


def workflow(stack, body):
    status, payload = call(stack, "POST", "/workflows", body)
    assert status == 201, payload
    return payload["data"]["id"]


def run(stack, workflow_id, run_input=None):
    """One run, every node inline in its start step."""
    body = {"workflow_id": workflow_id, "input": run_input}
    run_id = call(stack, "POST", "/runs", body)[1]["data"]["id"]
    deliver(stack, "start", run_id)
    return run_id


def events(stack, workflow_id, ref, query="", key=DEFAULT_KEY):
    return call(stack, "GET", f"/workflows/{workflow_id}/nodes/{ref}/events", query=query, key=key)


def listed(stack, workflow_id, ref, query=""):
    status, payload = events(stack, workflow_id, ref, query)
    assert status == 200, payload
    return payload


def test_a_success_emits_its_output_with_the_upstream_events(stack, resumed):
    workflow_id = workflow(stack, emitting(diamond(), "abcd"))
    run_id = run(stack, workflow_id, {"n": 2})
    [a] = listed(stack, workflow_id, "a")["data"]
    [b] = listed(stack, workflow_id, "b")["data"]
    [c] = listed(stack, workflow_id, "c")["data"]
    [d] = listed(stack, workflow_id, "d")["data"]
    assert (a["node"], a["run_id"], a["workflow_id"]) == ("a", run_id, workflow_id)
    assert a["payload"] == {"n": 2} and d["payload"] == {"from_b": [2, 2], "from_c": "n is 2"}
    assert a["previous_event_ids"] == []
    assert b["previous_event_ids"] == [a["id"]] and c["previous_event_ids"] == [a["id"]]
    assert sorted(d["previous_event_ids"]) == sorted([b["id"], c["id"]])
    assert a["created_at"] == a["updated_at"] and a["id"] < d["id"]


def test_lineage_passes_through_nodes_that_do_not_emit(stack, resumed):
    workflow_id = workflow(stack, emitting(diamond(), "ad"))
    run(stack, workflow_id, {"n": 1})
    [a] = listed(stack, workflow_id, "a")["data"]
    [d] = listed(stack, workflow_id, "d")["data"]
    assert d["previous_event_ids"] == [a["id"]]
    assert listed(stack, workflow_id, "b")["data"] == []  # b does not emit


def test_a_node_with_an_execution_emits_once_on_replays(stack, resumed):
    components.engine().advance.inline_limit = 0
    body = emitting(diamond(), "ab")
    workflow_id = workflow(stack, body)
    run_id = call(stack, "POST", "/runs", {"workflow_id": workflow_id, "input": {"n": 5}})[1]
    run_id = run_id["data"]["id"]
    deliver(stack, "start", run_id)
    assert node_executions(stack) == named(run_id, "a")
    for _ in range(2):  # the step, then Step Functions retrying it
        step(stack, "attempt", run_id, node_ref="a", attempt=1)
        step(stack, "attempt", run_id, node_ref="b", attempt=1)
    [a] = listed(stack, workflow_id, "a")["data"]
    [b] = listed(stack, workflow_id, "b")["data"]
    assert a["payload"] == {"n": 5} and b["previous_event_ids"] == [a["id"]]


def test_since_id_returns_only_newer_events(stack, resumed):
    workflow_id = workflow(stack, emitting(diamond(), "a"))
    runs = [run(stack, workflow_id, {"n": n}) for n in range(4)]
    every = listed(stack, workflow_id, "a")["data"]
    assert [e["run_id"] for e in every] == runs[::-1]  # newest first
    newer = listed(stack, workflow_id, "a", f"since_id={every[2]['id']}")
    assert [e["run_id"] for e in newer["data"]] == runs[:1:-1] and newer["meta"]["count"] == 2
    assert listed(stack, workflow_id, "a", f"since_id={every[0]['id']}")["data"] == []


@contextmanager
def keys_read():
    """How many items each DynamoDB Query read (ScannedCount), in order."""
    counts: list[int] = []

    def count(parsed, **_):
        counts.append(parsed["ScannedCount"])

    client = aws.client("dynamodb")
    client.meta.events.register("after-call.dynamodb.Query", count)
    try:
        yield counts
    finally:
        client.meta.events.unregister("after-call.dynamodb.Query", count)


def test_pages_and_meta_across_pages(stack, resumed):
    workflow_id = workflow(stack, emitting(diamond(), "a"))
    runs = [run(stack, workflow_id, {"n": n}) for n in range(5)]
    path = f"/v1/orgs/{ORG}/workflows/{workflow_id}/nodes/a/events"
    with keys_read() as read:
        first = listed(stack, workflow_id, "a", "per_page=2")
    assert read == [3]  # the page and one key past it, not the node's 5 events
    assert [e["run_id"] for e in first["data"]] == runs[:2:-1]
    assert first["meta"] == {
        "current_page": f"https://api.example.com{path}?page=1&per_page=2",
        "previous_page": None,
        "next_page": f"https://api.example.com{path}?page=2&per_page=2",
        "per_page": 2,
        "pages": None,  # known on the last page only: counting would read every event
        "count": None,
    }
    second = listed(stack, workflow_id, "a", "page=2&per_page=2")
    assert [e["run_id"] for e in second["data"]] == runs[2:0:-1]
    assert second["meta"]["previous_page"].endswith("?page=1&per_page=2")
    assert second["meta"]["next_page"].endswith("?page=3&per_page=2")
    assert second["meta"]["count"] is None
    last = listed(stack, workflow_id, "a", "page=3&per_page=2")
    assert [e["run_id"] for e in last["data"]] == runs[:1]
    assert last["meta"]["next_page"] is None and last["meta"]["pages"] == 3
    assert last["meta"]["count"] == 5
    beyond = listed(stack, workflow_id, "a", "page=9&per_page=2")
    assert beyond["data"] == [] and beyond["meta"]["previous_page"].endswith("page=3&per_page=2")
    since = listed(stack, workflow_id, "a", f"since_id={first['data'][1]['id']}&per_page=1")
    assert since["meta"]["count"] == 1 and since["meta"]["next_page"] is None
    assert f"since_id={first['data'][1]['id']}" in since["meta"]["current_page"]
    default = listed(stack, workflow_id, "a")
    assert default["meta"]["per_page"] == 20 and len(default["data"]) == 5


def test_a_node_without_emit_event_records_nothing(stack, resumed):
    workflow_id = workflow(stack, diamond())
    run(stack, workflow_id, {"n": 1})
    page = listed(stack, workflow_id, "a")
    assert page["data"] == [] and page["meta"]["count"] == 0 and page["meta"]["pages"] == 0


@pytest.mark.parametrize(
    "query", ["per_page=0", "per_page=101", "per_page=-1", "page=0", "since_id=Bad%20Id"]
)
def test_bad_paging_parameters_are_422_naming_them(stack, query):
    workflow_id = workflow(stack, diamond())
    status, payload = events(stack, workflow_id, "a", query)
    assert status == 422
    assert payload["detail"][0]["loc"] == ["query", query.split("=")[0]]


def test_unknown_workflows_and_other_orgs_get_404(stack, resumed):
    workflow_id = workflow(stack, emitting(diamond(), "a"))
    run(stack, workflow_id, {"n": 1})
    assert events(stack, "wf_missing", "a")[0] == 404
    status, payload = events(stack, workflow_id, "a", key=OTHER_KEY)
    assert status == 404 and payload["errors"][0]["code"] == "not_found"
    other = http_event("GET", f"/v1/orgs/globex/workflows/{workflow_id}/nodes/a/events")
    other["headers"]["authorization"] = f"Bearer {OTHER_KEY}"
    answer = stack.invoke("ApiFunction", other)
    assert answer["statusCode"] == 404  # the same workflow id is not theirs
