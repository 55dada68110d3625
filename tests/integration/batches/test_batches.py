"""Batches (seed 004): the API accepts up to 1,000 inputs at once; the batches function starts one
run per input, once, however often a message comes; the batch counts its runs by status; and
GET /runs?batch_id= pages through them like any other filter."""

import json

import pytest
from botocore.exceptions import ClientError

from stepwise import components
from stepwise.batches.service import CHUNK_SIZE
from stepwise.core.ids import batch_run_id
from tests.conftest import OTHER_KEY
from tests.helpers import http_event, queued_run_messages

BASE = "/v1/orgs/acme"
ONE_NODE = {"name": "w", "nodes": [{"ref": "a", "kind": "transform", "args": "{{ input }}"}]}


def call(stack, method, path, body=None, query="", key=None, headers=None):
    event = http_event(method, f"{BASE}{path}", body, query=query, **({"key": key} if key else {}))
    event["headers"].update(headers or {})
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"] or "null")


@pytest.fixture
def workflow(stack):
    status, body = call(stack, "POST", "/workflows", ONE_NODE)
    assert status == 201, body
    return body["data"]["id"]


def submit(stack, workflow, inputs, **fields):
    status, body = call(
        stack, "POST", "/batches", {"workflow_id": workflow, "inputs": inputs, **fields}
    )
    assert status == 202, body
    return body["data"]


def batch(stack, batch_id):
    status, body = call(stack, "GET", f"/batches/{batch_id}")
    assert status == 200, body
    return body["data"]


def page(stack, query):
    status, body = call(stack, "GET", "/runs", query=query)
    assert status == 200, body
    return body


def chunk_event(batch_id, chunk):
    body = json.dumps({"org_id": "acme", "batch_id": batch_id, "chunk": chunk})
    return {
        "Records": [
            {
                "messageId": f"m-{chunk}",
                "receiptHandle": "r",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "2"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:BatchQueue",
                "awsRegion": "us-east-1",
            }
        ]
    }


def run_ids_of(stack, batch_id, limit=100):
    found, query = [], f"batch_id={batch_id}&limit={limit}"
    current = page(stack, query)
    while True:
        found += [r["id"] for r in current["data"]]
        if current["next_page"] is None:
            return found
        current = page(stack, f"{query}&cursor={current['next_page']}")


# -- accepting ----------------------------------------------------------------------------------


def test_a_thousand_inputs_are_accepted_then_started_one_run_each(stack, workflow):
    inputs = [{"n": i} for i in range(1000)]
    accepted = submit(stack, workflow, inputs, tags={"source": "import"})
    assert accepted["id"].startswith("bat_")
    assert (accepted["status"], accepted["total"], accepted["runs"]) == ("starting", 1000, 0)
    assert accepted["tags"] == {"source": "import"} and accepted["settled"] is False
    assert stack.drain("BatchesFunction") == 1 + 1000 // CHUNK_SIZE  # the batch, its chunks

    started = batch(stack, accepted["id"])
    assert (started["status"], started["runs"], started["total"]) == ("started", 1000, 1000)
    assert started["counts"] == {
        "queued": 1000,
        "running": 0,
        "paused": 0,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 0,
        "timed_out": 0,
    }
    assert started["started_at"] is not None
    ids = run_ids_of(stack, accepted["id"])
    assert ids == [batch_run_id(accepted["id"], i) for i in reversed(range(1000))]
    assert page(stack, f"batch_id={accepted['id']}&limit=1")["total"] == 1000
    # Each run has its own input, in order, and says which batch started it.
    status, run = call(stack, "GET", f"/runs/{batch_run_id(accepted['id'], 737)}")
    assert status == 200
    assert run["data"]["input"] == {"n": 737}
    assert (run["data"]["batch_id"], run["data"]["role"]) == (accepted["id"], "batch")
    assert run["data"]["created_by"] == "key:local"


@pytest.mark.parametrize(
    ("inputs", "loc", "kind"),
    [
        ([{"n": i} for i in range(1001)], ["body", "inputs"], "too_long"),
        ([], ["body", "inputs"], "too_short"),
        ([1, "x" * (256 * 1024), 2], ["body", "inputs", 1], "too_long"),
    ],
    ids=["1001 inputs", "no input", "an input too large"],
)
def test_bad_inputs_are_422_naming_the_field_and_nothing_is_queued(
    stack, workflow, inputs, loc, kind
):
    status, body = call(stack, "POST", "/batches", {"workflow_id": workflow, "inputs": inputs})
    assert status == 422, body
    [error] = body["detail"]
    assert error["loc"] == loc and error["type"] == kind
    assert stack.drain("BatchesFunction") == 0


def test_an_unknown_workflow_is_422_naming_workflow_id(stack):
    status, body = call(stack, "POST", "/batches", {"workflow_id": "wf_nope", "inputs": [1]})
    assert status == 422
    [error] = body["detail"]
    assert error["loc"] == ["body", "workflow_id"] and "wf_nope" in error["msg"]
    assert stack.drain("BatchesFunction") == 0


class _RefusingQueue:
    """SQS refusing the call, or taking the call and failing its entry."""

    def __init__(self, refuse_call: bool):
        self.refuse_call = refuse_call

    def send_message_batch(self, QueueUrl, Entries):
        if self.refuse_call:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "no"}}, "Send")
        return {"Failed": [{"Id": e["Id"], "Code": "InternalError"} for e in Entries]}


@pytest.mark.parametrize("refuse_call", [True, False])
def test_a_batch_that_cannot_be_queued_leaves_nothing_behind(
    stack, workflow, monkeypatch, refuse_call
):
    from stepwise.infra import aws

    real_client = aws.client
    monkeypatch.setattr(
        aws,
        "client",
        lambda service: _RefusingQueue(refuse_call) if service == "sqs" else real_client(service),
    )
    status, body = call(stack, "POST", "/batches", {"workflow_id": workflow, "inputs": [1, 2]})
    assert status == 503 and body["errors"][0]["code"] == "service_unavailable"
    table = components.store().table
    import boto3

    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    assert not [i for i in items if "#BATCH#" in i["PK"]["S"]]


def test_an_idempotent_replay_gets_the_same_batch_and_starts_nothing_twice(stack, workflow):
    body = {"workflow_id": workflow, "inputs": [{"n": 1}, {"n": 2}]}
    header = {"idempotency-key": "import-7"}
    first = call(stack, "POST", "/batches", body, headers=header)
    again = call(stack, "POST", "/batches", body, headers=header)
    assert first[0] == again[0] == 202
    assert again[1]["data"]["id"] == first[1]["data"]["id"]
    assert stack.drain("BatchesFunction") == 2  # one batch, one chunk
    assert batch(stack, first[1]["data"]["id"])["runs"] == 2
    assert page(stack, "limit=100")["total"] == 2
    other = call(stack, "POST", "/batches", {**body, "inputs": [{"n": 3}]}, headers=header)
    assert other[0] == 422 and other[1]["detail"][0]["loc"] == ["header", "Idempotency-Key"]


# -- starting once ------------------------------------------------------------------------------


def test_a_chunk_delivered_twice_starts_each_run_once(stack, workflow):
    accepted = submit(stack, workflow, [{"n": i} for i in range(CHUNK_SIZE + 5)])
    # The batch's own message delivered twice fans out twice: every chunk comes twice.
    queue_url = components.batches().queue_url
    import boto3

    boto3.client("sqs").send_message(
        QueueUrl=queue_url, MessageBody=json.dumps({"org_id": "acme", "batch_id": accepted["id"]})
    )
    assert stack.drain("BatchesFunction") == 2 + 2 * 2
    answer = stack.invoke("BatchesFunction", chunk_event(accepted["id"], 1))  # and once more
    assert answer == {"batchItemFailures": []}
    started = batch(stack, accepted["id"])
    assert (started["status"], started["runs"]) == ("started", CHUNK_SIZE + 5)
    assert started["counts"]["queued"] == CHUNK_SIZE + 5
    assert len(run_ids_of(stack, accepted["id"])) == CHUNK_SIZE + 5
    # A run still queued when its chunk comes again has its start queued again: the engine
    # starts each run once however many times its start arrives.
    assert stack.drain("EngineFunction") >= CHUNK_SIZE + 5
    for run_id in run_ids_of(stack, accepted["id"]):
        run, nodes = components.store().runs.get_run_with_nodes("acme", run_id)
        assert run.status == "succeeded" and [n.attempt for n in nodes] == [1], run_id


def test_a_redelivered_chunk_starts_the_execution_of_a_run_left_queued(stack, workflow):
    """An earlier delivery created the run and died before StartExecution: the next one
    starts it (by name, so never twice) and creates only what is missing."""
    accepted = submit(stack, workflow, [{"n": 0}, {"n": 1}])
    store = components.store()
    left = batch_run_id(accepted["id"], 0)
    store.runs.create_run("acme", left, store.workflows.get_workflow("acme", workflow), {"n": 0})
    stack.drain("BatchesFunction")
    started = sorted(m["run_id"] for m in queued_run_messages("start"))
    assert started == sorted([left, batch_run_id(accepted["id"], 1)])
    assert batch(stack, accepted["id"])["runs"] == 2


def test_a_run_another_delivery_creates_meanwhile_is_left_to_it(stack, workflow, monkeypatch):
    """Two deliveries of a chunk at once both find a run missing; the one whose create comes
    second is refused by the table, and counts the run as not its own: no error, no second run,
    no second count."""
    from stepwise.core.errors import NotFound

    accepted = submit(stack, workflow, [{"n": 0}])
    stack.drain("BatchesFunction")
    batches = components.batches()

    def not_yet(org_id, run_id):
        raise NotFound("run", run_id)

    # Read before the other delivery's create, the run was not there yet.
    monkeypatch.setattr(batches.store.runs, "get_run", not_yet)
    assert batches.start_chunk(batches.get("acme", accepted["id"]), 0) == []
    assert batch(stack, accepted["id"])["runs"] == 1
    assert run_ids_of(stack, accepted["id"]) == [batch_run_id(accepted["id"], 0)]


def test_a_message_of_an_unknown_batch_is_dropped(stack):
    answer = stack.invoke("BatchesFunction", chunk_event("bat_01jz0000000000000000000000", 0))
    assert answer == {"batchItemFailures": []}


# -- counting -----------------------------------------------------------------------------------


def test_the_counts_follow_every_status_change_of_the_batchs_runs(stack, workflow, monkeypatch):
    from stepwise.infra import executions

    monkeypatch.setattr(executions, "resume_run", lambda token, reason: True)
    accepted = submit(stack, workflow, [{"n": i} for i in range(5)])
    stack.drain("BatchesFunction")
    ids = [batch_run_id(accepted["id"], i) for i in range(5)]
    engine = components.engine()
    engine.runs.start_run("acme", ids[0])  # its node runs inline: it finishes succeeded
    for run_id in ids[1:3]:  # started, and still running
        components.store().run_state.mark_started("acme", run_id)
    engine.runs.finalize_run("acme", ids[0], {"reason": "all_nodes_settled"})
    engine.runs.finalize_run("acme", ids[0], {"reason": "all_nodes_settled"})  # a replay: no change
    engine.runs.finalize_run("acme", ids[1], {"reason": "cancelled"})
    components.store().run_state.fail_run_start("acme", ids[3], "no execution")
    assert batch(stack, accepted["id"])["counts"] == {
        "queued": 1,
        "running": 1,
        "paused": 0,
        "succeeded": 1,
        "failed": 1,
        "cancelled": 1,
        "timed_out": 0,
    }
    assert page(stack, f"batch_id={accepted['id']}&status=running&limit=5")["total"] == 1
    listed = page(stack, f"batch_id={accepted['id']}&status=succeeded&limit=5")
    assert [r["id"] for r in listed["data"]] == [ids[0]] and listed["total"] == 1
    assert batch(stack, accepted["id"])["settled"] is False
    engine.runs.finalize_run("acme", ids[2], {"reason": "timed_out"})
    engine.runs.start_run("acme", ids[4])
    engine.runs.finalize_run("acme", ids[4], {"reason": "all_nodes_settled"})
    settled = batch(stack, accepted["id"])
    assert settled["counts"] == {
        "queued": 0,
        "running": 0,
        "paused": 0,
        "succeeded": 2,
        "failed": 1,
        "cancelled": 1,
        "timed_out": 1,
    }
    assert settled["settled"] is True
    # The org's totals moved in the same transactions.
    assert page(stack, "limit=1")["total"] == 5
    assert page(stack, "status=succeeded&limit=1")["total"] == 2


# -- listing ------------------------------------------------------------------------------------


def test_the_batch_id_filter_pages_both_ways_and_leaves_out_other_runs(stack, workflow):
    status, before = call(stack, "POST", "/runs", {"workflow_id": workflow})
    assert status == 201
    first = submit(stack, workflow, [{"n": i} for i in range(7)])
    other = submit(stack, workflow, [{"n": i} for i in range(3)])
    stack.drain("BatchesFunction")
    status, after = call(stack, "POST", "/runs", {"workflow_id": workflow})
    assert status == 201
    # A child run of a batch run shares the batch's id prefix, but is not one of its runs.
    store = components.store()
    parent = batch_run_id(first["id"], 3)
    child = f"{parent}.step.1"
    store.runs.create_run(
        "acme",
        child,
        store.workflows.get_workflow("acme", workflow),
        None,
        {"parent_run_id": parent},
    )

    expected = [batch_run_id(first["id"], i) for i in reversed(range(7))]
    forwards, current = [], page(stack, f"batch_id={first['id']}&limit=3")
    assert current["total"] == 7 and current["previous_page"] is None
    while True:
        forwards += [r["id"] for r in current["data"]]
        assert all(r["batch_id"] == first["id"] for r in current["data"])
        if current["next_page"] is None:
            break
        current = page(stack, f"batch_id={first['id']}&limit=3&cursor={current['next_page']}")
    assert forwards == expected
    backwards = []
    while True:
        backwards += [r["id"] for r in reversed(current["data"])]
        if current["previous_page"] is None:
            break
        current = page(stack, f"batch_id={first['id']}&limit=3&cursor={current['previous_page']}")
    assert backwards == list(reversed(expected))
    # Batch runs sort at their batch's time among all runs: newest first, between the others.
    everything = [r["id"] for r in page(stack, "limit=100")["data"]]
    assert (
        everything.index(after["data"]["id"])
        < everything.index(batch_run_id(other["id"], 0))
        < everything.index(batch_run_id(first["id"], 0))
        < everything.index(before["data"]["id"])
    )
    summaries = {r["id"]: r for r in page(stack, "limit=100")["data"]}
    assert (
        summaries[child]["batch_id"] is None and summaries[before["data"]["id"]]["batch_id"] is None
    )
    # A cursor is bound to its batch.
    cursor = page(stack, f"batch_id={first['id']}&limit=3")["next_page"]
    status, _ = call(stack, "GET", "/runs", query=f"batch_id={other['id']}&limit=3&cursor={cursor}")
    assert status == 400


def test_a_bad_batch_id_filter_is_422(stack):
    status, body = call(stack, "GET", "/runs", query="batch_id=run_1")
    assert status == 422 and body["detail"][0]["loc"] == ["query", "batch_id"]


def test_another_orgs_key_sees_neither_the_batch_nor_its_runs(stack, workflow):
    accepted = submit(stack, workflow, [1, 2])
    stack.drain("BatchesFunction")
    status, body = call(stack, "GET", f"/batches/{accepted['id']}", key=OTHER_KEY)
    assert status == 404
    event = http_event(
        "GET", "/v1/orgs/globex/runs", query=f"batch_id={accepted['id']}", key=OTHER_KEY
    )
    listed = json.loads(stack.invoke("ApiFunction", event)["body"])
    assert listed["data"] == [] and listed["total"] == 0
    status, body = call(stack, "GET", "/batches/bat_01jz0000000000000000000000")
    assert status == 404 and body["errors"][0]["code"] == "not_found"


def test_a_batch_runs_id_cannot_be_taken_by_an_external_run(stack, workflow):
    taken = batch_run_id("bat_01jz0000000000000000000000", 5)
    status, body = call(stack, "POST", "/runs/external", {"id": taken, "workflow_id": "deploy"})
    assert status == 422 and body["detail"][0]["loc"] == ["body", "id"]
    status, body = call(stack, "PUT", f"/runs/{taken}", {"workflow_id": "deploy"})
    assert status == 422 and body["detail"][0]["loc"] == ["path", "run_id"]
