"""Webhook nodes on NodeExpressStateMachine end to end: no Standard node execution when the
destination answers at once or a retry fits, nor when it answers ``ack`` (the callback is
awaited with no execution); a long backoff hands the node to its Standard execution; a whole
Express execution run twice (AWS runs them at least once) changes nothing a caller can see."""

import time

import pytest

from stepwise_local import faults
from stepwise_local.receiver import Answer, Callback, Receiver
from tests.e2e.conftest import create_workflow, start_run, wait_for_run


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as running:
        yield running


def action(api, receiver, name, *answers):
    """A destination without signaling (so Express is chosen) answering ``answers``; its id."""
    url = receiver.answer(f"/{name}", *answers)
    made = api.post("/destinations", json={"label": name, "url": url})
    assert made.status_code == 201, made.text
    destination_id = made.json()["data"]["id"]
    definition = {"name": name, "destinations": [{"destination_id": destination_id}]}
    assert api.post("/actions/definitions", json=definition).status_code == 201
    return destination_id


def executions_of(local_stack, run: dict) -> dict[str, list[str]]:
    """The node executions a run started, by machine, as names of its nodes."""
    from stepwise.infra.executions import node_execution_name

    refs = {node_execution_name(run["id"], n["ref"]): n["ref"] for n in run["nodes"]}
    found: dict[str, list[str]] = {"NodeStateMachine": [], "NodeExpressStateMachine": []}
    for execution in local_stack.node_executions():
        if execution["name"] in refs:
            found[execution["machine"]].append(refs[execution["name"]])
    return {machine: sorted(refs) for machine, refs in found.items()}


RETRY = {"max_attempts": 3, "initial_interval": 1}


def test_a_webhook_answered_at_once_runs_without_a_standard_node_execution(
    local_stack, api, receiver
):
    action(api, receiver, "x-ok", Answer(200, {"ok": 1}), Answer(200, {"ok": 2}))
    nodes = [
        {"ref": "first", "kind": "action", "action": "x-ok"},
        {"ref": "second", "kind": "action", "action": "x-ok", "depends_on": ["first"]},
    ]
    run = wait_for_run(api, start_run(api, create_workflow(api, {"name": "w", "nodes": nodes})))
    assert run["status"] == "succeeded", run["error"]
    assert {n["ref"]: n["output"] for n in run["nodes"]} == {
        "first": {"ok": 1},
        "second": {"ok": 2},
    }
    assert executions_of(local_stack, run) == {
        "NodeStateMachine": [],
        "NodeExpressStateMachine": ["first", "second"],
    }
    assert len(receiver.at("/x-ok")) == 2


def test_a_retried_attempt_stays_in_its_express_execution(local_stack, api, receiver):
    action(api, receiver, "x-flaky", Answer(500, {}), Answer(200, {"ok": True}))
    node = {"ref": "call", "kind": "action", "action": "x-flaky", "retry": RETRY}
    run = wait_for_run(api, start_run(api, create_workflow(api, {"name": "w", "nodes": [node]})))
    assert run["status"] == "succeeded", run["error"]
    [called] = run["nodes"]
    assert [(a["attempt"], a["status"]) for a in called["attempts"]] == [
        (1, "retry_scheduled"),
        (2, "succeeded"),
    ]
    assert executions_of(local_stack, run) == {
        "NodeStateMachine": [],
        "NodeExpressStateMachine": ["call"],
    }


def test_a_backoff_that_would_not_fit_hands_the_node_to_standard(local_stack, api, receiver):
    """A Retry-After of 300 s stretches the backoff past what an Express execution can wait."""
    action(api, receiver, "x-later", Answer(503, {}, headers={"Retry-After": "300"}))
    node = {"ref": "call", "kind": "action", "action": "x-later", "retry": RETRY}
    run_id = start_run(api, create_workflow(api, {"name": "w", "nodes": [node]}))
    deadline = time.monotonic() + 30
    while True:
        run = api.get(f"/runs/{run_id}").json()["data"]
        if executions_of(local_stack, run)["NodeStateMachine"] == ["call"]:
            break
        assert time.monotonic() < deadline, run
        time.sleep(0.1)
    [called] = run["nodes"]
    assert [(a["attempt"], a["status"]) for a in called["attempts"]] == [(1, "retry_scheduled")]
    # The Express execution ended; the Standard one waits out the backoff.
    standard = [
        e
        for e in local_stack.node_executions()
        if e["machine"] == "NodeStateMachine" and e["status"] == "RUNNING"
    ]
    assert len(standard) == 1
    assert len(receiver.at("/x-later")) == 1
    assert api.post(f"/runs/{run_id}/cancel", json={}).status_code in (200, 202)
    assert wait_for_run(api, run_id)["status"] == "cancelled"


def signaling_action(api, receiver, name, *answers):
    """A destination with signaling (its ack's callback awaited with no execution)."""
    url = receiver.answer(f"/{name}", *answers)
    body = {"label": name, "url": url, "signaling": {"enabled": True, "default": "ack"}}
    made = api.post("/destinations", json=body)
    assert made.status_code == 201, made.text
    definition = {"name": name, "destinations": [{"destination_id": made.json()["data"]["id"]}]}
    assert api.post("/actions/definitions", json=definition).status_code == 201


def test_an_ack_awaits_with_no_execution_and_the_callback_settles_the_node(
    local_stack, api, receiver
):
    """The node runs on Express; after the ack no execution waits: the callback, through the
    served API, SignalQueue and the signals function, settles it and the run goes on."""
    callback = Callback({"signal": "success", "result": {"ticket": "T-9"}}, after=0.5)
    signaling_action(api, receiver, "x-ack", Answer(202, callbacks=(callback,)))
    nodes = [
        {"ref": "call", "kind": "action", "action": "x-ack"},
        {
            "ref": "after",
            "kind": "transform",
            "args": "{{ nodes.call.output }}",
            "depends_on": ["call"],
        },
    ]
    run = wait_for_run(api, start_run(api, create_workflow(api, {"name": "w", "nodes": nodes})))
    assert run["status"] == "succeeded", run["error"]
    called, after = run["nodes"]
    assert called["output"] == {"ticket": "T-9"} and after["output"] == {"ticket": "T-9"}
    assert [(a["attempt"], a["status"]) for a in called["attempts"]] == [(1, "succeeded")]
    assert executions_of(local_stack, run) == {
        "NodeStateMachine": [],
        "NodeExpressStateMachine": ["call"],
    }
    assert [(c.signal, c.status) for c in receiver.callbacks if c.path == "/x-ack"] == [
        ("success", 202)
    ]


def test_a_retryable_callback_failure_runs_the_next_attempt_on_express(local_stack, api, receiver):
    failed = Callback({"signal": "failure", "error": "busy", "retryable": True}, after=0.3)
    done = Callback({"signal": "success", "result": "second time"}, after=0.3)
    signaling_action(
        api, receiver, "x-retry", Answer(202, callbacks=(failed,)), Answer(202, callbacks=(done,))
    )
    node = {"ref": "call", "kind": "action", "action": "x-retry", "retry": RETRY}
    run = wait_for_run(api, start_run(api, create_workflow(api, {"name": "w", "nodes": [node]})))
    assert run["status"] == "succeeded", run["error"]
    [called] = run["nodes"]
    assert called["output"] == "second time"
    assert [(a["attempt"], a["status"]) for a in called["attempts"]] == [
        (1, "retry_scheduled"),
        (2, "succeeded"),
    ]
    # The retry ran in a second Express execution of the node; no Standard one.
    assert executions_of(local_stack, run) == {
        "NodeStateMachine": [],
        "NodeExpressStateMachine": ["call", "call"],
    }


def test_an_acked_node_run_twice_posts_once_and_settles_once(local_stack, api, receiver):
    callback = Callback({"signal": "success", "result": 1}, after=0.5)
    signaling_action(api, receiver, "x-twice", Answer(202, callbacks=(callback,)))
    node = {"ref": "call", "kind": "action", "action": "x-twice"}
    workflow_id = create_workflow(api, {"name": "w", "nodes": [node]})
    with faults.injecting(faults.parse("express_replay=1")) as injector:
        run = wait_for_run(api, start_run(api, workflow_id))
        assert local_stack.wait_idle(timeout=30)
    assert injector.counts()["injected"]["express_replay"] == 1
    assert run["status"] == "succeeded", run["error"]
    assert len(receiver.at("/x-twice")) == 1
    [called] = run["nodes"]
    assert [(a["attempt"], a["status"]) for a in called["attempts"]] == [(1, "succeeded")]
    assert executions_of(local_stack, run)["NodeStateMachine"] == []


def replayable_workflow(name: str) -> dict:
    """Two webhook nodes in a row, the second retried once."""
    return {
        "name": name,
        "nodes": [
            {"ref": "first", "kind": "action", "action": f"{name}-ok", "args": {"n": 1}},
            {
                "ref": "second",
                "kind": "action",
                "action": f"{name}-flaky",
                "depends_on": ["first"],
                "retry": RETRY,
            },
        ],
    }


def seen(api, receiver, run: dict, name: str) -> dict:
    """What a caller sees of a run, without its ids and times."""
    history = api.get(f"/runs/{run['id']}/history", params={"limit": 100}).json()["data"]
    return {
        "status": run["status"],
        "outputs": {n["ref"]: n["output"] for n in run["nodes"]},
        "attempts": {
            n["ref"]: [(a["attempt"], a["status"]) for a in n["attempts"]] for n in run["nodes"]
        },
        "history": [(e["event_type"], e.get("node_ref"), e.get("attempt")) for e in history],
        "posts": {path: len(receiver.at(path)) for path in (f"/{name}-ok", f"/{name}-flaky")},
    }


def test_an_express_execution_run_twice_changes_nothing(local_stack, api, receiver):
    """``express_replay=1``: every Express start runs twice, concurrently, with the same input.
    The lease stops the second POST of each attempt, the duplicate ends quietly, and the run's
    outputs, attempts, history and POSTs are those of a run without replay."""
    views = {}
    for name, spec in (("plain", "express_replay=0"), ("replayed", "express_replay=1")):
        action(api, receiver, f"{name}-ok", Answer(200, {"ok": True}))
        action(api, receiver, f"{name}-flaky", Answer(500, {}), Answer(200, {"done": True}))
        workflow_id = create_workflow(api, replayable_workflow(name))
        with faults.injecting(faults.parse(spec)) as injector:
            run = wait_for_run(api, start_run(api, workflow_id))
            assert local_stack.wait_idle(timeout=30)
        views[name] = seen(api, receiver, run, name)
        started = executions_of(local_stack, run)["NodeExpressStateMachine"]
        replays = injector.counts()["injected"]["express_replay"]
        if name == "replayed":
            assert replays == 2 and started == ["first", "first", "second", "second"]
        else:
            assert replays == 0 and started == ["first", "second"]
    assert views["replayed"]["posts"] == {"/replayed-ok": 1, "/replayed-flaky": 2}
    views["replayed"]["posts"] = {
        k.replace("replayed", "plain"): v for k, v in views["replayed"]["posts"].items()
    }
    assert views["replayed"] == views["plain"]
    assert views["plain"]["status"] == "succeeded"


@pytest.fixture
def invocations(monkeypatch):
    """Every Lambda invocation the stack makes, as (function, step or mode, node_ref)."""
    from stepwise_local import lambdas

    seen: list[tuple[str, str | None, str | None]] = []
    real = lambdas.invoke

    def counted(name, event):
        if isinstance(event, dict):
            function = name.rsplit("-", 1)[-1]  # the logical name, without the stack's
            seen.append((function, event.get("step") or event.get("mode"), event.get("node_ref")))
        return real(name, event)

    monkeypatch.setattr(lambdas, "invoke", counted)
    return seen


def test_a_webhook_attempt_is_one_lambda_invocation(local_stack, api, receiver, invocations):
    action(api, receiver, "x-one", Answer(200, {"ok": 1}))
    node = {"ref": "call", "kind": "action", "action": "x-one"}
    run = wait_for_run(api, start_run(api, create_workflow(api, {"name": "w", "nodes": [node]})))
    assert run["status"] == "succeeded", run["error"]
    assert [i for i in invocations if i[2] == "call"] == [("EngineFunction", "attempt", "call")]
    assert not [i for i in invocations if i[0] == "DispatcherFunction"]


def test_a_retried_step_of_the_same_execution_takes_its_own_lease_again(
    local_stack, api, receiver, monkeypatch
):
    """The attempt step fails after it took the lease (its invocation ended mid-POST): Step
    Functions retries it in the same execution, which takes its own lease again and delivers,
    at once, not after the lease and the janitor."""
    from stepwise import components
    from stepwise.actions.dispatcher import Dispatcher

    action(api, receiver, "x-crash", Answer(200, {"ok": "second try"}))
    real_post = Dispatcher.post_attempt
    crashed: list[str] = []

    def crash_once(self, *args):
        if not crashed:
            crashed.append("mid-POST")
            raise ConnectionResetError("the invocation ended mid-POST")
        return real_post(self, *args)

    monkeypatch.setattr(Dispatcher, "post_attempt", crash_once)
    node = {"ref": "call", "kind": "action", "action": "x-crash"}
    began = time.monotonic()
    run = wait_for_run(api, start_run(api, create_workflow(api, {"name": "w", "nodes": [node]})))
    assert run["status"] == "succeeded", run["error"]
    assert time.monotonic() - began < 30  # the Retry's few seconds, not the lease's 40
    assert crashed == ["mid-POST"] and len(receiver.at("/x-crash")) == 1
    assert executions_of(local_stack, run) == {
        "NodeStateMachine": [],
        "NodeExpressStateMachine": ["call"],
    }
    [called] = run["nodes"]
    assert [(a["attempt"], a["status"]) for a in called["attempts"]] == [(1, "succeeded")]
    owner = components.store().runs.get_node("acme", run["id"], "call").attempt_record(1)
    assert ":express:" in owner.claimed_by or "node-express" in owner.claimed_by
