"""Run totals on sharded counters: every write moves one shard of the org's totals (and one of
its batch's counts), concurrent runs leave exact totals across the shards, and the single items
of releases before sharding are still counted after an upgrade."""

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from stepwise import components
from stepwise.core.ids import batch_run_id, new_id
from stepwise.core.statuses import RunStatus
from stepwise.infra import dynamo, keys
from stepwise.runs import counters
from tests.helpers import http_event

ORG = "acme"
BASE = f"/v1/orgs/{ORG}"

ONE_NODE = {"name": "w", "nodes": [{"ref": "a", "kind": "transform", "args": "{{ input }}"}]}


def table():
    return components.store().table


def call(stack, method, path, body=None, query=""):
    response = stack.invoke("ApiFunction", http_event(method, f"{BASE}{path}", body, query=query))
    return response["statusCode"], json.loads(response["body"] or "null")


@pytest.fixture
def workflow(stack):
    status, body = call(stack, "POST", "/workflows", ONE_NODE)
    assert status == 201, body
    return components.store().workflows.get_workflow(ORG, body["data"]["id"])


def new_batch(total):
    """A batch item (no chunks: the runs are created here, not by the batches function)."""
    batch_id = new_id("bat")
    components.batches().batch_store.create(
        ORG,
        batch_id,
        {
            "org_id": ORG,
            "batch_id": batch_id,
            "workflow_id": "wf_x",
            "workflow_version": 1,
            "status": "starting",
            "total": total,
            "chunks": 0,
            "created_at": "2026-12-01T00:00:00+00:00",
        },
        [],
    )
    return batch_id


def life(workflow, run_id, ends):
    """A run created, started and settled, as the engine moves it."""
    store = components.store()
    store.runs.create_run(ORG, run_id, workflow, {"n": run_id})
    assert store.run_state.mark_started(ORG, run_id) is not None
    assert store.run_state.finish_run(ORG, run_id, ends, {"ok": True}, None)


def test_concurrent_runs_leave_exact_totals_over_many_shards(stack, workflow):
    batch_id = new_batch(total=48)
    plain = [new_id("run") for _ in range(48)]
    batched = [batch_run_id(batch_id, i) for i in range(48)]
    ends = {
        run_id: (RunStatus.SUCCEEDED if n % 3 else RunStatus.FAILED)
        for n, run_id in enumerate(plain + batched)
    }
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda r: life(workflow, r, ends[r]), plain + batched))

    totals = components.store().runs.run_counts(ORG)
    ended = Counter(str(s) for s in ends.values())
    assert totals == {
        keys.ALL_RUNS: 96,
        keys.workflow_counter(workflow.id): 96,
        keys.status_counter("queued"): 0,
        keys.status_counter("running"): 0,
        keys.status_counter("succeeded"): ended["succeeded"],
        keys.status_counter("failed"): ended["failed"],
    }
    # The writes really spread: many shard items, none holding every run.
    used = {counters.shard_of(r) for r in plain + batched}
    shards = dynamo.batch_get(
        table(), [keys.run_counts_shard(ORG, s) for s in range(counters.SHARDS)]
    )
    assert len(shards) == len(used) >= 20
    assert max(int(s[keys.ALL_RUNS]) for s in shards) < 96
    assert dynamo.get_item(table(), keys.run_counts(ORG)) is None  # never written now

    status, body = call(stack, "GET", f"/batches/{batch_id}")
    assert status == 200, body
    batch_ended = Counter(str(ends[r]) for r in batched)
    assert body["data"]["runs"] == 48
    assert body["data"]["counts"] == {
        "queued": 0,
        "running": 0,
        "paused": 0,
        "succeeded": batch_ended["succeeded"],
        "failed": batch_ended["failed"],
        "cancelled": 0,
        "timed_out": 0,
    }
    assert body["data"]["settled"] is True
    status, body = call(stack, "GET", "/runs", query="status=failed&limit=1")
    assert body["total"] == ended["failed"]
    status, body = call(stack, "GET", "/runs", query=f"batch_id={batch_id}&limit=1")
    assert body["total"] == 48


def test_every_counted_write_moves_one_shard_of_the_org_and_one_of_the_batch(
    stack, workflow, monkeypatch
):
    batch_id = new_batch(total=3)
    sent = []
    original = dynamo.write_all

    def recording(items):
        sent.append(items)
        return original(items)

    monkeypatch.setattr(dynamo, "write_all", recording)
    runs = [new_id("run"), new_id("run"), batch_run_id(batch_id, 0), batch_run_id(batch_id, 1)]
    for run_id in runs:
        life(workflow, run_id, RunStatus.SUCCEEDED)

    counted = 0
    for items in sent:
        updated = [dynamo.from_item(i["Update"]["Key"]) for i in items if "Update" in i]
        put = [keys.key_of(dynamo.from_item(i["Put"]["Item"])) for i in items if "Put" in i]
        run_keys = [k for k in updated + put if k["SK"] == keys.RUN_SK]
        if not run_keys:
            continue
        counted += 1
        (run,) = run_keys
        run_id = run["PK"].rsplit("#", 1)[1]
        shard = counters.shard_of(run_id)
        org_shards = [k for k in updated if "RUNCOUNTS" in k["PK"]]
        assert org_shards == [keys.run_counts_shard(ORG, shard)]
        batch_shards = [k for k in updated if k["SK"] == "COUNTS"]
        if run_id.startswith(f"run_{batch_id.removeprefix('bat_')}"):
            assert batch_shards == [keys.batch_counts_shard(ORG, batch_id, shard)]
        else:
            assert batch_shards == []
        assert keys.run_counts(ORG) not in updated  # the legacy item is never written
        assert keys.batch(ORG, batch_id) not in updated
    assert counted == len(runs) * 3  # created, running, succeeded


def test_totals_of_a_release_before_sharding_are_still_counted(stack, workflow):
    """An upgraded stack keeps the org's single RUNCOUNTS item and a batch item with its counts:
    reads add them to the shards, so no count is lost, and a run counted there can settle."""
    old_run = new_id("run")
    components.store().runs.create_run(ORG, old_run, workflow, {})
    batch_id = new_batch(total=3)
    old_batch_run = batch_run_id(batch_id, 0)
    components.store().runs.create_run(ORG, old_batch_run, workflow, {})
    # What the earlier release left: every count on the single items (and no shard).
    for key in (
        *(keys.run_counts_shard(ORG, s) for s in range(counters.SHARDS)),
        *(keys.batch_counts_shard(ORG, batch_id, s) for s in range(counters.SHARDS)),
    ):
        boto3.client("dynamodb").delete_item(TableName=table(), Key=dynamo.to_item(key))
    queued, wf = keys.status_counter("queued"), keys.workflow_counter(workflow.id)
    dynamo.put_all(
        table(),
        [{**keys.run_counts(ORG), keys.ALL_RUNS: 7, queued: 2, "status:succeeded": 5, wf: 7}],
    )
    dynamo.update_item(
        table(),
        keys.batch(ORG, batch_id),
        "SET #runs = :one, #queued = :one",
        {":one": 1},
        names={"#runs": keys.BATCH_RUNS, "#queued": queued},
    )

    # The new release creates one more batch run, and settles the old runs and the new one.
    new_batch_run = batch_run_id(batch_id, 1)
    components.store().runs.create_run(ORG, new_batch_run, workflow, {})
    for run_id in (old_run, old_batch_run, new_batch_run):
        assert components.store().run_state.mark_started(ORG, run_id) is not None
        assert components.store().run_state.finish_run(ORG, run_id, RunStatus.SUCCEEDED, 1, None)

    assert components.store().runs.run_counts(ORG) == {
        keys.ALL_RUNS: 8,
        wf: 8,
        queued: 0,
        keys.status_counter("running"): 0,
        "status:succeeded": 8,
    }
    status, body = call(stack, "GET", f"/batches/{batch_id}")
    assert status == 200, body
    assert (body["data"]["runs"], body["data"]["counts"]["succeeded"]) == (2, 2)
    assert body["data"]["counts"]["queued"] == 0
    status, body = call(stack, "GET", "/runs", query="status=succeeded&limit=1")
    assert body["total"] == 8
    status, body = call(stack, "GET", "/runs", query=f"batch_id={batch_id}&limit=1")
    assert body["total"] == 2
