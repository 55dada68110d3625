"""The api function (Mangum + FastAPI) on moto, called with API Gateway HTTP API events."""

import json
import os

import boto3
import pytest

from stepwise.core.statuses import RunStatus
from stepwise.infra import keys
from stepwise_local import call_log
from tests.conftest import OTHER_KEY
from tests.helpers import diamond, http_event, queued_run_messages


def call(stack, method, path, body=None, key="swk_local_dev_key", query=""):
    response = stack.invoke("ApiFunction", http_event(method, path, body, key, query))
    return response["statusCode"], json.loads(response["body"])


def create_workflow(stack, body=None):
    status, payload = call(stack, "POST", "/v1/orgs/acme/workflows", body or diamond())
    assert status == 201, payload
    return payload["data"]


def test_health_needs_no_key(stack):
    assert call(stack, "GET", "/healthz", key=None) == (200, {"status": "ok"})


def test_a_workflow_is_created_and_read_back(stack):
    created = create_workflow(stack)
    assert created["id"].startswith("wf_") and created["version"] == 1
    status, payload = call(stack, "GET", f"/v1/orgs/acme/workflows/{created['id']}")
    assert status == 200
    assert payload["errors"] is None
    assert [n["ref"] for n in payload["data"]["nodes"]] == ["a", "b", "c", "d"]
    assert payload["data"]["nodes"][3]["depends_on"] == ["b", "c"]


@pytest.mark.parametrize(
    ("mutate", "loc"),
    [
        (lambda b: b.pop("name"), ["body", "name"]),
        (lambda b: b.update(nodes=[]), ["body", "nodes"]),
        (lambda b: b["nodes"][1].update(kind="teleport"), ["body", "nodes", 1, "kind"]),
        (lambda b: b["nodes"][2].update(ref="Bad Ref"), ["body", "nodes", 2, "ref"]),
        (
            lambda b: b["nodes"][3].update(depends_on=["b", "nope"]),
            ["body", "nodes", 3, "depends_on", 1],
        ),
        (lambda b: b["nodes"][0].update(depends_on=["d"]), ["body", "nodes"]),
        (lambda b: b["nodes"][1].update(ref="a"), ["body", "nodes", 1, "ref"]),
        (
            lambda b: b["nodes"][0].update(args={"n": "{{ input.( }}"}),
            ["body", "nodes", 0, "args", "n"],
        ),
        (lambda b: b.update(surprise=True), ["body", "surprise"]),
    ],
    ids=[
        "no-name",
        "empty",
        "bad-kind",
        "bad-ref",
        "unknown-dep",
        "cycle",
        "duplicate",
        "bad-expr",
        "extra-field",
    ],
)
def test_a_bad_workflow_is_a_422_naming_the_field(stack, mutate, loc):
    body = diamond()
    mutate(body)
    status, payload = call(stack, "POST", "/v1/orgs/acme/workflows", body)
    assert status == 422
    assert loc in [error["loc"] for error in payload["detail"]], payload
    assert all({"loc", "msg", "type"} <= error.keys() for error in payload["detail"])


def test_a_malformed_json_body_is_a_422(stack):
    event = http_event("POST", "/v1/orgs/acme/workflows")
    event["body"] = "{not json"
    response = stack.invoke("ApiFunction", event)
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["detail"][0]["loc"][0] == "body"


def test_nothing_is_written_when_a_workflow_is_refused(stack):
    body = diamond()
    body["nodes"][0]["depends_on"] = ["d"]
    call(stack, "POST", "/v1/orgs/acme/workflows", body)
    table = stack.stack.names["StepwiseTable"]
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    # Only what the stack's keys wrote (the keys and their orgs' entries in the org list), and
    # the request's count against the org's rate limit.
    assert [
        i["PK"]["S"]
        for i in items
        if i["PK"]["S"] not in {"ORGS"}
        and not i["PK"]["S"].startswith("APIKEY#")
        and i["SK"]["S"] != keys.RATE_WINDOW_SK
    ] == []


def test_starting_a_run_records_it_and_passes_references_only(stack):
    workflow = create_workflow(stack)
    secret_input = {"n": 7, "card": "4111-1111"}
    status, payload = call(
        stack, "POST", "/v1/orgs/acme/runs", {"workflow_id": workflow["id"], "input": secret_input}
    )
    assert status == 201
    run = payload["data"]
    assert run["status"] == RunStatus.QUEUED and run["input"] == secret_input
    assert [n["status"] for n in run["nodes"]] == ["pending"] * 4
    # Its start waits on RunQueue, with references only.
    assert queued_run_messages() == [
        {"kind": "start", "org_id": "acme", "run_id": run["id"], "generation": 0}
    ]


def test_an_unknown_workflow_is_a_404(stack):
    status, payload = call(stack, "POST", "/v1/orgs/acme/runs", {"workflow_id": "wf_nope"})
    assert status == 404
    assert payload["errors"][0]["code"] == "not_found"


def test_a_run_that_cannot_start_fails_instead_of_staying_queued(stack, monkeypatch):
    workflow = create_workflow(stack)
    monkeypatch.setenv("RUN_QUEUE_URL", os.environ["RUN_QUEUE_URL"] + "-missing")
    from stepwise.core import settings

    settings.clear()
    with call_log.unchecked("a deployed API role would refuse the wrong queue: that is the point"):
        status, _ = call(stack, "POST", "/v1/orgs/acme/runs", {"workflow_id": workflow["id"]})
    assert status == 503
    status, listing = call(stack, "GET", "/v1/orgs/acme/runs")
    assert [r["status"] for r in listing["data"]] == ["failed"]
    assert listing["data"][0]["error"]["type"] == "RunStartFailed"


@pytest.mark.parametrize(("key", "expected"), [(None, 401), ("swk_wrong", 401), (OTHER_KEY, 404)])
def test_keys_other_than_the_orgs_own_see_nothing(stack, key, expected):
    workflow = create_workflow(stack)
    _, started = call(stack, "POST", "/v1/orgs/acme/runs", {"workflow_id": workflow["id"]})
    run_id = started["data"]["id"]
    for method, path, body in [
        ("GET", f"/v1/orgs/acme/runs/{run_id}", None),
        ("GET", f"/v1/orgs/acme/workflows/{workflow['id']}", None),
        ("GET", "/v1/orgs/acme/runs", None),
        ("POST", "/v1/orgs/acme/runs", {"workflow_id": workflow["id"]}),
    ]:
        status, payload = call(stack, method, path, body, key=key)
        assert status == expected, (method, path, payload)
        assert acme_id_free(payload, run_id, workflow["id"])


def test_another_orgs_key_on_its_own_path_cannot_reach_acmes_run(stack):
    workflow = create_workflow(stack)
    _, started = call(stack, "POST", "/v1/orgs/acme/runs", {"workflow_id": workflow["id"]})
    status, _ = call(stack, "GET", f"/v1/orgs/globex/runs/{started['data']['id']}", key=OTHER_KEY)
    assert status == 404
    status, listing = call(stack, "GET", "/v1/orgs/globex/runs", key=OTHER_KEY)
    assert status == 200 and listing["data"] == []


def acme_id_free(payload, *ids):
    text = json.dumps(payload)
    return not any(i in text for i in ids)


def test_runs_are_listed_newest_first_with_a_signed_cursor(stack):
    workflow = create_workflow(stack)
    started = [
        call(stack, "POST", "/v1/orgs/acme/runs", {"workflow_id": workflow["id"]})[1]["data"]["id"]
        for _ in range(5)
    ]
    seen, cursor = [], None
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = call(stack, "GET", "/v1/orgs/acme/runs", query=query)
        assert status == 200
        seen.extend(r["id"] for r in page["data"])
        cursor = page["next_page"]
        if not cursor:
            break
    assert seen == started[::-1]
    status, payload = call(
        stack, "GET", "/v1/orgs/acme/runs", query=f"cursor={cursor or 'x'}tampered"
    )
    assert status == 400 and payload["errors"][0]["code"] == "invalid_cursor"


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=-1", "limit=abc"])
def test_a_bad_page_size_is_a_422(stack, query):
    status, payload = call(stack, "GET", "/v1/orgs/acme/runs", query=query)
    assert status == 422 and payload["detail"][0]["loc"] == ["query", "limit"]
