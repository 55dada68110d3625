"""Bulk actions through the local queue: a job pages through the runs a filter matches, acts on
each once however often a page is delivered, skips (with the reason) a run that changed in
between, and never touches another org's runs or a workflow a limited key does not have."""

import json

import pytest

from stepwise import components
from stepwise.bulk.service import PAGE_SIZE
from stepwise.core.ids import batch_run_id
from tests.conftest import OTHER_KEY
from tests.helpers import deliver, http_event

BASE = "/v1/orgs/acme"
ONE_NODE = {"name": "w", "nodes": [{"ref": "a", "kind": "transform", "args": "{{ input }}"}]}


def call(stack, method, path, body=None, query="", key=None, org="acme"):
    event = http_event(
        method, f"/v1/orgs/{org}{path}", body, query=query, **({"key": key} if key else {})
    )
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"] or "null")


def workflow(stack, name="w", org="acme", key=None):
    status, body = call(stack, "POST", "/workflows", {**ONE_NODE, "name": name}, org=org, key=key)
    assert status == 201, body
    return body["data"]["id"]


def batch_of_runs(stack, workflow_id, count, org="acme", key=None):
    """``count`` queued runs (the stack executes nothing): their batch id."""
    body = {"workflow_id": workflow_id, "inputs": [{"n": i} for i in range(count)]}
    status, made = call(stack, "POST", "/batches", body, org=org, key=key)
    assert status == 202, made
    stack.drain("BatchesFunction")
    return made["data"]["id"]


def bulk(stack, body, key=None, org="acme"):
    status, made = call(stack, "POST", "/runs/bulk", body, key=key, org=org)
    assert status == 202, made
    assert made["data"]["status"] == "queued"
    return made["data"]["id"]


def job(stack, job_id, key=None, org="acme"):
    status, body = call(stack, "GET", f"/runs/bulk/{job_id}", key=key, org=org)
    assert status == 200, body
    return body["data"]


def statuses(stack, batch_id, count, org="acme", key=None):
    """Each run's status, from the run itself (not an index)."""
    found = {}
    for i in range(count):
        status, run = call(stack, "GET", f"/runs/{batch_run_id(batch_id, i)}", org=org, key=key)
        assert status == 200, run
        found[i] = run["data"]["status"]
    return found


def test_a_bulk_pause_pages_through_every_run_and_leaves_other_orgs_alone(stack):
    # Three full pages: the job ends on a page that fills up, with no empty page after it (a
    # short last page: test_a_page_delivered_twice_acts_once_and_counts_once).
    count = 3 * PAGE_SIZE
    mine = batch_of_runs(stack, workflow(stack), count)
    theirs_wf = workflow(stack, org="globex", key=OTHER_KEY)
    theirs = batch_of_runs(stack, theirs_wf, 20, org="globex", key=OTHER_KEY)
    # Runs that change between the request and their page: one finishing, one paused already.
    assert call(stack, "POST", f"/runs/{batch_run_id(mine, 7)}/cancel", {})[0] == 202
    assert call(stack, "POST", f"/runs/{batch_run_id(mine, 8)}/pause")[0] == 200

    job_id = bulk(stack, {"action": "pause", "filter": {"batch_id": mine}, "reason": "incident"})
    # Every org's batch ids are unique, but the filter is the org's own index all the same.
    assert stack.drain("BulkFunction") == count // PAGE_SIZE

    done = job(stack, job_id)
    assert done["status"] == "succeeded"
    assert (done["matched"], done["done"], done["skipped"], done["failed"]) == (
        count,
        count - 2,
        2,
        0,
    )
    assert done["skip_reasons"] == {"finishing": 1, "already_paused": 1}
    assert done["pages"] == count // PAGE_SIZE and done["finished_at"] is not None
    assert done["filter"] == {"batch_id": mine, "tag": []} | {
        k: None
        for k in ("status", "workflow_id", "parent_run_id", "created_after", "created_before")
    }
    # The counters moved with each pause: the batch's and the org's counts are exact.
    status, counted = call(stack, "GET", f"/batches/{mine}")
    assert counted["data"]["counts"]["paused"] == count - 1  # the job's + the one paused first
    assert counted["data"]["counts"]["queued"] == 1  # finishing: its cancel wins
    status, page = call(stack, "GET", "/runs", query="status=paused&limit=1")
    assert status == 200 and page["total"] == count - 1
    assert statuses(stack, mine, 10)[7] == "queued"
    # Another org's runs: untouched, and its key cannot see the job.
    assert set(statuses(stack, theirs, 20, org="globex", key=OTHER_KEY).values()) == {"queued"}
    assert call(stack, "GET", f"/runs/bulk/{job_id}", org="globex", key=OTHER_KEY)[0] == 404

    # The paused run's history says who paused it, and why.
    status, events = call(stack, "GET", f"/runs/{batch_run_id(mine, 0)}/history")
    [paused] = [e for e in events["data"] if e["event_type"] == "RUN_PAUSED"]
    assert paused["by"] == "key:local" and paused["reason"] == "incident"


def test_a_page_delivered_twice_acts_once_and_counts_once(stack, monkeypatch):
    mine = batch_of_runs(stack, workflow(stack), 2 * PAGE_SIZE + 10)
    job_id = bulk(stack, {"action": "cancel", "filter": {"batch_id": mine}})
    worker = components.bulk_worker()
    first = {"kind": "page", "org_id": "acme", "job_id": job_id, "page": 0, "after": None}

    # The first delivery acts on its runs, then dies before counting the page.
    calls = []
    real_count = worker.jobs.count_page

    def dies_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise ConnectionError("lost")
        return real_count(*args, **kwargs)

    monkeypatch.setattr(worker.jobs, "count_page", dies_once)
    with pytest.raises(ConnectionError):
        worker.process(first)
    assert job(stack, job_id)["done"] == 0
    cancels = []
    real_cancel = worker.actions.table["cancel"]
    worker.actions.table["cancel"] = lambda *a: cancels.append(a) or real_cancel(*a)
    # Delivered again (the queue's own copy, then a stray duplicate): each run once.
    worker.process(first)
    worker.process(first)
    assert cancels == []  # every run of page 0 has its marker: none is cancelled again
    assert job(stack, job_id)["done"] == PAGE_SIZE
    stack.drain("BulkFunction")  # the original message of page 0, then pages 1 and 2
    worker.process({**first, "page": 1, "after": batch_run_id(mine, PAGE_SIZE + 10)})
    done = job(stack, job_id)
    assert (done["status"], done["matched"], done["done"], done["skipped"]) == (
        "succeeded",
        2 * PAGE_SIZE + 10,
        2 * PAGE_SIZE + 10,
        0,
    )
    assert len(cancels) == PAGE_SIZE + 10  # pages 1 and 2: each of their runs once


def test_bulk_resume_starts_what_the_pause_held(stack):
    mine = batch_of_runs(stack, workflow(stack), 12)
    pause_job = bulk(stack, {"action": "pause", "filter": {"batch_id": mine}})
    stack.drain("BulkFunction")
    assert job(stack, pause_job)["done"] == 12
    # One run is cancelled in between (finishing: its finalisation is queued), one resumed by
    # hand (its one node then runs, and the run ends): skipped, with their reasons.
    assert call(stack, "POST", f"/runs/{batch_run_id(mine, 0)}/cancel", {})[0] == 202
    assert call(stack, "POST", f"/runs/{batch_run_id(mine, 1)}/resume")[0] == 202
    resume_job = bulk(stack, {"action": "resume", "filter": {"batch_id": mine}})
    stack.drain("BulkFunction")  # run 1's release and the job's page
    done = job(stack, resume_job)
    assert (done["done"], done["skipped"], done["skip_reasons"]) == (
        10,
        2,
        {"ended": 1, "finishing": 1},
    )
    # Each resumed run's root (held since it was paused while queued) ran inline.
    status, node = call(stack, "GET", f"/runs/{batch_run_id(mine, 5)}/nodes/a")
    assert status == 200 and node["data"]["status"] == "succeeded"
    assert node["data"]["output"] == {"n": 5}


def test_a_workflow_limited_key_acts_only_on_its_workflows_runs(stack):
    mine, theirs = workflow(stack, "mine"), workflow(stack, "theirs")
    status, made = call(
        stack, "POST", "/keys", {"name": "ci", "scopes": ["write"], "workflows": [mine]}
    )
    assert status == 201, made
    limited = made["data"]["key"]
    my_batch, their_batch = batch_of_runs(stack, mine, 5), batch_of_runs(stack, theirs, 5)
    # Their workflow named: 403; none named: the key's one workflow.
    body = {"action": "pause", "filter": {"workflow_id": theirs}}
    assert call(stack, "POST", "/runs/bulk", body, key=limited)[0] == 403
    job_id = bulk(stack, {"action": "pause"}, key=limited)
    stack.drain("BulkFunction")
    assert job(stack, job_id, key=limited)["done"] == 5
    assert set(statuses(stack, my_batch, 5).values()) == {"paused"}
    assert set(statuses(stack, their_batch, 5).values()) == {"queued"}
    # A job over every workflow is not the limited key's to read.
    other_job = bulk(stack, {"action": "pause", "filter": {"workflow_id": theirs}})
    assert call(stack, "GET", f"/runs/bulk/{other_job}", key=limited)[0] == 404


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"action": "explode"}, ["body", "action"]),
        ({"action": "pause", "filter": {"tag": ["no-equals"]}}, ["body", "filter", "tag"]),
        ({"action": "pause", "filter": {"status": "sleeping"}}, ["body", "filter", "status"]),
        ({"action": "pause", "filter": {"colour": "red"}}, ["body", "filter", "colour"]),
        ({"action": "pause", "reason": "x" * 1001}, ["body", "reason"]),
    ],
    ids=["unknown action", "bad tag", "bad status", "unknown filter", "long reason"],
)
def test_bad_requests_are_422_naming_the_field_and_queue_nothing(stack, body, loc):
    status, answer = call(stack, "POST", "/runs/bulk", body)
    assert status == 422, answer
    assert answer["detail"][0]["loc"] == loc
    assert stack.drain("BulkFunction") == 0


def test_a_read_key_cannot_start_a_job_and_an_unknown_job_is_404(stack):
    status, made = call(stack, "POST", "/keys", {"name": "ro", "scopes": ["read"]})
    assert status == 201
    body = {"action": "cancel"}
    assert call(stack, "POST", "/runs/bulk", body, key=made["data"]["key"])[0] == 403
    assert call(stack, "GET", "/runs/bulk/bulk_nope")[0] == 404


def test_a_page_that_keeps_failing_fails_the_job_instead_of_hanging(stack, monkeypatch):
    mine = batch_of_runs(stack, workflow(stack), 3)
    job_id = bulk(stack, {"action": "pause", "filter": {"batch_id": mine}})
    worker = components.bulk_worker()
    monkeypatch.setattr(worker.jobs, "markers", lambda *a: (_ for _ in ()).throw(OSError("x")))
    page = {"kind": "page", "org_id": "acme", "job_id": job_id, "page": 0, "after": None}
    with pytest.raises(OSError):
        worker.process(page, receive_count=1)
    assert job(stack, job_id)["status"] == "queued"
    worker.process(page, receive_count=5)  # the last delivery before the DLQ
    failed = job(stack, job_id)
    assert failed["status"] == "failed" and "OSError" in failed["error"]


def test_a_bulk_redrive_redrives_the_failed_runs_and_skips_the_rest_with_their_status(stack):
    """The redrive action goes through redrive_run: each failed run is queued again in a new
    execution of its own (a second job over the same runs redrives none twice), and a run that
    succeeded is skipped, named by its status."""
    failing = {
        "name": "fails on a string",
        "nodes": [{"ref": "a", "kind": "transform", "args": {"v": "{{ abs(input.n) }}"}}],
    }
    status, made = call(stack, "POST", "/workflows", failing)
    assert status == 201, made
    inputs = [{"n": 1}] + [{"n": "x"}] * 4
    status, batch = call(
        stack, "POST", "/batches", {"workflow_id": made["data"]["id"], "inputs": inputs}
    )
    assert status == 202, batch
    stack.drain("BatchesFunction")
    batch_id = batch["data"]["id"]
    for i in range(5):
        run_id = batch_run_id(batch_id, i)
        deliver(stack, "start", run_id)  # the transform runs inline and the run finishes
    assert statuses(stack, batch_id, 5) == {
        0: "succeeded",
        1: "failed",
        2: "failed",
        3: "failed",
        4: "failed",
    }

    first = bulk(stack, {"action": "redrive", "filter": {"batch_id": batch_id}, "reason": "fixed"})
    stack.drain("BulkFunction")
    done = job(stack, first)
    assert (done["status"], done["done"], done["skipped"], done["failed"]) == ("succeeded", 4, 1, 0)
    assert done["skip_reasons"] == {"succeeded": 1}
    for i in range(1, 5):
        status, run = call(stack, "GET", f"/runs/{batch_run_id(batch_id, i)}")
        assert status == 200, run
        assert run["data"]["status"] == "queued" and run["data"]["redrive_count"] == 1
        status, history = call(stack, "GET", f"/runs/{batch_run_id(batch_id, i)}/history")
        redriven = [e for e in history["data"] if e["event_type"] == "RUN_REDRIVEN"]
        assert [e["reason"] for e in redriven] == ["fixed"]

    # The batch's counts moved with each redrive: the four failed runs are queued again.
    status, counted = call(stack, "GET", f"/batches/{batch_id}")
    assert status == 200, counted
    counts = {k: v for k, v in counted["data"]["counts"].items() if v}
    assert counts == {"queued": 4, "succeeded": 1}

    again = bulk(stack, {"action": "redrive", "filter": {"batch_id": batch_id}})
    stack.drain("BulkFunction")
    done = job(stack, again)
    assert (done["done"], done["skipped"]) == (0, 5)
    assert done["skip_reasons"] == {"succeeded": 1, "queued": 4}
    status, run = call(stack, "GET", f"/runs/{batch_run_id(batch_id, 1)}")
    assert run["data"]["redrive_count"] == 1
