"""An Express node's ack awaits its callback with no execution (engine/callbacks.py), step by
step on moto: the Express steps, the dispatcher's synchronous delivery, the API's signal route,
the signals function and RunQueue's ``callback_timeout`` timer, with the clock the timer reads
set by hand."""

import json
from datetime import timedelta

import pytest

from stepwise import components
from stepwise.actions import attempt_state, signals
from stepwise.core.clock import iso, now
from stepwise.engine import callbacks
from stepwise.engine.address import NodeAddress
from stepwise.infra import executions, queues
from stepwise.ops.janitor import Janitor
from stepwise_local.receiver import Answer
from tests.conftest import OTHER_KEY
from tests.helpers import deliver, http_event, run_message

ORG = "acme"
SIGNALING = {"enabled": True, "default": "ack"}
_STARTED: list[tuple[str, int]] = []  # the ``started`` fixture's list


def api(stack, method, path, body=None, key=None):
    event = http_event(method, path, body) if key is None else http_event(method, path, body, key)
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"] or "null")


def signal(stack, token, body, key=None):
    return api(stack, "POST", f"/v1/signals/{token}", body, key)


@pytest.fixture
def started(monkeypatch):
    """Every node execution started (Express, or a hand-off to Standard), instead of a start."""
    calls = _STARTED
    calls.clear()
    monkeypatch.setattr(
        executions,
        "start_express_node",
        lambda arn, org, run, ref, generation=0, attempt=1: calls.append(("express", attempt)),
    )
    monkeypatch.setattr(
        executions,
        "hand_off_node",
        lambda arn, org, run, ref, attempt, prepared, generation=0: calls.append(
            ("standard", attempt)
        ),
    )
    return calls


@pytest.fixture
def sent(monkeypatch):
    """Every callback timer queued on RunQueue, with its delay (and still sent)."""
    calls: list[tuple[dict, int]] = []
    real = queues.send_later

    def record(queue_url, message, delay_seconds=0):
        if message["kind"] == "callback_timeout":
            calls.append((message, delay_seconds))
        real(queue_url, message, delay_seconds)

    monkeypatch.setattr(queues, "send_later", record)
    return calls


@pytest.fixture
def clock(monkeypatch):
    """The time the callback timer and the attempt's heartbeats read: the real one moved on by
    ``clock[0]``."""
    ahead = [timedelta(0)]
    monkeypatch.setattr(callbacks, "now", lambda: now() + ahead[0])
    monkeypatch.setattr(attempt_state, "now", lambda: now() + ahead[0])
    return ahead


def awaiting_run(stack, receiver, path, retry=None, workflow_nodes=None):
    """A run whose action node (on Express: its destination has signaling) delivered attempt 1
    and got an ack; the run id and the signal token. (Its Express start, by the run's start,
    is not among ``started``.)"""
    destination = {"label": "d", "url": receiver.answer(path, Answer(202)), "signaling": SIGNALING}
    _, made = api(stack, "POST", f"/v1/orgs/{ORG}/destinations", destination)
    definition = {"name": "act", "destinations": [{"destination_id": made["data"]["id"]}]}
    assert api(stack, "POST", f"/v1/orgs/{ORG}/actions/definitions", definition)[0] == 201
    node = {"ref": "call", "kind": "action", "action": "act", **({"retry": retry} if retry else {})}
    body = {"name": "w", "nodes": [node, *(workflow_nodes or [])]}
    _, workflow = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", body)
    stored = components.store().workflows.get_workflow(ORG, workflow["data"]["id"])
    assert "call" in stored.express_nodes  # signaling no longer keeps a node on Standard
    _, run = api(stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow["data"]["id"]})
    run_id = run["data"]["id"]
    engine = components.engine()
    engine.runs.start_run(ORG, run_id)
    address = NodeAddress(ORG, run_id, "call", 1)
    assert engine.nodes.attempt(address, express=now())["next"] == "deliver"
    event = {"mode": "now", "org_id": ORG, "run_id": run_id, "node_ref": "call", "attempt": 1}
    assert stack.invoke("DispatcherFunction", event) == {"outcome": "ack"}
    # The Express execution's last step: no hand-off, the attempt awaits with no execution.
    assert engine.actions.action_settled(address, {}, now()) == {"next": "done"}
    [request] = receiver.at(path)
    token = json.loads(request.body)["data"]["signal_url"].rsplit("/", 1)[1]
    _STARTED.clear()
    return run_id, token


def node(run_id, ref="call"):
    return components.store().runs.get_node(ORG, run_id, ref)


def run_status(run_id):
    return components.store().runs.get_run(ORG, run_id).status


def timer(stack, run_id, attempt=1):
    return deliver(stack, "callback_timeout", run_id, node_ref="call", attempt=attempt)


def test_an_ack_awaits_with_no_execution_and_a_success_callback_settles_inline(
    stack, receiver, resumed, started, sent
):
    run_id, token = awaiting_run(stack, receiver, "/ok")
    tried = node(run_id).attempt_record(1)
    assert tried.awaiting_since and tried.status == "running" and tried.task_token is None
    # One timer, delayed until the attempt's deadline (the 10 s SLA and the 30 s margin).
    [(message, delay)] = sent
    assert message["node_ref"] == "call" and message["attempt"] == 1 and 38 <= delay <= 40

    status, body = signal(stack, token, {"signal": "success", "result": {"ticket": 7}})
    assert status == 202 and body["data"]["status"] == "accepted"
    assert stack.drain("SignalsFunction") == 1
    settled = node(run_id)
    assert settled.status == "succeeded"
    assert components.store().payloads.read(settled.output) == {"ticket": 7}
    assert run_status(run_id) == "succeeded"  # the run moved on (and ended) inline
    assert resumed == [] and started == []  # no task token, no execution

    # A duplicate is already settled; the timer, when it comes, changes nothing.
    status, body = signal(stack, token, {"signal": "success", "result": "again"})
    assert status == 200 and body["data"]["status"] == "already_settled"
    assert stack.drain("SignalsFunction") == 0
    timer(stack, run_id)
    assert node(run_id) == settled


def test_a_retryable_failure_starts_the_next_attempt_on_express_once(
    stack, receiver, resumed, started
):
    run_id, token = awaiting_run(stack, receiver, "/retry", {"max_attempts": 2})
    failure = {"signal": "failure", "error": {"type": "Busy"}, "retryable": True}
    assert signal(stack, token, failure)[0] == 202
    assert stack.drain("SignalsFunction") == 1
    first = node(run_id)
    assert first.status == "running" and first.attempt_record(1).status == "retry_scheduled"
    # The node's Express execution again, at the failed attempt: it waits out the backoff.
    assert started == [("express", 1)]
    # The same settle again (SignalQueue delivers at least once) starts nothing more.
    components.engine().callbacks.signalled(ORG, run_id, "call", 1)
    assert started == [("express", 1)] and node(run_id) == first
    # That execution's attempt step waits the backoff, then attempt 2 delivers.
    engine = components.engine()
    again = engine.nodes.attempt(NodeAddress(ORG, run_id, "call", 1), True, now())
    assert again["next"] == "again" and again["attempt"] == 2
    assert engine.nodes.attempt(NodeAddress(ORG, run_id, "call", 2), True, now())["next"] == (
        "deliver"
    )


def test_a_retry_whose_backoff_would_not_fit_goes_to_standard(
    stack, receiver, resumed, started, monkeypatch
):
    run_id, token = awaiting_run(stack, receiver, "/long", {"max_attempts": 2})
    # The Express execution that would start now ends too late for the backoff and attempt:
    # seen from an Express start 250 s ago, 250 + 1 + 40 > 270.
    monkeypatch.setattr(callbacks, "now", lambda: now() - timedelta(seconds=250))
    failure = {"signal": "failure", "error": {"type": "Busy"}, "retryable": True}
    assert signal(stack, token, failure)[0] == 202
    stack.drain("SignalsFunction")
    assert node(run_id).attempt_record(1).status == "retry_scheduled"
    assert started == [("standard", 1)]


def test_a_final_failure_fails_the_node_and_the_run(stack, receiver, resumed, started):
    run_id, token = awaiting_run(stack, receiver, "/fail", {"max_attempts": 3})
    assert signal(stack, token, {"signal": "failure", "error": "no such ticket"})[0] == 202
    stack.drain("SignalsFunction")
    failed = node(run_id)
    assert failed.status == "failed" and failed.error["message"] == "no such ticket"
    assert run_status(run_id) == "failed" and started == []


def test_a_heartbeat_moves_the_deadline_and_an_early_timer_waits_again(
    stack, receiver, resumed, started, sent, clock
):
    run_id, token = awaiting_run(stack, receiver, "/beat", {"timeout": 20})
    before = node(run_id).attempt_record(1)
    clock[0] = timedelta(seconds=15)
    # The heartbeat is recorded; nothing waits on a token, so nothing is queued for it.
    status, body = signal(stack, token, {"signal": "heartbeat"})
    assert status == 202 and body["data"]["signal"] == "heartbeat"
    assert stack.drain("SignalsFunction") == 0
    beat = node(run_id).attempt_record(1)
    assert beat.timeout_at > before.timeout_at and beat.heartbeats == 1
    # The first timer comes at the old deadline: the new one is ahead, it waits again.
    clock[0] = timedelta(seconds=21)
    timer(stack, run_id)
    assert node(run_id).status == "running" and node(run_id).attempt_record(1).timed_out_at is None
    (_, first), (again, delay) = sent
    assert first == 20 and again["attempt"] == 1 and 0 < delay <= 20
    # Past the moved deadline it times out.
    clock[0] = timedelta(seconds=41)
    timer(stack, run_id)
    assert node(run_id).status == "failed" and node(run_id).error["type"] == "Timeout"


def test_the_timeout_retries_then_fails_and_a_timer_delivered_twice_acts_once(
    stack, receiver, resumed, started, clock
):
    run_id, token = awaiting_run(stack, receiver, "/late", {"max_attempts": 2})
    clock[0] = timedelta(seconds=41)
    timer(stack, run_id)
    timer(stack, run_id)  # SQS delivers at least once
    retried = node(run_id)
    assert retried.attempt_record(1).status == "retry_scheduled"
    assert retried.attempt_record(1).error["type"] == "Timeout"
    assert started == [("express", 1)]
    # A callback after the timeout is late: 409, and it changes nothing.
    status, body = signal(stack, token, {"signal": "success", "result": "too late"})
    assert status == 409 and "timed out" in body["errors"][0]["message"]
    assert stack.drain("SignalsFunction") == 0
    assert node(run_id) == retried


def test_a_signal_racing_the_timer_wins_or_loses_whole(stack, receiver, resumed, started, clock):
    # The signal is recorded, its settle not yet consumed, when the overdue timer comes: the
    # timer finds the signal and settles with it; the settle that follows finds it settled.
    run_id, token = awaiting_run(stack, receiver, "/race")
    assert signal(stack, token, {"signal": "success", "result": "first"})[0] == 202
    clock[0] = timedelta(seconds=41)
    timer(stack, run_id)
    assert node(run_id).status == "succeeded"
    assert stack.drain("SignalsFunction") == 1
    assert (
        node(run_id).status == "succeeded" and node(run_id).attempt_record(1).timed_out_at is None
    )
    # The other way: the timer's timeout is recorded first, the signal is refused.
    other, token = awaiting_run(stack, receiver, "/race2")
    store = components.store().attempts
    assert store.mark_timed_out(ORG, other, "call", 1, iso(now())) is None  # not due yet
    assert store.mark_timed_out(ORG, other, "call", 1, iso(now() + timedelta(minutes=1)))
    assert signal(stack, token, {"signal": "success"})[0] == 409
    assert node(other).attempt_record(1).signal is None


def test_a_cancel_while_awaiting_wins_over_the_signal_and_the_timer(
    stack, receiver, resumed, started, clock
):
    run_id, token = awaiting_run(stack, receiver, "/cancel")
    assert api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/cancel", {})[0] == 202
    stack.drain("EngineFunction")  # the finalize the cancel queued (no execution to stop)
    assert run_status(run_id) == "cancelled" and node(run_id).status == "cancelled"
    status, body = signal(stack, token, {"signal": "success"})
    assert status == 409 and "cancelled" in body["errors"][0]["message"]
    clock[0] = timedelta(seconds=41)
    timer(stack, run_id)
    assert node(run_id).status == "cancelled" and started == []


def test_the_signal_url_is_the_capability_and_another_orgs_key_sees_nothing(
    stack, receiver, resumed, started
):
    run_id, token = awaiting_run(stack, receiver, "/orgs")
    # Another org's key reads none of the run (404) ...
    assert api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}", key=OTHER_KEY)[0] in (403, 404)
    assert api(stack, "GET", f"/v1/orgs/globex/runs/{run_id}", key=OTHER_KEY)[0] == 404
    # ... and a key, whosever, changes nothing on the signal route: the token decides.
    assert signal(stack, token, {"signal": "success"}, key=OTHER_KEY)[0] == 202
    stack.drain("SignalsFunction")
    assert node(run_id).status == "succeeded"


def test_an_express_execution_replayed_after_the_ack_queues_no_second_timer(
    stack, receiver, resumed, started, sent
):
    run_id, _ = awaiting_run(stack, receiver, "/replay")
    marked = node(run_id).attempt_record(1).awaiting_since
    engine = components.engine()
    address = NodeAddress(ORG, run_id, "call", 1)
    # The same execution started twice: its steps run again after the first one's.
    assert engine.nodes.attempt(address, True, now()) == {"next": "done"}
    assert engine.actions.action_settled(address, {}, now()) == {"next": "done"}
    assert len(sent) == 1 and node(run_id).attempt_record(1).awaiting_since == marked
    assert started == []


def test_the_janitor_judges_an_awaiting_node_by_its_deadline(
    stack, receiver, resumed, started, clock
):
    run_id, _ = awaiting_run(stack, receiver, "/janitor")
    janitor = Janitor(components.store(), components.engine())
    # Well past the node's start but within its deadline: not restarted, not described.
    soon = now() + timedelta(seconds=35) + janitor.grace
    assert janitor.examine(ORG, run_id, soon + timedelta(seconds=1)) is None
    assert node(run_id).status == "running" and started == []
    # Its timer was lost: past the deadline and the grace, the janitor times it out.
    clock[0] = timedelta(minutes=10)
    janitor.examine(ORG, run_id, now() + timedelta(minutes=10))
    assert node(run_id).status == "failed" and node(run_id).error["type"] == "Timeout"


def test_a_redrive_runs_a_node_cancelled_while_awaiting_again(
    stack, receiver, resumed, started, clock, sent
):
    run_id, token = awaiting_run(stack, receiver, "/redrive")
    assert api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/cancel", {})[0] == 202
    stack.drain("EngineFunction")
    status, _ = api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/redrive", {})
    assert status == 202
    stack.drain("EngineFunction")  # the redrive's start
    assert started == [("express", 1)]  # on Express; its attempt step numbers attempts on
    assert node(run_id).attempt_base == 1
    # The old attempt's signal and timer (of the earlier generation) change nothing.
    assert signal(stack, token, {"signal": "success"})[0] == 409
    clock[0] = timedelta(seconds=41)
    old = run_message("callback_timeout", ORG, run_id, 0, node_ref="call", attempt=1)
    stack.invoke("EngineFunction", old)
    assert node(run_id).status == "scheduled" and started == [("express", 1)]
    # The redrive's attempt awaits its callback in turn; its timer is of the new generation.
    engine = components.engine()
    outcome = engine.nodes.attempt(NodeAddress(ORG, run_id, "call", 1), express=now())
    assert outcome["next"] == "deliver" and outcome["attempt"] == 2
    event = {"mode": "now", "org_id": ORG, "run_id": run_id, "node_ref": "call", "attempt": 2}
    assert stack.invoke("DispatcherFunction", event) == {"outcome": "ack"}
    second = NodeAddress(ORG, run_id, "call", 2)
    assert engine.actions.action_settled(second, {}, now()) == {"next": "done"}
    assert sent[-1][0]["generation"] == 1 and sent[-1][0]["attempt"] == 2
    clock[0] = timedelta(seconds=82)
    timer(stack, run_id, attempt=2)
    assert node(run_id).status == "failed" and node(run_id).error["type"] == "Timeout"


def test_a_signal_recorded_before_the_awaiting_mark_is_settled_by_the_attempt_step(
    stack, receiver, resumed, started, sent
):
    """The callback lands between the ack's record and the awaiting mark: the signals function
    finds nothing awaiting and leaves it; the attempt's own step settles it, with no timer."""
    path = "/race"
    destination = {"label": "d", "url": receiver.answer(path, Answer(202)), "signaling": SIGNALING}
    _, made = api(stack, "POST", f"/v1/orgs/{ORG}/destinations", destination)
    definition = {"name": "act", "destinations": [{"destination_id": made["data"]["id"]}]}
    api(stack, "POST", f"/v1/orgs/{ORG}/actions/definitions", definition)
    body = {"name": "w", "nodes": [{"ref": "call", "kind": "action", "action": "act"}]}
    _, workflow = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", body)
    _, run = api(stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow["data"]["id"]})
    run_id = run["data"]["id"]
    engine = components.engine()
    engine.runs.start_run(ORG, run_id)
    real_mark = engine.callbacks.store.attempts.mark_awaiting

    def signalled_first(*args, **kwargs):
        [request] = receiver.at(path)
        token = json.loads(request.body)["data"]["signal_url"].rsplit("/", 1)[1]
        assert signal(stack, token, {"signal": "success", "result": 7})[0] == 202
        stack.drain("SignalsFunction")
        return real_mark(*args, **kwargs)

    engine.callbacks.store.attempts.mark_awaiting = signalled_first
    try:
        address = NodeAddress(ORG, run_id, "call", 1)
        assert engine.nodes.attempt(address, express=now(), owner="exec@1") == {"next": "done"}
    finally:
        engine.callbacks.store.attempts.mark_awaiting = real_mark
    assert node(run_id).status == "succeeded"
    assert run_status(run_id) == "succeeded"
    assert sent == []  # nothing left to time out


def _moving_on_fails_once(monkeypatch):
    """The engine, whose first move after a node settled fails (a throttled start, a refused
    event) after the node's write."""
    engine = components.engine()
    real = engine.advance.node_changed
    calls = []

    def fails_once(address, *args, **kwargs):
        calls.append(address)
        if len(calls) == 1:
            raise RuntimeError("throttled")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(engine.advance, "node_changed", fails_once)
    return engine


def test_a_settle_that_failed_after_the_nodes_write_is_finished_by_the_messages_retry(
    stack, receiver, resumed, started, monkeypatch
):
    """The signals function's settle wrote the node, then failed (a throttled start, a refused
    event): SQS gives the message back, and its retry moves the run on."""
    run_id, token = awaiting_run(stack, receiver, "/settle-retry")
    engine = _moving_on_fails_once(monkeypatch)
    assert signal(stack, token, {"signal": "success", "result": 1})[0] == 202
    stack.drain("SignalsFunction")
    assert node(run_id).status == "succeeded" and run_status(run_id) == "running"
    message = {"org_id": ORG, "run_id": run_id, "node_ref": "call", "attempt": 1}
    signals.resume(components.store(), {**message, "action": "signal"}, engine.callbacks.signalled)
    assert run_status(run_id) == "succeeded"


def test_the_timer_of_a_settled_node_finishes_a_settle_left_half_done(
    stack, receiver, resumed, started, monkeypatch
):
    run_id, token = awaiting_run(stack, receiver, "/timer-finishes")
    engine = _moving_on_fails_once(monkeypatch)
    assert signal(stack, token, {"signal": "success", "result": 1})[0] == 202
    stack.drain("SignalsFunction")
    assert run_status(run_id) == "running"
    engine.callbacks.timer(ORG, run_id, {"node_ref": "call", "attempt": 1})
    assert run_status(run_id) == "succeeded"


def test_the_janitor_restarts_a_node_whose_retry_after_a_callback_failure_was_lost(
    stack, receiver, resumed, started
):
    """Once the attempt stopped waiting (its failure scheduled a retry), the node is an Express
    node like any other to the janitor: its lost start is healed, not judged by a deadline."""
    run_id, token = awaiting_run(stack, receiver, "/retry-lost", {"max_attempts": 2})
    failure = {"signal": "failure", "error": {"type": "Busy"}, "retryable": True}
    assert signal(stack, token, failure)[0] == 202
    assert stack.drain("SignalsFunction") == 1
    assert started == [("express", 1)]
    started.clear()  # that start was lost
    janitor = Janitor(components.store(), components.engine())
    for minutes in (30, 60):
        janitor.examine(ORG, run_id, now() + timedelta(minutes=minutes))
    assert started, "the janitor never restarted the node"
