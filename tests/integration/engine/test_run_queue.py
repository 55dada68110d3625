"""RunQueue: a run's start, its deadline and its finalisation are messages the engine consumes
(a run has no execution of its own). Driven message by message on moto, with the clock the
deadline reads set by hand."""

import json
import os
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from stepwise import components
from stepwise.core.clock import iso
from stepwise.core.statuses import RunStatus
from stepwise.engine import run_steps
from stepwise.infra import queues
from stepwise.runs import run_queue
from tests.conftest import OTHER_KEY
from tests.helpers import deliver, http_event, queued_run_messages, run_message

ORG = "acme"
WAITS = {"name": "waits", "nodes": [{"ref": "w", "kind": "wait", "start_delay": 30}]}


def api(stack, method, path, body=None, key=None):
    event = http_event(method, path, body) if key is None else http_event(method, path, body, key)
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"] or "null")


def start_run(stack, body, timeout=None):
    body = {**body, **({"timeout": timeout} if timeout else {})}
    status, workflow = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", body)
    assert status == 201, workflow
    status, run = api(
        stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow["data"]["id"]}
    )
    assert status == 201, run
    return run["data"]["id"]


def run_of(run_id):
    return components.store().runs.get_run(ORG, run_id)


@pytest.fixture
def sent(monkeypatch):
    """Every RunQueue message sent, with its delay (and still sent)."""
    calls: list[tuple[dict, int]] = []
    real = queues.send_later

    def record(queue_url, message, delay_seconds=0):
        calls.append((message, delay_seconds))
        real(queue_url, message, delay_seconds)

    monkeypatch.setattr(queues, "send_later", record)
    return calls


@pytest.fixture
def clock(monkeypatch):
    """The time the run's steps read: the real one until the test sets ``clock[0]``."""
    moment: list[datetime | None] = [None]
    monkeypatch.setattr(run_steps, "now", lambda: moment[0] or datetime.now(UTC))
    return moment


def deadlines(sent):
    return [(m["due_at"], delay) for m, delay in sent if m["kind"] == "deadline"]


def test_creating_a_run_queues_its_start_and_nothing_runs_until_it_comes(stack):
    components.engine().advance.inline_limit = 0
    run_id = start_run(stack, WAITS)
    assert queued_run_messages() == [
        {"kind": "start", "org_id": ORG, "run_id": run_id, "generation": 0}
    ]
    assert run_of(run_id).status == RunStatus.QUEUED
    assert stack.drain("EngineFunction") == 1  # the deadline waits, delayed, in the queue
    assert run_of(run_id).status == RunStatus.RUNNING
    assert components.store().runs.get_node(ORG, run_id, "w").status == "scheduled"


def test_a_start_delivered_twice_starts_the_roots_once(stack, monkeypatch):
    from stepwise.infra import executions

    components.engine().advance.inline_limit = 0
    started = []
    real = executions.start_node
    monkeypatch.setattr(executions, "start_node", lambda *a: started.append(a[3]) or real(*a))
    run_id = start_run(stack, WAITS)
    deliver(stack, "start", run_id)
    first = run_of(run_id)
    deliver(stack, "start", run_id)
    assert started == ["w"] * 2  # the node was scheduled once; its start is re-sent, by name
    node = components.store().runs.get_node(ORG, run_id, "w")
    assert node.status == "scheduled" and node.attempt == 0
    assert run_of(run_id).started_at == first.started_at
    names = [e["name"] for e in stack.executions("NodeStateMachine")]
    assert names == [executions.node_execution_name(run_id, "w")]


def test_the_deadline_is_queued_at_start_with_sqs_longest_delay_at_most(stack, sent, clock):
    components.engine().advance.inline_limit = 0
    run_id = start_run(stack, WAITS, timeout=3600)
    deliver(stack, "start", run_id)
    started = datetime.fromisoformat(run_of(run_id).started_at)
    due = iso(started + timedelta(seconds=3600))
    [(due_at, delay)] = deadlines(sent)
    assert datetime.fromisoformat(due_at) == datetime.fromisoformat(due)
    assert delay == 900  # SQS delays a message 900 s at most


def test_a_deadline_still_ahead_is_queued_again_for_the_rest(stack, sent, clock):
    components.engine().advance.inline_limit = 0
    run_id = start_run(stack, WAITS, timeout=3600)
    deliver(stack, "start", run_id)
    [(due_at, _)] = deadlines(sent)
    due = datetime.fromisoformat(due_at)
    sent.clear()
    clock[0] = due - timedelta(seconds=2000)
    deliver(stack, "deadline", run_id, due_at=due_at)
    clock[0] = due - timedelta(seconds=300)
    deliver(stack, "deadline", run_id, due_at=due_at)
    assert deadlines(sent) == [(due_at, 900), (due_at, 300)]
    assert run_of(run_id).status == RunStatus.RUNNING


def test_a_deadline_that_is_due_times_the_run_out_and_stops_its_nodes(stack, sent, clock):
    components.engine().advance.inline_limit = 0
    run_id = start_run(stack, WAITS, timeout=2)
    deliver(stack, "start", run_id)
    [(due_at, delay)] = deadlines(sent)
    assert delay == 2
    clock[0] = datetime.fromisoformat(due_at) + timedelta(milliseconds=1)
    deliver(stack, "deadline", run_id, due_at=due_at)
    run = run_of(run_id)
    assert run.status == RunStatus.TIMED_OUT
    assert run.error == {"type": "RunTimedOut", "message": "the run did not finish within 2 s"}
    assert components.store().runs.get_node(ORG, run_id, "w").status == "cancelled"
    arn = stack.stack.names["NodeStateMachine"].replace(":stateMachine:", ":execution:")
    from stepwise.infra import executions

    name = executions.node_execution_name(run_id, "w")
    described = boto3.client("stepfunctions").describe_execution(executionArn=f"{arn}:{name}")
    assert described["status"] == "ABORTED"
    # Delivered again: the run has ended, the message is dropped.
    sent.clear()
    deliver(stack, "deadline", run_id, due_at=due_at)
    assert run_of(run_id) == run and sent == []


def test_a_paused_run_times_out_too(stack, sent, clock):
    components.engine().advance.inline_limit = 0
    run_id = start_run(stack, WAITS, timeout=2)
    deliver(stack, "start", run_id)
    status, _ = api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/pause", {})
    assert status == 200 and run_of(run_id).status == RunStatus.PAUSED
    [(due_at, _)] = deadlines(sent)
    clock[0] = datetime.fromisoformat(due_at) + timedelta(seconds=1)
    deliver(stack, "deadline", run_id, due_at=due_at)
    assert run_of(run_id).status == RunStatus.TIMED_OUT
    assert components.store().runs.run_counts(ORG).get("status:paused", 0) == 0


def test_a_deadline_of_an_earlier_generation_is_dropped(stack, sent, clock):
    """A redriven run's timeout counts from its redrive: the first generation's deadline, come
    late, does not time out the new one."""
    body = {"name": "fails", "nodes": [{"ref": "x", "kind": "transform", "args": "{{ abs('x') }}"}]}
    run_id = start_run(stack, body, timeout=60)
    deliver(stack, "start", run_id)
    assert run_of(run_id).status == RunStatus.FAILED
    [(due_at, _)] = deadlines(sent)
    status, answer = api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/redrive", {})
    assert status == 202, answer
    clock[0] = datetime.fromisoformat(due_at) + timedelta(seconds=1)
    old = run_message("deadline", ORG, run_id, 0, due_at=due_at)
    assert stack.invoke("EngineFunction", old) == {"batchItemFailures": []}
    assert run_of(run_id).status == RunStatus.QUEUED
    # The new generation's start is the one that counts.
    assert {"kind": "start", "org_id": ORG, "run_id": run_id, "generation": 1} in (
        queued_run_messages("start")
    )


def test_cancelling_a_running_run_queues_its_finalisation(stack):
    components.engine().advance.inline_limit = 0
    run_id = start_run(stack, WAITS)
    deliver(stack, "start", run_id)
    status, _ = api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/cancel", {})
    assert status == 202
    assert run_of(run_id).status == RunStatus.RUNNING  # the API stops no execution itself
    assert {"kind": "finalize", "org_id": ORG, "run_id": run_id, "generation": 0} in (
        queued_run_messages("finalize")
    )
    stack.drain("EngineFunction")
    assert run_of(run_id).status == RunStatus.CANCELLED
    assert components.store().runs.get_node(ORG, run_id, "w").status == "cancelled"
    # Another org's key cannot cancel it: 404, and nothing is queued for it.
    status, _ = api(stack, "POST", f"/v1/orgs/globex/runs/{run_id}/cancel", {}, key=OTHER_KEY)
    assert status == 404


def test_a_message_for_a_run_that_is_gone_or_unknown_changes_nothing(stack):
    answer = stack.invoke("EngineFunction", run_message("start", ORG, "run_missing"))
    assert answer == {"batchItemFailures": []}
    # A kind the engine does not know fails (the batch goes back, then to the DLQ).
    with pytest.raises(BatchProcessingError, match="unknown run message 'explode'"):
        stack.invoke("EngineFunction", run_message("explode", ORG, "run_missing"))


def test_a_start_that_sqs_refuses_fails_the_run_instead_of_leaving_it_queued(stack, monkeypatch):
    def refused(*args, **kwargs):
        raise queues.SendFailed("AWS.SimpleQueueService.NonExistentQueue: gone")

    monkeypatch.setattr(run_queue.queues, "send_later", refused)
    body = {"name": "one", "nodes": [{"ref": "x", "kind": "transform"}]}
    status, workflow = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", body)
    status, answer = api(
        stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow["data"]["id"]}
    )
    assert status == 503, answer
    [run] = api(stack, "GET", f"/v1/orgs/{ORG}/runs")[1]["data"]
    assert run["status"] == "failed" and run["error"]["type"] == "RunStartFailed"
    assert os.environ["RUN_QUEUE_URL"]  # the queue the template gave the API


def test_a_start_that_fails_once_is_tried_again_in_the_same_invocation(stack, monkeypatch):
    """A transient failure (here the first call) is retried after 1 s, as Step Functions'
    Retry did: given back to SQS, the message would wait out its six-minute visibility."""
    from stepwise.engine import engine as engine_module

    components.engine().advance.inline_limit = 0
    run_id = start_run(stack, WAITS)
    steps = components.engine().runs
    real, calls, slept = steps.start_run, [], []

    def fails_once(org_id, run_id_):
        calls.append(run_id_)
        if len(calls) == 1:
            raise RuntimeError("TransactionConflict")
        return real(org_id, run_id_)

    monkeypatch.setattr(steps, "start_run", fails_once)
    monkeypatch.setattr(engine_module.time, "sleep", slept.append)
    assert deliver(stack, "start", run_id) == {"batchItemFailures": []}
    assert calls == [run_id, run_id] and slept == [1]
    assert run_of(run_id).status == RunStatus.RUNNING


def test_a_start_that_keeps_failing_goes_back_to_the_queue(stack, monkeypatch):
    from stepwise.engine import engine as engine_module

    run_id = start_run(stack, WAITS)

    def fails(org_id, run_id_):
        raise RuntimeError("still broken")

    monkeypatch.setattr(components.engine().runs, "start_run", fails)
    monkeypatch.setattr(engine_module.time, "sleep", lambda seconds: None)
    with pytest.raises(BatchProcessingError, match="still broken"):
        deliver(stack, "start", run_id)
    assert run_of(run_id).status == RunStatus.QUEUED
