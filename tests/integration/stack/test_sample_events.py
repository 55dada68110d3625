"""Every file in events/ is valid input for its function (as `sam local invoke -e` would pass)."""

import json
from pathlib import Path

import pytest

from stepwise import components
from stepwise.engine.address import NodeAddress
from stepwise.infra import executions
from stepwise.workflows.models import WorkflowCreate
from tests.helpers import http_event

EVENTS = Path(__file__).resolve().parents[3] / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize("name", sorted(p.name for p in (EVENTS / "api").glob("*.json")))
def test_api_events_are_answered(stack, name):
    response = stack.invoke("ApiFunction", load(f"api/{name}"))
    assert response["statusCode"] in (200, 201), response["body"]


@pytest.fixture
def example_run(stack, monkeypatch):
    """The run the engine events name, with a one-node workflow, and recorded resumes."""
    resumed: list[tuple[str, str]] = []
    monkeypatch.setattr(executions, "resume_run", lambda t, r: resumed.append((t, r)) or True)
    components.engine().advance.inline_limit = 0  # the attempt event is a node execution's step
    event = json.loads(load("engine/run-start.json")["Records"][0]["body"])
    store = components.store()
    workflow = store.workflows.create_workflow(
        event["org_id"],
        "wf_01example",
        WorkflowCreate(name="one", nodes=[{"ref": "a", "kind": "transform", "args": {"x": 1}}]),
    )
    store.runs.create_run(event["org_id"], event["run_id"], workflow, {"from": "events"})
    return resumed


def test_engine_events_drive_a_run_to_success(stack, example_run):
    for name in ("run-start", "attempt", "run-finalize", "run-deadline"):
        answer = stack.invoke("EngineFunction", load(f"engine/{name}.json"))
        if name.startswith("run-"):
            assert answer == {"batchItemFailures": []}, name
    event = load("engine/attempt.json")
    run = components.store().runs.get_run(event["org_id"], event["run_id"])
    # The attempt finished the run; the late finalize and the deadline (due long ago) did not
    # change it.
    assert run.status == "succeeded"
    assert example_run == []


def test_the_deadline_event_times_out_a_run_still_open(stack, example_run):
    stack.invoke("EngineFunction", load("engine/run-start.json"))
    stack.invoke("EngineFunction", load("engine/run-deadline.json"))  # due at 2026-01-01
    event = load("engine/attempt.json")
    assert components.store().runs.get_run(event["org_id"], event["run_id"]).status == "timed_out"


def test_the_express_attempt_event_runs_the_node_in_its_express_execution(stack, example_run):
    """The step as NodeExpressStateMachine sends it: the node settles and, being the last,
    finishes the run there and then (no run token to resume)."""
    stack.invoke("EngineFunction", load("engine/run-start.json"))
    assert stack.invoke("EngineFunction", load("engine/attempt-express.json")) == {"next": "done"}
    event = load("engine/attempt-express.json")
    assert components.store().runs.get_node(event["org_id"], event["run_id"], "a").status == (
        "succeeded"
    )
    run = components.store().runs.get_run(event["org_id"], event["run_id"])
    assert run.status == "succeeded"
    assert example_run == []


def test_the_dispatcher_now_event_of_an_unknown_run_is_an_error_for_its_execution(stack):
    """Called by an Express execution: the error reaches its DeliverNow state (which records
    the crash), not a queue."""
    with pytest.raises(Exception, match="node 'call' not found"):
        stack.invoke("DispatcherFunction", load("dispatcher/deliver-now.json"))


def test_the_node_crashed_event_fails_the_node(stack, example_run):
    stack.invoke("EngineFunction", load("engine/run-start.json"))
    stack.invoke("EngineFunction", load("engine/node-crashed.json"))
    event = load("engine/node-crashed.json")
    node = components.store().runs.get_node(event["org_id"], event["run_id"], "a")
    assert node.status == "failed"
    assert node.error == {"type": "Lambda.Unknown", "message": "out of memory"}


def test_the_dispatcher_event_of_an_unknown_run_fails_its_batch(stack):
    """The delivery cannot be made (no such run): with every record failed, the invocation
    fails (Powertools' rule), so SQS brings the message back and, in the end, to the DLQ."""
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    with pytest.raises(BatchProcessingError, match="node 'call' not found"):
        stack.invoke("DispatcherFunction", load("dispatcher/delivery.json"))


def test_the_signals_event_resumes_the_waiting_task(stack, example_run):
    """A recorded signal for an attempt that waits: the event resumes its task."""
    event = load("signals/resume.json")
    message = json.loads(event["Records"][0]["body"])
    store = components.store()
    store.runs.create_run(
        message["org_id"],
        "run_01signals",
        store.workflows.create_workflow(
            message["org_id"],
            "wf_01signals",
            WorkflowCreate(name="s", nodes=[{"ref": "call", "kind": "approval"}]),
        ),
        None,
    )
    record = {**message, "run_id": "run_01signals"}
    event["Records"][0]["body"] = json.dumps(record)
    engine = components.engine()
    engine.runs.start_run(record["org_id"], record["run_id"])
    engine.nodes.attempt(NodeAddress(record["org_id"], record["run_id"], "call", 1))
    engine.approvals.await_review(
        NodeAddress(record["org_id"], record["run_id"], "call", 1), "node-token"
    )
    store.attempts.record_signal(record["org_id"], record["run_id"], "call", 1, {"kind": "review"})
    assert stack.invoke("SignalsFunction", event) == {"batchItemFailures": []}
    assert ("node-token", "signalled") in example_run
    # The sample itself names a run that does not exist: that is no failure either.
    assert stack.invoke("SignalsFunction", load("signals/resume.json")) == {"batchItemFailures": []}


def test_every_event_file_is_covered():
    covered = {
        "run-start",
        "run-deadline",
        "run-finalize",
        "attempt",
        "attempt-express",
        "node-crashed",
    }
    assert {p.stem for p in (EVENTS / "engine").glob("*.json")} == covered
    assert {p.parent.name for p in EVENTS.glob("*/*.json")} == {
        "api",
        "engine",
        "dispatcher",
        "signals",
        "trigger",
        "janitor",
        "batches",
        "bulk",
    }


def test_the_trigger_event_starts_the_schedules_run_once(stack):
    """The sample firing, for a schedule of that id: one run, however often it is delivered."""
    from stepwise.schedules.models import ScheduleCreate

    event = load("trigger/fire.json")
    store = components.store()
    workflow = store.workflows.create_workflow(
        event["org_id"],
        "wf_01trigger",
        WorkflowCreate(name="t", nodes=[{"ref": "a", "kind": "transform"}]),
    )
    body = ScheduleCreate(name="s", expression="rate(1 hour)", workflow_id=workflow.id)
    item = components.schedules().create(event["org_id"], body, "key:test")
    event["schedule_id"] = item["id"]  # schedule ids are generated; the rest is the sample's
    first = stack.invoke("TriggerFunction", event)
    assert first["outcome"] == "started"
    assert stack.invoke("TriggerFunction", event) == first
    run = store.runs.get_run(event["org_id"], first["run_id"])
    assert (run.role, run.scheduled_at) == ("schedule", event["scheduled_time"])


def test_the_janitor_event_sweeps(stack):
    answer = stack.invoke("JanitorFunction", load("janitor/sweep.json"))
    assert answer["complete"] is True and answer["settled"] == []
    assert answer["orgs"] >= 1  # the stack's org, listed when its key was made


def test_the_batches_event_starts_its_chunks_runs_once(stack):
    """The sample chunk, for a batch of that chunk: its runs start once, however often it is
    delivered; the sample itself names a batch that does not exist, which is dropped."""
    from stepwise.batches.models import BatchCreate
    from stepwise.core.ids import batch_run_id

    event = load("batches/chunk.json")
    message = json.loads(event["Records"][0]["body"])
    workflow = components.store().workflows.create_workflow(
        message["org_id"],
        "wf_01batches",
        WorkflowCreate(name="b", nodes=[{"ref": "a", "kind": "transform"}]),
    )
    body = BatchCreate(workflow_id=workflow.id, inputs=[{"n": 1}, {"n": 2}])
    batch = components.batches().create(message["org_id"], body, "key:test")
    assert stack.invoke("BatchesFunction", load("batches/chunk.json")) == {"batchItemFailures": []}
    event["Records"][0]["body"] = json.dumps({**message, "batch_id": batch["batch_id"]})
    for _ in range(2):
        assert stack.invoke("BatchesFunction", event) == {"batchItemFailures": []}
    started = components.batches().get(message["org_id"], batch["batch_id"])
    assert (started["status"], started["runs"], started["status:queued"]) == ("started", 2, 2)
    run = components.store().runs.get_run(message["org_id"], batch_run_id(batch["batch_id"], 1))
    assert (run.role, run.batch_id) == ("batch", batch["batch_id"])


def test_the_bulk_event_works_its_jobs_page_once(stack):
    """The sample page, for a job of that id: its runs are paused once, however often it is
    delivered; the sample itself names a job that does not exist, which is dropped."""
    from stepwise.bulk.models import BulkCreate

    event = load("bulk/page.json")
    message = json.loads(event["Records"][0]["body"])
    org_id = message["org_id"]
    workflow = components.store().workflows.create_workflow(
        org_id, "wf_01bulk", WorkflowCreate(name="b", nodes=[{"ref": "a", "kind": "transform"}])
    )
    run = components.store().runs.get_run  # the runs, as the job will see them
    started = [
        stack.invoke(
            "ApiFunction",
            http_event("POST", f"/v1/orgs/{org_id}/runs", {"workflow_id": workflow.id}),
        )
        for _ in range(3)
    ]
    ids = [json.loads(answer["body"])["data"]["id"] for answer in started]
    body = BulkCreate(action="pause", filter={"workflow_id": workflow.id})
    job = components.bulk().create(org_id, body, "key:test", None)
    assert stack.invoke("BulkFunction", load("bulk/page.json")) == {"batchItemFailures": []}
    event["Records"][0]["body"] = json.dumps({**message, "job_id": job["id"]})
    for _ in range(2):
        assert stack.invoke("BulkFunction", event) == {"batchItemFailures": []}
    done = components.bulk().get(org_id, job["id"])
    assert (done["status"], done["matched"], done["done"]) == ("succeeded", 3, 3)
    assert {run(org_id, run_id).status for run_id in ids} == {"paused"}
