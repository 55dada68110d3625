"""Signals and approvals on moto, step by step: API -> SignalQueue -> signals function -> task."""

import json

import pytest

from stepwise import components
from stepwise.engine.address import NodeAddress
from stepwise.infra import executions
from stepwise_local.receiver import Answer
from tests.helpers import http_event
from tests.integration.actions.test_dispatcher import ORG, api, prepared_attempt

SIGNALING = {"enabled": True, "default": "ack"}


@pytest.fixture
def resumed(resumed, monkeypatch):
    """Every resume (tests/integration/conftest.py) and heartbeat a step sends, in order."""
    monkeypatch.setattr(executions, "heartbeat", lambda t: resumed.append((t, "heartbeat")) or True)
    return resumed


def signal(stack, token, body):
    response = stack.invoke("ApiFunction", http_event("POST", f"/v1/signals/{token}", body, None))
    return response["statusCode"], json.loads(response["body"])


def acked_attempt(stack, receiver, path="/ack", retry=None):
    """An action attempt the destination acknowledged; its run id and its signal token."""
    url = receiver.answer(path, Answer(202))
    run_id, message = prepared_attempt(stack, url, signaling=SIGNALING, retry=retry)
    components.dispatcher().deliver(message)
    [request] = receiver.at(path)
    signal_url = json.loads(request.body)["data"]["signal_url"]
    assert signal_url.startswith("https://local.execute-api.")
    return run_id, signal_url.rsplit("/", 1)[1]


def node(run_id, ref="call"):
    return components.store().runs.get_node(ORG, run_id, ref)


def test_an_ack_waits_and_a_success_callback_settles_the_attempt(stack, receiver, resumed):
    run_id, token = acked_attempt(stack, receiver)
    assert resumed == []  # an ack does not resume: the task waits for the callback
    assert node(run_id).attempt_record(1).delivery["kind"] == "ack"

    status, body = signal(stack, token, {"signal": "success", "result": {"ticket": 7}})
    assert status == 202 and body["data"]["status"] == "accepted"
    assert body["data"]["record"] == f"{run_id}.call"
    assert stack.drain("SignalsFunction") == 1
    assert resumed == [("node-token", "signalled")]

    components.engine().actions.action_settled(
        NodeAddress(ORG, run_id, "call", 1), {"reason": "signalled"}
    )
    settled = node(run_id)
    assert settled.status == "succeeded"
    assert components.store().payloads.read(settled.output) == {"ticket": 7}


def test_a_duplicate_signal_is_already_settled_and_changes_nothing(stack, receiver, resumed):
    run_id, token = acked_attempt(stack, receiver)
    assert signal(stack, token, {"signal": "success", "result": 1})[0] == 202
    stack.drain("SignalsFunction")
    components.engine().actions.action_settled(
        NodeAddress(ORG, run_id, "call", 1), {"reason": "signalled"}
    )
    before = node(run_id)

    status, body = signal(stack, token, {"signal": "failure", "error": "changed my mind"})
    assert status == 200 and body["data"]["status"] == "already_settled"
    assert stack.drain("SignalsFunction") == 0
    assert node(run_id) == before


def test_a_duplicate_before_the_task_moved_on_queues_the_resume_again(stack, receiver, resumed):
    _run_id, token = acked_attempt(stack, receiver)
    assert signal(stack, token, {"signal": "success"})[0] == 202
    assert signal(stack, token, {"signal": "success"})[0] == 200
    assert stack.drain("SignalsFunction") == 2  # a lost first resume is made good
    assert resumed.count(("node-token", "signalled")) == 2


def test_a_callback_after_the_timeout_is_late_and_changes_nothing(stack, receiver, resumed):
    run_id, token = acked_attempt(stack, receiver)
    components.engine().actions.action_settled(
        NodeAddress(ORG, run_id, "call", 1), {"outcome": "timeout"}
    )
    before = node(run_id)
    assert before.status == "failed" and before.error["type"] == "Timeout"

    status, body = signal(stack, token, {"signal": "success", "result": "too late"})
    assert status == 409
    assert "timed out" in body["errors"][0]["message"]
    assert stack.drain("SignalsFunction") == 0
    assert node(run_id) == before


def test_a_callback_for_a_superseded_attempt_is_late(stack, receiver, resumed):
    run_id, token = acked_attempt(stack, receiver, retry={"max_attempts": 2, "initial_interval": 0})
    engine = components.engine()
    outcome = engine.actions.action_settled(
        NodeAddress(ORG, run_id, "call", 1), {"outcome": "timeout"}
    )
    assert outcome["next"] == "again"
    engine.nodes.attempt(NodeAddress(ORG, run_id, "call", 2), prepared=True)
    status, body = signal(stack, token, {"signal": "success"})
    assert status == 409 and "superseded by attempt 2" in body["errors"][0]["message"]
    assert node(run_id).attempt_record(1).signal is None


@pytest.mark.parametrize(
    "token",
    ["garbage", "eyJvIjoiYWNtZSJ9.AAAAAAAAAAAAAAAAAAAAAA", "a.b.c", "x" * 1000],
)
def test_a_forged_or_garbled_token_is_401(stack, token):
    status, body = signal(stack, token, {"signal": "success"})
    assert status == 401 and body["errors"][0]["code"] == "unauthorized"


def test_a_token_moved_to_another_attempt_is_401(stack, receiver, resumed):
    _run_id, token = acked_attempt(stack, receiver)
    tokens = components.signal_tokens(stack.stack.environment["SIGNAL_SECRET_ARN"])
    target = tokens.read(token)
    _body, mac = token.split(".")
    other = tokens.issue(type(target)(target.org_id, target.run_id, target.node_ref, 2))
    assert signal(stack, f"{other.split('.')[0]}.{mac}", {"signal": "success"})[0] == 401
    assert signal(stack, token, {"signal": "success"})[0] == 202


def test_a_heartbeat_moves_the_timeout_on_and_heartbeats_the_task(stack, receiver, resumed):
    run_id, token = acked_attempt(stack, receiver)
    first = node(run_id).attempt_record(1)
    status, body = signal(stack, token, {"signal": "heartbeat"})
    assert status == 202 and body["data"]["signal"] == "heartbeat"
    stack.drain("SignalsFunction")
    assert resumed == [("node-token", "heartbeat")]
    beat = node(run_id).attempt_record(1)
    assert beat.timeout_at > first.timeout_at and beat.heartbeats == 1
    assert node(run_id).status == "running"


def test_a_failure_signal_fails_for_good_unless_marked_retryable(stack, receiver, resumed):
    run_id, token = acked_attempt(stack, receiver, retry={"max_attempts": 3, "initial_interval": 0})
    body = {"signal": "failure", "error": {"type": "OutOfStock", "message": "none left"}}
    assert signal(stack, token, body)[0] == 202
    components.engine().actions.action_settled(
        NodeAddress(ORG, run_id, "call", 1), {"reason": "signalled"}
    )
    failed = node(run_id)
    assert failed.status == "failed"
    assert failed.error == {"type": "OutOfStock", "message": "none left"}

    run_id, token = acked_attempt(
        stack, receiver, "/ack2", retry={"max_attempts": 3, "initial_interval": 0}
    )
    assert signal(stack, token, {**body, "retryable": True})[0] == 202
    outcome = components.engine().actions.action_settled(
        NodeAddress(ORG, run_id, "call", 1), {"reason": "signalled"}
    )
    assert outcome["next"] == "again"


def test_a_signal_after_the_destinations_own_final_answer_is_already_settled(
    stack, receiver, resumed
):
    url = receiver.answer("/sync", Answer(200, {"signal": "success", "result": 1}))
    run_id, message = prepared_attempt(stack, url, signaling=SIGNALING)
    components.dispatcher().deliver(message)
    token = json.loads(receiver.at("/sync")[0].body)["data"]["signal_url"].rsplit("/", 1)[1]
    status, body = signal(stack, token, {"signal": "failure"})
    assert status == 200 and body["data"]["status"] == "already_settled"
    components.engine().actions.action_settled(
        NodeAddress(ORG, run_id, "call", 1), {"reason": "delivered"}
    )
    assert node(run_id).status == "succeeded"


def test_no_signal_url_without_signaling_and_the_token_never_leaves_the_table(
    stack, receiver, resumed
):
    url = receiver.answer("/plain", Answer(200, {}))
    run_id, message = prepared_attempt(stack, url)
    components.dispatcher().deliver(message)
    assert json.loads(receiver.at("/plain")[0].body)["data"]["signal_url"] is None
    assert node(run_id).attempt_record(1).task_token == "node-token"
    shown = json.dumps(api(stack, "GET", f"/runs/{run_id}"))
    record = json.dumps(api(stack, "GET", f"/actions/records/{run_id}.call"))
    assert "node-token" not in shown and "node-token" not in record


# -- approvals ---------------------------------------------------------------------------------


def approval_run(stack, retry=None):
    spec = {"ref": "gate", "kind": "approval"}
    if retry:
        spec["retry"] = retry
    nodes = [spec, {"ref": "after", "kind": "transform", "args": 1, "depends_on": ["gate"]}]
    workflow = api(stack, "POST", "/workflows", {"name": "a", "nodes": nodes})["data"]
    run_id = api(stack, "POST", "/runs", {"workflow_id": workflow["id"]})["data"]["id"]
    components.api_keys().store(APPROVER, ORG, "approver", ["approve"], "test")
    engine = components.engine()
    engine.runs.start_run(ORG, run_id)
    outcome = engine.nodes.attempt(NodeAddress(ORG, run_id, "gate", 1))
    assert outcome["next"] == "review" and outcome["timeout_seconds"] > 0
    return run_id


APPROVER = "swk_test_approver"  # approve only: the key that starts a run may not review it


def review(stack, run_id, body, ref="gate", key=APPROVER):
    path = f"/v1/orgs/{ORG}/runs/{run_id}/nodes/{ref}/approval"
    response = stack.invoke("ApiFunction", http_event("POST", path, body, key))
    return response["statusCode"], json.loads(response["body"])


def test_an_approval_waits_for_a_review_and_approve_succeeds(stack, resumed):
    run_id = approval_run(stack)
    engine = components.engine()
    engine.approvals.await_review(NodeAddress(ORG, run_id, "gate", 1), "gate-token")
    assert resumed == []

    status, body = review(stack, run_id, {"decision": "approve", "comment": "ship it"})
    assert status == 202, body
    assert body["data"]["review"]["reviewed_by"] == "key:approver"
    stack.drain("SignalsFunction")
    assert resumed == [("gate-token", "signalled")]

    engine.approvals.review_settled(NodeAddress(ORG, run_id, "gate", 1))
    gate = node(run_id, "gate")
    assert gate.status == "succeeded"
    output = components.store().payloads.read(gate.output)
    assert output["decision"] == "approve" and output["comment"] == "ship it"
    run = api(stack, "GET", f"/runs/{run_id}")["data"]
    assert run["reviewed_by"] == "key:approver" and run["reviewed_at"]
    assert run["nodes"][0]["review"]["decision"] == "approve"
    assert run["nodes"][1]["status"] == "succeeded"  # the run moved on (inline)


def test_reject_fails_the_node_with_the_comment(stack, resumed):
    run_id = approval_run(stack)
    assert review(stack, run_id, {"decision": "reject", "comment": "wrong numbers"})[0] == 202
    components.engine().approvals.review_settled(NodeAddress(ORG, run_id, "gate", 1))
    gate = node(run_id, "gate")
    assert gate.status == "failed" and gate.error["type"] == "Rejected"
    assert "wrong numbers" in gate.error["message"]


def test_a_review_before_the_token_is_stored_resumes_when_it_is(stack, resumed):
    run_id = approval_run(stack)
    assert review(stack, run_id, {"decision": "approve"})[0] == 202
    stack.drain("SignalsFunction")
    assert resumed == []  # no task token yet: nothing to resume
    components.engine().approvals.await_review(NodeAddress(ORG, run_id, "gate", 1), "gate-token")
    assert resumed == [("gate-token", "reviewed")]


def test_a_second_review_and_a_review_of_other_nodes_are_conflicts(stack, resumed):
    run_id = approval_run(stack)
    assert review(stack, run_id, {"decision": "approve"})[0] == 202
    status, body = review(stack, run_id, {"decision": "reject"})
    assert status == 409
    assert "already reviewed (approve by key:approver" in body["errors"][0]["message"]
    status, body = review(stack, run_id, {"decision": "approve"}, ref="after")
    assert status == 409 and "only approval nodes" in body["errors"][0]["message"]
    assert review(stack, run_id, {"decision": "approve"}, ref="nope")[0] == 404
    assert review(stack, run_id, {"decision": "maybe"})[0] == 422


def test_another_orgs_key_cannot_review(stack, resumed):
    from tests.conftest import OTHER_KEY

    run_id = approval_run(stack)
    path = f"/v1/orgs/globex/runs/{run_id}/nodes/gate/approval"
    response = stack.invoke(
        "ApiFunction", http_event("POST", path, {"decision": "approve"}, OTHER_KEY)
    )
    assert response["statusCode"] == 404
    assert node(run_id, "gate").attempt_record(1).signal is None


def test_no_review_before_the_timeout_retries_per_policy_then_fails(stack, resumed):
    run_id = approval_run(stack, retry={"max_attempts": 2, "initial_interval": 0, "timeout": 5})
    engine = components.engine()
    assert engine.approvals.review_settled(NodeAddress(ORG, run_id, "gate", 1))["next"] == "again"
    assert (
        engine.nodes.attempt(NodeAddress(ORG, run_id, "gate", 2), prepared=True)["next"] == "review"
    )
    engine.approvals.review_settled(NodeAddress(ORG, run_id, "gate", 2))
    gate = node(run_id, "gate")
    assert gate.status == "failed" and gate.error["type"] == "Timeout"
