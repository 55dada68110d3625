"""The engine function's steps on moto, driven one by one (state machines do not execute here),
so that replays, races and crashes can be placed exactly."""

import json

import boto3
import pytest

from stepwise import components
from stepwise.core.statuses import NodeStatus, RunStatus
from stepwise.engine.executors import NodeFailure
from stepwise.infra import executions
from tests.conftest import OTHER_KEY
from tests.helpers import deliver, diamond, http_event

ORG = "acme"


@pytest.fixture(autouse=True)
def _every_node_is_an_execution(stack):
    """These tests place each step of a node's execution, so no node runs inline here
    (tests/integration/engine/test_inline_nodes.py covers inline nodes)."""
    components.engine().advance.inline_limit = 0


def api(stack, method, path, body=None):
    response = stack.invoke("ApiFunction", http_event(method, path, body))
    return json.loads(response["body"])


def start_run(stack, workflow_body, run_input=None):
    workflow = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", workflow_body)["data"]
    run = api(
        stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow["id"], "input": run_input}
    )
    return run["data"]["id"]


def step(stack, name, run_id, **fields):
    return stack.invoke("EngineFunction", {"step": name, "org_id": ORG, "run_id": run_id, **fields})


def node_executions(stack) -> list[str]:
    """Every node execution started, Standard or Express (a second start of an Express node
    would be listed twice: Express does not deduplicate names)."""
    return sorted(e["name"] for e in stack.node_executions())


def named(run_id: str, *refs: str) -> list[str]:
    """What ``node_executions`` lists once the run's nodes ``refs`` have started."""
    return sorted(executions.node_execution_name(run_id, ref) for ref in refs)


def run_status(run_id) -> str:
    return components.store().runs.get_run(ORG, run_id).status


def statuses(run_id) -> dict[str, str]:
    _, nodes = components.store().runs.get_run_with_nodes(ORG, run_id)
    return {n.ref: n.status for n in nodes}


def test_a_diamond_step_by_step_with_every_step_replayed(stack, resumed):
    run_id = start_run(stack, diamond(), {"n": 3})
    deliver(stack, "start", run_id)
    deliver(stack, "start", run_id)
    assert node_executions(stack) == named(run_id, "a")
    assert statuses(run_id)["a"] == NodeStatus.SCHEDULED

    for _ in range(2):
        assert step(stack, "attempt", run_id, node_ref="a", attempt=1) == {"next": "done"}
    assert node_executions(stack) == named(run_id, *"abc")

    step(stack, "attempt", run_id, node_ref="b", attempt=1)
    assert statuses(run_id)["d"] == NodeStatus.PENDING, "d must wait for c as well"
    step(stack, "attempt", run_id, node_ref="c", attempt=1)
    step(stack, "attempt", run_id, node_ref="c", attempt=1)
    assert node_executions(stack) == named(run_id, *"abcd")
    assert run_status(run_id) == RunStatus.RUNNING

    # The last node to settle finishes the run in its own step; its replay changes nothing.
    step(stack, "attempt", run_id, node_ref="d", attempt=1)
    assert run_status(run_id) == RunStatus.SUCCEEDED
    step(stack, "attempt", run_id, node_ref="d", attempt=1)
    for _ in range(2):  # a finalize message delivered late (or twice) changes nothing either
        deliver(stack, "finalize", run_id)
    assert resumed == []  # nothing waits on a token for a run
    run = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}")["data"]
    assert run["status"] == RunStatus.SUCCEEDED
    assert run["output"] == {"d": {"from_b": [3, 3], "from_c": "n is 3"}}
    assert all(n["attempt"] == 1 and n["status"] == "succeeded" for n in run["nodes"])


def test_a_failing_node_fails_the_run_and_cancels_the_rest(stack, resumed):
    body = diamond()
    body["nodes"][1]["args"] = {"bad": "{{ abs(nodes.a.output.n) }}"}  # n is a string below
    run_id = start_run(stack, body, {"n": "three"})
    deliver(stack, "start", run_id)
    step(stack, "attempt", run_id, node_ref="a", attempt=1)
    step(stack, "attempt", run_id, node_ref="b", attempt=1)
    assert run_status(run_id) == RunStatus.FAILED  # finished in b's step

    # c was already started; once the run settles it does nothing and starts nothing.
    step(stack, "attempt", run_id, node_ref="c", attempt=1)
    assert executions.node_execution_name(run_id, "d") not in node_executions(stack)

    assert components.engine().runs.finalize_run(ORG, run_id, {"reason": "node_failed"}) == {
        "status": "failed"
    }
    run = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}")["data"]
    assert run["error"]["node"] == "b" and run["error"]["type"] == "ExpressionError"
    assert "abs" in run["error"]["message"]
    assert statuses(run_id) == {
        "a": "succeeded",
        "b": "failed",
        "c": "cancelled",
        "d": "cancelled",
    }


def test_a_retryable_failure_is_retried_with_backoff_then_succeeds(stack, resumed, monkeypatch):
    body = {
        "name": "flaky",
        "nodes": [
            {
                "ref": "x",
                "kind": "transform",
                "args": {"ok": True},
                "retry": {"max_attempts": 3, "initial_interval": 2, "backoff_coefficient": 3},
            }
        ],
    }
    run_id = start_run(stack, body)
    deliver(stack, "start", run_id)
    outcomes = iter([NodeFailure("Flaky", "try again"), NodeFailure("Flaky", "again"), None])
    from stepwise.engine import attempts as attempts_module

    real_execute = attempts_module.execute

    def flaky(spec, context):
        failure = next(outcomes)
        if failure:
            raise failure
        return real_execute(spec, context)

    monkeypatch.setattr(attempts_module, "execute", flaky)
    first = step(stack, "attempt", run_id, node_ref="x", attempt=1)
    assert first == {"next": "again", "attempt": 2, "wait_seconds": 2}
    # The step replayed (its answer was lost): the same wait again, not a stuck node.
    replayed = step(stack, "attempt", run_id, node_ref="x", attempt=1)
    assert replayed["next"] == "again" and replayed["attempt"] == 2
    assert 0 <= replayed["wait_seconds"] <= 2
    node = components.store().runs.get_node(ORG, run_id, "x")
    assert node.last_error == {"type": "Flaky", "message": "try again"}
    first_try = node.attempt_record(1)
    assert first_try.status == "retry_scheduled"
    assert first_try.available_at == node.available_at > first_try.completed_at
    second = step(stack, "attempt", run_id, node_ref="x", attempt=2)
    assert second == {"next": "again", "attempt": 3, "wait_seconds": 6}
    assert step(stack, "attempt", run_id, node_ref="x", attempt=3) == {"next": "done"}
    node = components.store().runs.get_node(ORG, run_id, "x")
    assert (node.status, node.attempt) == ("succeeded", 3)
    attempts = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}")["data"]["nodes"][0]["attempts"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [
        (1, "retry_scheduled"),
        (2, "retry_scheduled"),
        (3, "succeeded"),
    ]
    assert [a["error"]["message"] for a in attempts[:2]] == ["try again", "again"]
    # A late replay of an earlier attempt changes nothing.
    assert step(stack, "attempt", run_id, node_ref="x", attempt=1) == {"next": "done"}
    assert components.store().runs.get_node(ORG, run_id, "x").attempt == 3


def test_a_non_retryable_failure_stops_at_once(stack, resumed, monkeypatch):
    body = {
        "name": "strict",
        "nodes": [{"ref": "x", "kind": "transform", "retry": {"max_attempts": 5}}],
    }
    run_id = start_run(stack, body)
    deliver(stack, "start", run_id)
    from stepwise.engine import attempts as attempts_module

    def refuse(spec, context):
        raise NodeFailure("Invalid", "no", retryable=False)

    monkeypatch.setattr(attempts_module, "execute", refuse)
    assert step(stack, "attempt", run_id, node_ref="x", attempt=1) == {"next": "done"}
    assert statuses(run_id) == {"x": "failed"}
    assert run_status(run_id) == RunStatus.FAILED


def test_a_start_delivered_again_after_the_run_settled_changes_nothing(stack, resumed):
    """SQS delivers at least once: a start that comes back after the last node settled finds
    the run ended and starts nothing again."""
    run_id = start_run(stack, {"name": "one", "nodes": [{"ref": "x", "kind": "transform"}]})
    deliver(stack, "start", run_id)
    step(stack, "attempt", run_id, node_ref="x", attempt=1)
    finished = components.store().runs.get_run(ORG, run_id)
    assert finished.status == RunStatus.SUCCEEDED
    deliver(stack, "start", run_id)
    assert components.store().runs.get_run(ORG, run_id) == finished
    assert node_executions(stack) == named(run_id, "x")


def test_a_crashing_attempt_step_fails_the_node_with_the_lambda_message(stack, resumed):
    run_id = start_run(stack, diamond(), {"n": 1})
    deliver(stack, "start", run_id)
    cause = json.dumps({"errorType": "ClientError", "errorMessage": "table is gone"})
    step(stack, "node_crashed", run_id, node_ref="a", attempt=1, error="ClientError", cause=cause)
    node = components.store().runs.get_node(ORG, run_id, "a")
    assert node.status == "failed"
    assert node.error == {"type": "ClientError", "message": "table is gone"}
    assert run_status(run_id) == RunStatus.FAILED


def test_a_timed_out_run_ends_timed_out_and_stops_its_nodes(stack, resumed):
    body = diamond()
    # A Standard node (wait_until keeps it off Express): an Express execution cannot be stopped.
    body["nodes"][0]["wait_until"] = "2020-01-01T00:00:00+00:00"
    run_id = start_run(stack, body, {"n": 1})
    deliver(stack, "start", run_id)
    assert components.engine().runs.finalize_run(ORG, run_id, {"reason": "timed_out"}) == {
        "status": "timed_out"
    }
    run = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}")["data"]
    assert run["error"]["type"] == "RunTimedOut"
    assert set(statuses(run_id).values()) == {"cancelled"}
    # The root node's execution, started before the timeout, was stopped.
    sfn = boto3.client("stepfunctions")
    arn = stack.stack.names["NodeStateMachine"].replace(":stateMachine:", ":execution:")
    name = executions.node_execution_name(run_id, "a")
    described = sfn.describe_execution(executionArn=f"{arn}:{name}")
    assert described["status"] == "ABORTED"
    # A node attempt arriving after the end does nothing.
    step(stack, "attempt", run_id, node_ref="a", attempt=1)
    assert statuses(run_id)["a"] == "cancelled"


def test_an_unknown_step_is_an_error(stack):
    with pytest.raises(ValueError, match="unknown engine step"):
        step(stack, "explode", "run_x")


def test_cancelling_a_queued_run_finishes_it_at_its_first_step(stack, resumed):
    run_id = start_run(stack, diamond(), {"n": 1})
    response = stack.invoke(
        "ApiFunction", http_event("POST", f"/v1/orgs/{ORG}/runs/{run_id}/cancel")
    )
    assert response["statusCode"] == 202
    assert run_status(run_id) == RunStatus.QUEUED
    # The start (queued at create) comes first: it sees the cancel and finishes the run; the
    # cancel's own finalize message then finds it ended.
    assert stack.drain("EngineFunction") == 2
    assert run_status(run_id) == RunStatus.CANCELLED
    assert node_executions(stack) == []
    assert set(statuses(run_id).values()) == {"cancelled"}
    assert resumed == []


def test_cancel_answers_404_for_unknown_or_foreign_runs_and_409_once_finishing(stack, resumed):
    run_id = start_run(stack, diamond(), {"n": 1})
    unknown = stack.invoke("ApiFunction", http_event("POST", f"/v1/orgs/{ORG}/runs/run_x/cancel"))
    assert unknown["statusCode"] == 404
    foreign = stack.invoke(
        "ApiFunction",
        http_event("POST", f"/v1/orgs/globex/runs/{run_id}/cancel", key=OTHER_KEY),
    )
    assert foreign["statusCode"] == 404
    deliver(stack, "start", run_id)
    components.store().run_state.request_settle(ORG, run_id, "node_failed")
    late = stack.invoke("ApiFunction", http_event("POST", f"/v1/orgs/{ORG}/runs/{run_id}/cancel"))
    assert late["statusCode"] == 409
    assert "already finishing (node_failed)" in json.loads(late["body"])["errors"][0]["message"]
