"""The dispatcher's synchronous path (``mode: now``, called by an Express node execution): the
same lease, guards, signing and record as a queued delivery, with the outcome returned; and the
secrets it keeps between deliveries."""

import json
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from stepwise import components
from stepwise.core.clock import iso, now
from stepwise.engine.address import NodeAddress
from stepwise.infra import vault as vault_module
from stepwise_local.receiver import Answer
from tests.helpers import http_event

ORG = "acme"
EXPRESS = now()  # the start of the Express execution the steps run in


def api(stack, method, path, body=None):
    response = stack.invoke("ApiFunction", http_event(method, f"/v1/orgs/{ORG}{path}", body))
    return response["statusCode"], json.loads(response["body"] or "null")


def express_attempt(stack, url, signaling=None, credential=None):
    """A run whose action node (chosen for Express) has attempt 1 ready to deliver; the
    dispatcher's event, the destination."""
    destination = {"label": "d", "url": url}
    if credential:
        destination["credential_id"] = api(stack, "POST", "/credentials", credential)[1]["data"][
            "id"
        ]
    _, made = api(stack, "POST", "/destinations", destination)
    dest = made["data"]
    definition = {"name": "act", "destinations": [{"destination_id": dest["id"]}]}
    assert api(stack, "POST", "/actions/definitions", definition)[0] == 201
    node = {"ref": "call", "kind": "action", "action": "act", "args": {"n": 1}}
    _, workflow = api(stack, "POST", "/workflows", {"name": "w", "nodes": [node]})
    if signaling:  # gained after the workflow was saved: the node is Express all the same
        path = f"/destinations/{dest['id']}"
        assert api(stack, "PATCH", path, {"signaling": signaling})[0] == 200
    _, run = api(stack, "POST", "/runs", {"workflow_id": workflow["data"]["id"]})
    run_id = run["data"]["id"]
    engine = components.engine()
    engine.runs.start_run(ORG, run_id)
    outcome = engine.nodes.attempt(NodeAddress(ORG, run_id, "call", 1), express=EXPRESS)
    assert outcome["next"] == "deliver"
    event = {"mode": "now", "org_id": ORG, "run_id": run_id, "node_ref": "call", "attempt": 1}
    return event, dest


def dispatch(stack, event):
    return stack.invoke("DispatcherFunction", event)


def settled(event, express=EXPRESS):
    address = NodeAddress(ORG, event["run_id"], "call", 1)
    return components.engine().actions.action_settled(address, {}, express)


def node_of(event):
    return components.store().runs.get_node(ORG, event["run_id"], "call")


def test_now_delivers_records_and_returns_the_outcome_and_a_replay_posts_nothing(
    stack, receiver, resumed
):
    event, _ = express_attempt(stack, receiver.answer("/now", Answer(200, {"ok": True})))
    assert workflow_runs_express(event)
    assert dispatch(stack, event) == {"outcome": "success"}
    # A second execution of the node (Express runs at least once) after the answer: no POST.
    assert dispatch(stack, event) == {"outcome": "success"}
    assert len(receiver.at("/now")) == 1
    assert resumed == []  # nothing waits on a task token
    settled(event)
    node = node_of(event)
    assert node.status == "succeeded" and node.attempt_record(1).task_token is None


def workflow_runs_express(event) -> bool:
    run = components.store().runs.get_run(ORG, event["run_id"])
    engine = components.engine()
    return "call" in engine.advance.deps.workflow(ORG, run).express_nodes


def test_a_lease_held_by_another_execution_ends_this_one_quietly(stack, receiver, resumed):
    event, _ = express_attempt(stack, receiver.answer("/held", Answer(200, {})))
    until = iso(now() + timedelta(seconds=60))
    store = components.store().attempts
    assert store.claim_delivery(ORG, event["run_id"], "call", 1, until, None) is not None
    assert dispatch(stack, event) == {"outcome": "claimed"}
    assert receiver.at("/held") == []
    assert node_of(event).attempt_record(1).delivery is None  # nothing recorded for it


def test_a_refused_destination_is_recorded_and_returned_without_a_post(stack, receiver, resumed):
    event, _ = express_attempt(stack, receiver.answer("/ssrf", Answer(200, {})))
    components.dispatcher().allow_loopback = False
    assert dispatch(stack, event) == {"outcome": "failure"}
    assert receiver.at("/ssrf") == []
    assert settled(event) == {"next": "done"}
    node = node_of(event)
    assert node.status == "failed" and node.error["type"] == "DestinationRefused"
    assert "loopback" in node.error["message"]


def test_an_ack_awaits_its_callback_with_no_execution(stack, receiver, resumed):
    signaling = {"enabled": True, "default": "ack"}
    event, _ = express_attempt(stack, receiver.answer("/ack", Answer(202)), signaling=signaling)
    assert dispatch(stack, event) == {"outcome": "ack"}
    # No hand-off: the Express execution ends, the attempt awaits (engine/callbacks.py).
    assert settled(event) == {"next": "done"}
    tried = node_of(event).attempt_record(1)
    assert tried.awaiting_since and tried.status == "running" and tried.task_token is None
    engine = components.engine()
    address = NodeAddress(ORG, event["run_id"], "call", 1)
    # A replayed Express attempt step neither delivers anew nor hands off.
    assert engine.nodes.attempt(address, prepared=True, express=EXPRESS) == {"next": "done"}
    # A Standard execution reaching the acknowledged attempt (one handed off before awaiting
    # with no execution existed) still waits for the callback in AwaitSignal.
    waiting = engine.nodes.attempt(address, prepared=True)
    assert waiting["next"] == "signal" and waiting["attempt"] == 1
    assert waiting["heartbeat_seconds"] == 40  # the 10 s SLA and the margin
    assert engine.actions.await_signal(address, "std-token") == {}
    assert node_of(event).attempt_record(1).task_token == "std-token"
    assert resumed == []


def test_a_callback_before_the_wait_resumes_the_wait_at_once(stack, receiver, resumed):
    signaling = {"enabled": True, "default": "ack"}
    event, _ = express_attempt(stack, receiver.answer("/fast", Answer(202)), signaling=signaling)
    assert dispatch(stack, event) == {"outcome": "ack"}
    signal = {"kind": "success", "at": iso(now())}
    store = components.store().attempts
    assert store.record_signal(ORG, event["run_id"], "call", 1, signal, {"t": 1})
    # Signalled before the Express step looked: it settles there, no hand-off.
    assert settled(event) == {"next": "done"}
    assert node_of(event).status == "succeeded"


@pytest.fixture
def secret_reads(monkeypatch):
    """Every Secrets Manager read the code makes, by ARN."""
    reads: list[str] = []
    for name in ("_get", "_get_previous"):
        real = getattr(vault_module.Vault, name)

        def counted(self, arn, real=real):
            reads.append(arn)
            return real(self, arn)

        monkeypatch.setattr(vault_module.Vault, name, counted)
    return reads


def test_secrets_are_kept_between_deliveries_and_a_rotation_is_read_at_once(
    stack, receiver, resumed, secret_reads
):
    credential = {"name": "c", "type": "bearer", "token": "tok-1"}
    url = receiver.answer("/s", *[Answer(200, {})] * 3)
    first, dest = express_attempt(stack, url, credential=credential)
    dispatch(stack, first)
    reads = len(secret_reads)
    assert reads == 2  # the signing secret and the credential
    # A second delivery to the same destination in the same container reads nothing.
    third = {**first, "run_id": restart(stack, first)}
    dispatch(stack, third)
    assert len(secret_reads) == reads
    # Rotated: the next delivery signs with the new secret (and the old one in its grace).
    status, rotated = api(stack, "POST", f"/destinations/{dest['id']}/rotate-secret", {})
    assert status == 200
    fourth = {**first, "run_id": restart(stack, first)}
    dispatch(stack, fourth)
    assert len(secret_reads) > reads
    request = receiver.at("/s")[-1]
    Webhook(rotated["data"]["signing_secret"]).verify(request.body, request.headers)
    assert len(request.headers["webhook-signature"].split(" ")) == 2


def restart(stack, event) -> str:
    """Another run of the same workflow, its attempt 1 ready to deliver; its id."""
    run = components.store().runs.get_run(ORG, event["run_id"])
    _, made = api(stack, "POST", "/runs", {"workflow_id": run.workflow_id})
    run_id = made["data"]["id"]
    engine = components.engine()
    engine.runs.start_run(ORG, run_id)
    address = NodeAddress(ORG, run_id, "call", 1)
    assert engine.nodes.attempt(address, express=EXPRESS)["next"] == "deliver"
    return run_id


def test_a_deleted_credential_is_not_sent_whatever_is_kept(stack, receiver, resumed):
    credential = {"name": "c", "type": "bearer", "token": "tok-2"}
    url = receiver.answer("/del", Answer(200, {}), Answer(200, {}))
    event, dest = express_attempt(stack, url, credential=credential)
    dispatch(stack, event)
    assert receiver.at("/del")[0].headers["authorization"] == "Bearer tok-2"
    later = {**event, "run_id": restart(stack, event)}
    credential_id = dest["credential_id"]
    assert api(stack, "DELETE", f"/credentials/{credential_id}")[0] in (200, 204)
    assert dispatch(stack, later) == {"outcome": "failure"}
    assert len(receiver.at("/del")) == 1
    settled(later)
    node = components.store().runs.get_node(ORG, later["run_id"], "call")
    assert node.error["type"] == "DestinationRefused" and "deleted" in node.error["message"]
