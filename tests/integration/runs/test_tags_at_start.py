"""Tags given when runs start (POST /runs, a batch's tags, a schedule's tags): stored on the run
and indexed in the transaction that creates it, so GET /runs?tag=k=v finds the run from the
moment it exists; the same limits and 422s as an external run's tags."""

import json
from urllib.parse import quote

import pytest

from stepwise import components
from stepwise.core.ids import batch_run_id
from stepwise.infra import dynamo, keys
from tests.conftest import OTHER_KEY, OTHER_ORG
from tests.helpers import DEFAULT_KEY, http_event

ONE_NODE = {"name": "w", "nodes": [{"ref": "a", "kind": "transform", "args": "{{ input }}"}]}


def call(stack, method, path, body=None, query="", key=DEFAULT_KEY, org="acme", headers=None):
    event = http_event(method, f"/v1/orgs/{org}{path}", body, key, query=query)
    event["headers"].update(headers or {})
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"] or "null")


@pytest.fixture
def workflow(stack):
    status, body = call(stack, "POST", "/workflows", ONE_NODE)
    assert status == 201, body
    return body["data"]["id"]


def tagged(stack, *tags, key=DEFAULT_KEY, org="acme"):
    query = "&".join(f"tag={quote(t)}" for t in tags)
    status, payload = call(stack, "GET", "/runs", query=query, key=key, org=org)
    assert status == 200, payload
    return [r["id"] for r in payload["data"]]


def tag_items(run_id):
    items = dynamo.query_partition(components.store().table, keys.run_pk(ORG, run_id))
    return [i for i in items if i["SK"].startswith(keys.RUN_TAG_PREFIX)]


ORG = "acme"


def test_a_run_started_with_tags_is_found_by_them_at_once(stack, workflow):
    tags = {"team": "web", "ticket": "ops-42"}
    status, body = call(stack, "POST", "/runs", {"workflow_id": workflow, "tags": tags})
    assert status == 201, body
    run = body["data"]
    assert run["tags"] == tags and run["status"] == "queued"  # not yet run: already listed
    assert tagged(stack, "team=web") == [run["id"]]
    assert tagged(stack, "team=web", "ticket=ops-42") == [run["id"]]
    assert tagged(stack, "team=ops") == []
    assert call(stack, "GET", f"/runs/{run['id']}")[1]["data"]["tags"] == tags
    # Another org's key sees none of it, by tag or by id.
    assert tagged(stack, "team=web", key=OTHER_KEY, org=OTHER_ORG) == []
    assert call(stack, "GET", f"/runs/{run['id']}", key=OTHER_KEY, org=OTHER_ORG)[0] == 404


def test_a_run_without_tags_writes_no_tag_items(stack, workflow):
    status, body = call(stack, "POST", "/runs", {"workflow_id": workflow, "tags": {"a": "1"}})
    assert len(tag_items(body["data"]["id"])) == 1
    status, body = call(stack, "POST", "/runs", {"workflow_id": workflow})
    assert status == 201 and body["data"]["tags"] == {}
    assert tag_items(body["data"]["id"]) == []


def test_tags_then_change_like_any_run_tags(stack, workflow):
    status, body = call(stack, "POST", "/runs", {"workflow_id": workflow, "tags": {"a": "1"}})
    assert status == 201, body
    run_id = body["data"]["id"]
    assert call(stack, "PUT", f"/runs/{run_id}", {"tags": {"b": "2"}})[0] == 200
    assert tagged(stack, "a=1") == [] and tagged(stack, "b=2") == [run_id]


def test_an_idempotent_replay_starts_one_tagged_run(stack, workflow):
    body = {"workflow_id": workflow, "tags": {"team": "web"}}
    headers = {"idempotency-key": "start-tagged-1"}
    first = call(stack, "POST", "/runs", body, headers=headers)
    second = call(stack, "POST", "/runs", body, headers=headers)
    assert first[0] == second[0] == 201
    assert first[1]["data"]["id"] == second[1]["data"]["id"]
    assert tagged(stack, "team=web") == [first[1]["data"]["id"]]


@pytest.mark.parametrize(
    ("tags", "loc"),
    [
        ({"bad#key": "x"}, ["body", "tags", "bad#key", "[key]"]),
        ({"team": "x" * 257}, ["body", "tags", "team"]),
        ({f"k{i}": "v" for i in range(51)}, ["body", "tags"]),
        ({"": "x"}, ["body", "tags", "", "[key]"]),
        (["team=web"], ["body", "tags"]),
    ],
    ids=["# in a key", "value too long", "51 tags", "empty key", "not an object"],
)
def test_bad_tags_are_a_422_naming_the_field_and_start_nothing(stack, workflow, tags, loc):
    status, body = call(stack, "POST", "/runs", {"workflow_id": workflow, "tags": tags})
    assert status == 422, body
    assert loc in [e["loc"] for e in body["detail"]], body["detail"]
    status, page = call(stack, "GET", "/runs")
    assert page["data"] == []


# -- batches ------------------------------------------------------------------------------------


def test_every_run_of_a_batch_carries_the_batch_tags(stack, workflow):
    tags = {"source": "import", "wave": "3"}
    status, body = call(
        stack, "POST", "/batches", {"workflow_id": workflow, "inputs": [1, 2, 3], "tags": tags}
    )
    assert status == 202, body
    batch_id = body["data"]["id"]
    assert tagged(stack, "source=import") == []  # no run exists yet
    stack.drain("BatchesFunction")
    runs = [batch_run_id(batch_id, i) for i in (2, 1, 0)]
    assert tagged(stack, "source=import") == runs
    assert tagged(stack, "source=import", "wave=3") == runs
    assert call(stack, "GET", f"/runs/{runs[0]}")[1]["data"]["tags"] == tags


def test_a_redelivered_batch_chunk_indexes_each_run_once(stack, workflow):
    status, body = call(
        stack, "POST", "/batches", {"workflow_id": workflow, "inputs": [1, 2], "tags": {"t": "1"}}
    )
    assert status == 202, body
    batch_id = body["data"]["id"]
    stack.drain("BatchesFunction")
    batches = components.batches()
    item = batches.find(ORG, batch_id)
    assert batches.start_chunk(item, 0) == []  # a redelivery creates nothing
    assert tagged(stack, "t=1") == [batch_run_id(batch_id, 1), batch_run_id(batch_id, 0)]
    assert len(tag_items(batch_run_id(batch_id, 0))) == 1


def test_a_batch_with_bad_tags_is_a_422(stack, workflow):
    body = {"workflow_id": workflow, "inputs": [1], "tags": {"a#b": "x"}}
    status, answer = call(stack, "POST", "/batches", body)
    assert status == 422
    assert ["body", "tags", "a#b", "[key]"] in [e["loc"] for e in answer["detail"]]


# -- schedules ----------------------------------------------------------------------------------


def schedule(stack, workflow, **fields):
    body = {"name": "s", "expression": "rate(1 minute)", "workflow_id": workflow, **fields}
    status, answer = call(stack, "POST", "/schedules", body)
    assert status == 201, answer
    return answer["data"]


def fire(stack, schedule_id, at):
    event = {"org_id": ORG, "schedule_id": schedule_id, "scheduled_time": at}
    return stack.invoke("TriggerFunction", event)


def test_a_schedule_keeps_its_tags_and_every_run_it_starts_carries_them(stack, workflow):
    created = schedule(stack, workflow, tags={"owner": "finance"})
    assert created["tags"] == {"owner": "finance"}
    assert call(stack, "GET", f"/schedules/{created['id']}")[1]["data"]["tags"] == created["tags"]
    first = fire(stack, created["id"], "2026-11-24T10:00:00Z")["run_id"]
    second = fire(stack, created["id"], "2026-11-24T10:01:00Z")["run_id"]
    assert tagged(stack, "owner=finance") == [second, first]

    status, changed = call(
        stack, "PATCH", f"/schedules/{created['id']}", {"tags": {"owner": "ops"}}
    )
    assert status == 200 and changed["data"]["tags"] == {"owner": "ops"}
    third = fire(stack, created["id"], "2026-11-24T10:02:00Z")["run_id"]
    assert tagged(stack, "owner=ops") == [third]  # the runs it starts next
    assert tagged(stack, "owner=finance") == [second, first]  # runs started keep theirs

    status, cleared = call(stack, "PATCH", f"/schedules/{created['id']}", {"tags": None})
    assert status == 200 and cleared["data"]["tags"] == {}
    fourth = fire(stack, created["id"], "2026-11-24T10:03:00Z")["run_id"]
    assert call(stack, "GET", f"/runs/{fourth}")[1]["data"]["tags"] == {}


def test_a_patch_that_leaves_tags_out_keeps_them(stack, workflow):
    created = schedule(stack, workflow, tags={"owner": "finance"})
    status, changed = call(stack, "PATCH", f"/schedules/{created['id']}", {"enabled": False})
    assert status == 200 and changed["data"]["tags"] == {"owner": "finance"}


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_schedule_with_bad_tags_is_a_422(stack, workflow, method):
    if method == "POST":
        body = {"name": "s", "expression": "rate(1 minute)", "workflow_id": workflow}
        path = "/schedules"
    else:
        body, path = {}, f"/schedules/{schedule(stack, workflow)['id']}"
    status, answer = call(stack, method, path, {**body, "tags": {"k": "v#"}})
    assert status == 422, answer
    assert ["body", "tags", "k"] in [e["loc"] for e in answer["detail"]]
