"""Approvals that need several reviewers, end to end over HTTP: real executions, the served API,
SignalQueue and the signals function (issue 15, point 8)."""

import threading
import time

import httpx
import pytest

from stepwise_local.stack import DEFAULT_ORG
from tests.e2e.conftest import create_workflow, start_run, wait_for_run


@pytest.fixture
def reviewers(api, local_stack):
    """Three clients, each with an approve-only key of its own."""
    clients = []
    for name in ("ann", "bob", "cat"):
        made = api.post("/keys", json={"name": name, "scopes": ["approve"]})
        assert made.status_code == 201, made.text
        clients.append(
            httpx.Client(
                base_url=f"{local_stack.base_url}/v1/orgs/{DEFAULT_ORG}",
                headers={"Authorization": f"Bearer {made.json()['data']['key']}"},
                timeout=30,
            )
        )
    yield clients
    for client in clients:
        client.close()


def gated_run(api, required):
    workflow = create_workflow(
        api,
        {
            "name": "two of three",
            "nodes": [
                {"ref": "gate", "kind": "approval", "required_approvals": required},
                {"ref": "ship", "kind": "transform", "args": "shipped", "depends_on": ["gate"]},
            ],
        },
    )
    run_id = start_run(api, workflow)
    gate_of(api, run_id, lambda n: n["status"] == "running" and n["attempts"])
    return run_id


def gate_of(api, run_id, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        gate = api.get(f"/runs/{run_id}/nodes/gate").json()["data"]
        if predicate(gate):
            return gate
        assert time.monotonic() < deadline, gate
        time.sleep(0.05)


def approve(client, run_id, decision="approve", comment=None):
    body = {"decision": decision, **({"comment": comment} if comment else {})}
    return client.post(f"/runs/{run_id}/nodes/gate/approval", json=body)


def test_two_of_three_keys_approve_and_the_run_goes_on(api, reviewers):
    ann, bob, cat = reviewers
    run_id = gated_run(api, required=2)
    first = approve(ann, run_id, comment="numbers ok")
    assert first.status_code == 202, first.text
    assert first.json()["data"]["approvals_received"] == 1
    # The same key again: 409 naming its earlier review; the count stays at one.
    again = approve(ann, run_id)
    assert again.status_code == 409
    assert "approve by key:ann" in again.json()["errors"][0]["message"]
    time.sleep(0.5)  # the signals function would have resumed the node by now if it were due
    gate = api.get(f"/runs/{run_id}/nodes/gate").json()["data"]
    assert gate["status"] == "running" and gate["approvals_received"] == 1

    assert approve(bob, run_id).status_code == 202
    run = wait_for_run(api, run_id)
    assert run["status"] == "succeeded", run["error"]
    gate, ship = run["nodes"]
    assert ship["output"] == "shipped"
    assert [r["reviewed_by"] for r in gate["reviews"]] == ["key:ann", "key:bob"]
    assert (gate["approvals_required"], gate["approvals_received"]) == (2, 2)
    assert gate["output"]["approvals_received"] == 2
    assert [r["comment"] for r in gate["output"]["reviews"]] == ["numbers ok", None]
    assert approve(cat, run_id).status_code == 409  # too late: the node settled
    history = api.get(f"/runs/{run_id}/history").json()["data"]
    assert [e["review"]["reviewed_by"] for e in history if e["event_type"] == "NODE_REVIEWED"] == [
        "key:ann",
        "key:bob",
    ]


def test_a_rejection_after_one_approval_fails_the_node(api, reviewers):
    ann, bob, _ = reviewers
    run_id = gated_run(api, required=2)
    assert approve(ann, run_id).status_code == 202
    assert approve(bob, run_id, "reject", "not yet").status_code == 202
    run = wait_for_run(api, run_id)
    assert run["status"] == "failed" and run["error"]["type"] == "Rejected"
    gate = run["nodes"][0]
    assert [r["decision"] for r in gate["reviews"]] == ["approve", "reject"]
    assert "not yet" in gate["error"]["message"]


def test_the_starting_key_still_cannot_review(api, reviewers):
    run_id = gated_run(api, required=2)
    assert approve(reviewers[0], run_id).status_code == 202
    assert approve(api, run_id).status_code == 403
    api.post(f"/runs/{run_id}/cancel")
    assert wait_for_run(api, run_id)["status"] == "cancelled"


def test_concurrent_reviews_over_http_are_all_counted_once(api, reviewers):
    run_id = gated_run(api, required=3)
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def review(client):
        barrier.wait()
        codes.append(approve(client, run_id).status_code)

    threads = [threading.Thread(target=review, args=(c,)) for c in reviewers * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [202] * 3 + [409] * 3
    run = wait_for_run(api, run_id)
    assert run["status"] == "succeeded", run["error"]
    gate = run["nodes"][0]
    assert len({r["reviewed_by_key"] for r in gate["reviews"]}) == 3
    assert gate["output"]["approvals_received"] == 3
