"""Approvals that need more than one reviewer (issue 15, point 8), step by step on moto: the
review route, the attempt's count, the resume, the engine's settle, the view and the history."""

import json
import threading

import pytest

from stepwise import components
from stepwise.actions import signals as signals_module
from stepwise.actions.signal_models import ReviewCreate
from stepwise.engine.address import NodeAddress
from tests.helpers import http_event
from tests.integration.actions.test_dispatcher import ORG, api

KEYS = {name: f"swk_test_{name}" for name in ("ann", "bob", "cat", "dan")}


def approval_run(stack, required=2, retry=None):
    """A run waiting at an approval node ``gate`` that needs ``required`` approvals, its task
    token stored; ``after`` follows it."""
    spec = {"ref": "gate", "kind": "approval", "required_approvals": required}
    if retry:
        spec["retry"] = retry
    nodes = [spec, {"ref": "after", "kind": "transform", "args": 1, "depends_on": ["gate"]}]
    workflow = api(stack, "POST", "/workflows", {"name": "a", "nodes": nodes})["data"]
    run_id = api(stack, "POST", "/runs", {"workflow_id": workflow["id"]})["data"]["id"]
    for name, key in KEYS.items():
        components.api_keys().store(key, ORG, name, ["approve"], "test")
    engine = components.engine()
    engine.runs.start_run(ORG, run_id)
    assert engine.nodes.attempt(NodeAddress(ORG, run_id, "gate", 1))["next"] == "review"
    engine.approvals.await_review(NodeAddress(ORG, run_id, "gate", 1), "gate-token")
    return run_id


def review(stack, run_id, who, decision="approve", comment=None, ref="gate"):
    path = f"/v1/orgs/{ORG}/runs/{run_id}/nodes/{ref}/approval"
    body = {"decision": decision, **({"comment": comment} if comment else {})}
    response = stack.invoke("ApiFunction", http_event("POST", path, body, KEYS[who]))
    return response["statusCode"], json.loads(response["body"])


def gate(run_id):
    return components.store().runs.get_node(ORG, run_id, "gate")


def settle(run_id, attempt=1):
    return components.engine().approvals.review_settled(NodeAddress(ORG, run_id, "gate", attempt))


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"ref": "g", "kind": "approval", "required_approvals": 0}, "greater than or equal to 1"),
        ({"ref": "g", "kind": "approval", "required_approvals": 21}, "less than or equal to 20"),
        ({"ref": "g", "kind": "transform", "required_approvals": 2}, "only approval nodes"),
    ],
)
def test_required_approvals_is_checked_at_save_naming_the_field(stack, node, message):
    path = f"/v1/orgs/{ORG}/workflows"
    answer = stack.invoke("ApiFunction", http_event("POST", path, {"name": "a", "nodes": [node]}))
    assert answer["statusCode"] == 422
    [error] = json.loads(answer["body"])["detail"]
    assert error["loc"] == ["body", "nodes", 0, "required_approvals"]
    assert message in error["msg"]


def test_two_of_three_distinct_keys_approve_and_only_the_second_resumes(stack, resumed):
    run_id = approval_run(stack, required=2)
    status, body = review(stack, run_id, "ann", comment="numbers ok")
    assert status == 202, body
    shown = body["data"]
    assert shown["status"] == "running"
    assert (shown["approvals_required"], shown["approvals_received"]) == (2, 1)
    assert [r["reviewed_by"] for r in shown["reviews"]] == ["key:ann"]
    assert gate(run_id).attempt_record(1).signal is None  # not settled: keeps waiting
    stack.drain("SignalsFunction")
    assert resumed == []  # one approval of two resumes nothing

    status, body = review(stack, run_id, "bob")
    assert status == 202, body
    assert body["data"]["approvals_received"] == 2
    stack.drain("SignalsFunction")
    assert resumed == [("gate-token", "signalled")]
    settle(run_id)

    node = gate(run_id)
    assert node.status == "succeeded"
    output = components.store().payloads.read(node.output)
    assert output["decision"] == "approve" and output["reviewed_by"] == "key:bob"
    assert (output["approvals_required"], output["approvals_received"]) == (2, 2)
    assert [(r["reviewed_by"], r["comment"]) for r in output["reviews"]] == [
        ("key:ann", "numbers ok"),
        ("key:bob", None),
    ]
    assert all(r["reviewed_by_key"].startswith("key_") for r in output["reviews"])
    # The third key is too late: the node is no longer waiting.
    status, body = review(stack, run_id, "cat")
    assert status == 409 and "already reviewed (approve by key:bob" in body["errors"][0]["message"]
    run = api(stack, "GET", f"/runs/{run_id}")["data"]
    shown = run["nodes"][0]
    assert [r["reviewed_by"] for r in shown["reviews"]] == ["key:ann", "key:bob"]
    assert shown["review"]["reviewed_by"] == "key:bob"  # the latest, as before
    assert run["reviewed_by"] == "key:bob"
    assert run["nodes"][1]["status"] == "succeeded"


def test_the_same_key_approving_twice_is_409_naming_its_earlier_review(stack, resumed):
    run_id = approval_run(stack, required=2)
    assert review(stack, run_id, "ann")[0] == 202
    status, body = review(stack, run_id, "ann")
    assert status == 409
    message = body["errors"][0]["message"]
    first = gate(run_id).attempt_record(1).reviews[0]
    assert f"approve by key:ann at {first['reviewed_at']}" in message
    assert "a key reviews an attempt once" in message
    # A second key with the same name is a different reviewer: keys count, not names.
    components.api_keys().store("swk_test_ann_again", ORG, "ann", ["approve"], "test")
    path = f"/v1/orgs/{ORG}/runs/{run_id}/nodes/gate/approval"
    answer = stack.invoke(
        "ApiFunction", http_event("POST", path, {"decision": "reject"}, "swk_test_ann_again")
    )
    assert answer["statusCode"] == 202
    assert len(gate(run_id).attempt_record(1).reviews) == 2


def test_one_rejection_after_an_approval_fails_the_node_at_once(stack, resumed):
    run_id = approval_run(stack, required=3)
    assert review(stack, run_id, "ann")[0] == 202
    status, body = review(stack, run_id, "bob", "reject", "wrong numbers")
    assert status == 202, body
    stack.drain("SignalsFunction")
    assert resumed == [("gate-token", "signalled")]
    settle(run_id)
    node = gate(run_id)
    assert node.status == "failed" and node.error["type"] == "Rejected"
    assert "key:bob" in node.error["message"] and "wrong numbers" in node.error["message"]
    assert review(stack, run_id, "cat")[0] == 409


def test_a_review_that_loses_a_race_is_counted_after_the_winner(stack, resumed, monkeypatch):
    """Two reviews read the attempt with no review; the first write wins, and the second,
    whose condition on the count fails, reads again and counts as the second approval."""
    run_id = approval_run(stack, required=2)
    stale = gate(run_id)
    store = components.store()
    real_get = store.runs.get_node
    reads = []

    def get_node(org_id, rid, ref):
        reads.append(ref)
        if len(reads) == 1:  # bob's first read happens before ann's write lands
            monkeypatch.setattr(store.runs, "get_node", real_get)
            approve = ReviewCreate(decision="approve")
            components.signals().review(ORG, run_id, "gate", approve, "key:ann", "key_ann")
            monkeypatch.setattr(store.runs, "get_node", get_node)
            return stale
        return real_get(org_id, rid, ref)

    monkeypatch.setattr(store.runs, "get_node", get_node)
    status, body = review(stack, run_id, "bob")
    monkeypatch.undo()
    assert status == 202, body
    assert len(reads) == 2  # bob's write was refused once, then counted on a fresh read
    attempt = gate(run_id).attempt_record(1)
    assert [r["reviewed_by"] for r in attempt.reviews] == ["key:ann", "key:bob"]
    assert attempt.signal["reviewed_by"] == "key:bob"  # the second approval settled it
    assert stack.drain("SignalsFunction") == 1  # one resume, not two


def test_concurrent_reviews_are_all_counted_and_the_node_settles_once(stack, resumed):
    run_id = approval_run(stack, required=3)
    signals = components.signals()
    barrier = threading.Barrier(8)
    answers: list[str] = []

    def reviewer(name, key):
        barrier.wait()
        try:
            signals.review(ORG, run_id, "gate", ReviewCreate(decision="approve"), name, key)
            answers.append("accepted")
        except Exception as exc:  # noqa: BLE001 - the answer is what the test counts
            answers.append(type(exc).__name__)

    # Four keys, each twice, at once: three approvals settle the node; every other review is a
    # conflict (a duplicate key, or too late).
    threads = [
        threading.Thread(target=reviewer, args=(f"key:{n}", f"key_{n}"))
        for n in ("ann", "bob", "cat", "dan") * 2
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["Conflict"] * 5 + ["accepted"] * 3
    attempt = gate(run_id).attempt_record(1)
    assert len(attempt.reviews) == 3
    assert len({r["reviewed_by_key"] for r in attempt.reviews}) == 3
    assert attempt.signal == attempt.reviews[-1]
    assert stack.drain("SignalsFunction") == 1


def test_a_retry_after_a_timeout_counts_afresh(stack, resumed):
    run_id = approval_run(stack, required=2, retry={"max_attempts": 2, "initial_interval": 0})
    assert review(stack, run_id, "ann")[0] == 202
    assert settle(run_id)["next"] == "again"  # no settling review: the attempt timed out
    engine = components.engine()
    assert engine.nodes.attempt(NodeAddress(ORG, run_id, "gate", 2), prepared=True)["next"] == (
        "review"
    )
    shown = api(stack, "GET", f"/runs/{run_id}")["data"]["nodes"][0]
    assert shown["reviews"] == [] and shown["approvals_received"] == 0
    assert shown["approvals_required"] == 2
    assert [len(a["reviews"] or []) for a in shown["attempts"]] == [1, 0]
    status, body = review(stack, run_id, "ann")  # the same key may approve the new attempt
    assert status == 202 and body["data"]["approvals_received"] == 1


def test_each_review_is_a_history_event(stack, resumed):
    run_id = approval_run(stack, required=2)
    review(stack, run_id, "ann", comment="one")
    review(stack, run_id, "bob", comment="two")
    settle(run_id)
    events = api(stack, "GET", f"/runs/{run_id}/history")["data"]
    reviewed = [e for e in events if e["event_type"] == "NODE_REVIEWED"]
    assert [(e["node_ref"], e["attempt"], e["review"]["comment"]) for e in reviewed] == [
        ("gate", 1, "one"),
        ("gate", 1, "two"),
    ]
    kinds = [e["event_type"] for e in events if e["node_ref"] == "gate"]
    assert kinds.index("NODE_REVIEWED") > kinds.index("NODE_STARTED")
    last_review = max(i for i, kind in enumerate(kinds) if kind == "NODE_REVIEWED")
    assert kinds.index("NODE_SUCCEEDED") > last_review


def test_a_key_counts_once_even_when_its_name_is_another_keys(stack, resumed):
    run_id = approval_run(stack, required=2)
    signals = components.signals()
    signals.review(ORG, run_id, "gate", ReviewCreate(decision="approve"), "key:ops", "key_a")
    with pytest.raises(signals_module.Conflict):
        signals.review(ORG, run_id, "gate", ReviewCreate(decision="approve"), "key:x", "key_a")
    assert gate(run_id).attempt_record(1).signal is None


def test_a_replayed_attempt_step_keeps_the_reviews_its_attempt_already_has(stack, resumed):
    """Step Functions runs a task again when Lambda's answer is lost. The attempt step of an
    approval node that runs again must not write its attempt afresh: a review recorded in
    between would be gone (the reviewer told 202, the node waiting until its timeout)."""
    run_id = approval_run(stack, required=2)
    assert review(stack, run_id, "ann")[0] == 202
    started = gate(run_id).attempt_record(1).started_at

    engine = components.engine()
    assert engine.nodes.attempt(NodeAddress(ORG, run_id, "gate", 1))["next"] == "review"
    record = gate(run_id).attempt_record(1)
    assert [r["reviewed_by"] for r in record.reviews] == ["key:ann"]
    assert record.started_at == started
    assert review(stack, run_id, "bob")[0] == 202
    stack.drain("SignalsFunction")
    settle(run_id)
    assert gate(run_id).status == "succeeded"
