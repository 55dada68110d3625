"""A run's finish reads what it needs and nothing twice: the run once (none when the caller passes
the run it has just read), its nodes once, and nothing after its move to the end (the finished
run is the run as read with what the move set). A spy on the DynamoDB client sees every call, so
a read added back shows here; the record the finish builds must equal the stored run, and a step
that lost the move to another still reads the run as the other ended it."""

import json

import pytest

from stepwise import components
from stepwise.core.statuses import RunStatus
from stepwise.engine.failure_handlers import handler_run_id
from stepwise.infra import aws
from stepwise.runs import lifecycle_events
from tests.helpers import http_event, run_message
from tests.integration.engine.test_failure_handlers import failing, run_to_end, save, start
from tests.integration.engine.test_run_event_claim import start_running

ORG = "acme"


@pytest.fixture
def calls():
    """Every DynamoDB call as (operation, sort key of its Key or None, its run id or None)."""
    seen: list[tuple[str, str | None, str | None]] = []

    def spy(model, params, **_):
        body = json.loads(params["body"] or "{}")
        key = body.get("Key") or {}
        pk = key.get("PK", {}).get("S") or (
            body.get("ExpressionAttributeValues", {}).get(":pk", {}).get("S")
        )
        run_id = pk.split("#RUN#", 1)[1] if pk and "#RUN#" in pk else None
        seen.append((model.name, key.get("SK", {}).get("S"), run_id))

    events = aws.client("dynamodb").meta.events
    events.register("before-call.dynamodb", spy)
    yield seen
    events.unregister("before-call.dynamodb", spy)


def after_move(seen):
    """The calls after the finish's TransactWriteItems (its move to the end)."""
    moves = [i for i, call in enumerate(seen) if call[0] == "TransactWriteItems"]
    assert moves, seen
    return seen[moves[-1] + 1 :]


def stored_detail(run_id):
    return lifecycle_events.detail(components.store().runs.get_run(ORG, run_id))


def test_a_finish_reads_the_run_and_its_nodes_once_and_nothing_after_its_move(
    stack, calls, published
):
    run_id = start_running(stack)
    calls.clear()
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "settled"})
    run_reads = [c for c in calls if c[0] in ("GetItem", "Query") and c[2] == run_id]
    assert run_reads == [("GetItem", "RUN", run_id), ("Query", None, run_id)]
    # After the move: only the event marked out (UpdateItem), no read.
    assert [c[0] for c in after_move(calls)] == ["UpdateItem"]
    # The finished run it published from is the run as stored (its node never ran).
    assert published == [stored_detail(run_id)]
    assert published[0]["status"] == "failed" and published[0]["error"]["type"] == "Incomplete"
    assert published[0]["duration_seconds"] >= 0


def test_a_finalize_message_reads_the_run_once(stack, calls, published):
    run_id = start_running(stack)
    calls.clear()
    stack.invoke("EngineFunction", run_message("finalize", ORG, run_id))
    assert [c for c in calls if c[0] == "GetItem" and c[2] == run_id] == [
        ("GetItem", "RUN", run_id)
    ]
    assert components.store().runs.get_run(ORG, run_id).status == RunStatus.FAILED
    assert published == [stored_detail(run_id)]


def test_a_deadline_message_after_the_finish_reads_the_run_once(stack, calls, published):
    run_id = start_running(stack)
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "settled"})
    calls.clear()
    due = "2026-01-01T00:00:00+00:00"  # past: an open run would time out
    stack.invoke("EngineFunction", run_message("deadline", ORG, run_id, due_at=due))
    assert calls == [("GetItem", "RUN", run_id)]
    assert components.store().runs.get_run(ORG, run_id).status == RunStatus.FAILED


def test_a_deadline_message_that_times_the_run_out_reads_the_run_once(stack, calls, published):
    run_id = start_running(stack)
    calls.clear()
    due = "2026-01-01T00:00:00+00:00"
    stack.invoke("EngineFunction", run_message("deadline", ORG, run_id, due_at=due))
    assert [c for c in calls if c[0] == "GetItem" and c[2] == run_id] == [
        ("GetItem", "RUN", run_id)
    ]
    assert [c[0] for c in after_move(calls)] == ["UpdateItem"]
    assert published == [stored_detail(run_id)]
    assert published[0]["status"] == "timed_out"
    assert published[0]["error"]["type"] == "RunTimedOut"


def test_a_failed_run_starts_its_handler_from_the_nodes_its_finish_read(stack, calls, resumed):
    handler = save(stack, {"name": "h", "nodes": [{"ref": "a", "kind": "transform"}]})["id"]
    workflow = save(stack, failing(handler))
    run_id = start(stack, workflow["id"], {"n": "three"})
    calls.clear()
    assert run_to_end(stack, run_id) == {"status": "failed"}
    assert [c for c in calls if c[0] == "Query" and c[2] == run_id] == [("Query", None, run_id)]
    handler_id = handler_run_id(run_id, 1)
    started = components.store().runs.get_run(ORG, handler_id)
    failed_nodes = components.store().payloads.read(started.input)["run"]["failed_nodes"]
    assert [n["ref"] for n in failed_nodes] == ["boom"]
    assert components.store().runs.get_run(ORG, run_id).handler_run_ids == (handler_id,)


def test_a_step_that_lost_the_move_reads_the_run_as_the_other_ended_it(
    stack, calls, published, monkeypatch
):
    """Two steps finish the run at once: the other moves it first (timed out); this one's move
    fails, and it reads the run instead of building it, so it announces the run as it ended."""
    run_id = start_running(stack)
    state = components.store().run_state
    finish = state.finish_run

    def beaten(org_id, run_id, status, output, error, claim_event=False):
        timed_out = {"type": "RunTimedOut", "message": "late"}
        assert finish(org_id, run_id, RunStatus.TIMED_OUT, None, timed_out)  # the other step
        return finish(org_id, run_id, status, output, error, claim_event)

    monkeypatch.setattr(state, "finish_run", beaten)
    calls.clear()
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "settled"})
    assert ("GetItem", "RUN", run_id) in after_move(calls)
    assert published == [stored_detail(run_id)]
    assert published[0]["status"] == "timed_out"


def test_finish_run_says_what_it_set_or_none_when_it_did_not_move(stack):
    response = stack.invoke(
        "ApiFunction",
        http_event(
            "POST",
            "/v1/orgs/acme/workflows",
            {"name": "w", "nodes": [{"ref": "a", "kind": "transform"}]},
        ),
    )
    workflow_id = json.loads(response["body"])["data"]["id"]
    event = http_event("POST", "/v1/orgs/acme/runs", {"workflow_id": workflow_id})
    run_id = json.loads(stack.invoke("ApiFunction", event)["body"])["data"]["id"]
    store = components.store()
    fields = store.run_state.finish_run(ORG, run_id, RunStatus.SUCCEEDED, {"ok": 1}, None)
    stored = store.runs.get_run(ORG, run_id)
    assert fields == {
        "status": stored.status,
        "finished_at": stored.finished_at,
        "output": stored.output,
    }
    assert store.payloads.read(fields["output"]) == {"ok": 1}
    failure = {"type": "Boom", "message": "no"}
    assert store.run_state.finish_run(ORG, run_id, RunStatus.FAILED, None, failure) is None


def test_a_run_that_ends_in_its_start_step_reads_its_run_item_three_times(stack, calls, published):
    """The message's generation check, once when it is marked started (its inline nodes then
    move it on from that read), once with its nodes when it finishes; the settle request's
    write answers with the run."""
    body = {"name": "w", "nodes": [{"ref": "a", "kind": "transform", "args": {"x": 1}}]}
    workflow = stack.invoke("ApiFunction", http_event("POST", f"/v1/orgs/{ORG}/workflows", body))
    workflow_id = json.loads(workflow["body"])["data"]["id"]
    event = http_event("POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow_id})
    run_id = json.loads(stack.invoke("ApiFunction", event)["body"])["data"]["id"]
    calls.clear()
    stack.invoke("EngineFunction", run_message("start", ORG, run_id))
    assert components.store().runs.get_run(ORG, run_id).status == RunStatus.SUCCEEDED
    run_reads = [c for c in calls if c[0] == "GetItem" and c[1] == "RUN" and c[2] == run_id]
    assert len(run_reads) == 3, calls
