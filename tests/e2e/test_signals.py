"""Callbacks, approvals and the dispatcher's guards end to end: real executions, real receiver,
signals through the served API, SignalQueue and the signals function."""

import json
import logging
import socket
import time

import pytest

from stepwise import components
from stepwise.infra import aws
from stepwise_local.receiver import Answer, Callback, Receiver, post_json
from tests.e2e.conftest import create_workflow, start_run, wait_for_run

SIGNALING = {"enabled": True, "default": "ack"}


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as running:
        yield running


def signaling_action(api, receiver, path, *answers, name=None, credential_id=None):
    """A destination with signaling at ``path`` and an action definition on it; its secret."""
    name = name or path.strip("/")
    body = {"label": name, "url": receiver.answer(path, *answers), "signaling": SIGNALING}
    if credential_id:
        body["credential_id"] = credential_id
    created = api.post("/destinations", json=body)
    assert created.status_code == 201, created.text
    destination = created.json()["data"]
    receiver.verify(path, destination["signing_secret"])
    definition = {"name": name, "destinations": [{"destination_id": destination["id"]}]}
    assert api.post("/actions/definitions", json=definition).status_code == 201
    return destination["signing_secret"]


def run_one(api, node, run_input=None, wait=True):
    run_id = start_run(api, create_workflow(api, {"name": "w", "nodes": [node]}), run_input)
    return wait_for_run(api, run_id) if wait else run_id


def wait_for_node(api, run_id, ref, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        run = api.get(f"/runs/{run_id}").json()["data"]
        node = next(n for n in run["nodes"] if n["ref"] == ref)
        if predicate(node):
            return node
        assert time.monotonic() < deadline, node
        time.sleep(0.05)


def test_ack_then_a_success_callback_completes_the_node(api, receiver):
    callback = Callback({"signal": "success", "result": {"ticket": "T-1"}}, after=0.3)
    signaling_action(api, receiver, "/ack-ok", Answer(202, callbacks=(callback,)))
    run = run_one(api, {"ref": "call", "kind": "action", "action": "ack-ok"})
    assert run["status"] == "succeeded", run["error"]
    [node] = run["nodes"]
    assert node["output"] == {"ticket": "T-1"}
    assert node["attempts"][0]["signal"]["kind"] == "success"
    [request] = receiver.at("/ack-ok")
    assert request.verified is True  # signed with the destination's secret
    assert [(c.signal, c.status) for c in receiver.callbacks if c.path == "/ack-ok"] == [
        ("success", 202)
    ]
    record = api.get(f"/actions/records/{run['id']}.call").json()["data"]
    kinds = [(e["kind"], e["status"]) for e in record["events"]]
    assert kinds == [
        ("dispatch", "running"),
        ("ack", "ack"),
        ("signal", "success"),
        ("success", "succeeded"),
    ]


def test_heartbeats_keep_an_acked_attempt_waiting_past_its_timeout(api, receiver):
    beats = tuple(Callback({"signal": "heartbeat"}, after=1.0) for _ in range(4))
    done = Callback({"signal": "success", "result": "late but alive"}, after=0.5)
    signaling_action(api, receiver, "/beats", Answer(202, callbacks=(*beats, done)))
    started = time.monotonic()
    run = run_one(
        api, {"ref": "call", "kind": "action", "action": "beats", "retry": {"timeout": 2}}
    )
    assert run["status"] == "succeeded", run["error"]
    assert time.monotonic() - started > 4  # well past the 2 s attempt timeout
    [attempt] = run["nodes"][0]["attempts"]
    assert attempt["heartbeats"] == 4 and run["nodes"][0]["output"] == "late but alive"


def test_a_callback_after_the_timeout_is_409_and_changes_nothing(api, receiver):
    signaling_action(api, receiver, "/ack-late", Answer(202))
    run = run_one(
        api,
        {"ref": "call", "kind": "action", "action": "ack-late", "retry": {"timeout": 1}},
    )
    assert run["status"] == "failed" and run["nodes"][0]["error"]["type"] == "Timeout"
    signal_url = receiver.at("/ack-late")[0].payload["data"]["signal_url"]
    status, body = post_json(signal_url, {"signal": "success", "result": 1})
    assert status == 409 and "timed out" in body["errors"][0]["message"]
    assert api.get(f"/runs/{run['id']}").json()["data"] == run


def test_a_forged_or_altered_signal_token_is_401(local_stack, api, receiver):
    signaling_action(api, receiver, "/ack-forged", Answer(202))
    run_id = run_one(
        api,
        {"ref": "call", "kind": "action", "action": "ack-forged", "retry": {"timeout": 2}},
        wait=False,
    )
    wait_for_node(api, run_id, "call", lambda n: receiver.at("/ack-forged"))
    signal_url = receiver.at("/ack-forged")[0].payload["data"]["signal_url"]
    base, token = signal_url.rsplit("/", 1)
    body, mac = token.split(".")
    forged = f"{body}.{'A' * len(mac)}"
    assert post_json(f"{base}/{forged}", {"signal": "success"})[0] == 401
    assert post_json(f"{base}/not-a-token", {"signal": "success"})[0] == 401
    run = wait_for_run(api, run_id)
    assert run["status"] == "failed" and run["nodes"][0]["error"]["type"] == "Timeout"


def test_one_sqs_message_delivered_twice_has_one_effect(local_stack, api, receiver):
    signaling_action(api, receiver, "/twice", Answer(200, {"signal": "success", "result": 1}))
    run = run_one(api, {"ref": "call", "kind": "action", "action": "twice"})
    assert run["status"] == "succeeded"
    item = components.store().runs.get_node(local_stack.org_id, run["id"], "call")
    message = {
        "org_id": local_stack.org_id,
        "run_id": run["id"],
        "node_ref": "call",
        "attempt": 1,
        "task_token": item.attempt_record(1).task_token,
    }
    queue_url = local_stack.stack.names["WebhookQueue"]
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))
    deadline = time.monotonic() + 10
    while int(
        sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]["ApproximateNumberOfMessages"]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    assert len(receiver.at("/twice")) == 1
    assert api.get(f"/runs/{run['id']}").json()["data"] == run


# -- approvals ---------------------------------------------------------------------------------


def approval_workflow(api):
    return create_workflow(
        api,
        {
            "name": "gated",
            "nodes": [
                {"ref": "gate", "kind": "approval"},
                {"ref": "ship", "kind": "transform", "args": "shipped", "depends_on": ["gate"]},
            ],
        },
    )


def test_an_approved_node_lets_the_run_go_on(api, approver_api):
    run_id = start_run(api, approval_workflow(api))
    wait_for_node(api, run_id, "gate", lambda n: n["status"] == "running")
    review = approver_api.post(
        f"/runs/{run_id}/nodes/gate/approval", json={"decision": "approve", "comment": "ok"}
    )
    assert review.status_code == 202, review.text
    run = wait_for_run(api, run_id)
    assert run["status"] == "succeeded"
    assert run["reviewed_by"] == "key:approver" and run["reviewed_at"]
    gate, ship = run["nodes"]
    assert gate["review"]["comment"] == "ok" and ship["output"] == "shipped"
    assert gate["review"]["reviewed_by_key"].startswith("key_")
    again = approver_api.post(f"/runs/{run_id}/nodes/gate/approval", json={"decision": "reject"})
    assert again.status_code == 409


def test_a_rejected_node_fails_the_run(api, approver_api):
    run_id = start_run(api, approval_workflow(api))
    wait_for_node(api, run_id, "gate", lambda n: n["status"] == "running")
    review = approver_api.post(
        f"/runs/{run_id}/nodes/gate/approval", json={"decision": "reject", "comment": "no"}
    )
    assert review.status_code == 202
    run = wait_for_run(api, run_id)
    assert run["status"] == "failed" and run["error"]["type"] == "Rejected"
    assert [n["status"] for n in run["nodes"]] == ["failed", "cancelled"]


def test_an_approval_nobody_reviews_times_out_per_its_retry_policy(api):
    node = {"ref": "gate", "kind": "approval", "retry": {"timeout": 1, "max_attempts": 2}}
    run = run_one(api, node)
    assert run["status"] == "failed" and run["nodes"][0]["error"]["type"] == "Timeout"
    assert len(run["nodes"][0]["attempts"]) == 2


# -- guards --------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["169.254.169.254", "10.0.0.1", "::1"])
def test_a_destination_resolving_to_a_non_public_address_is_refused_at_dispatch(
    api, receiver, monkeypatch, address
):
    """The URL passed the save-time check (a name); at dispatch it resolves somewhere private
    (DNS rebinding) and loopback is not allowed: nothing is sent, the node says why."""
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "hook.rebind.test":
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, 80))]
        return real(host, *args, **kwargs)

    name = f"rebind-{address.replace(':', '').replace('.', '-')}"
    created = api.post("/destinations", json={"label": name, "url": "http://hook.rebind.test/x"})
    assert created.status_code == 201, created.text
    definition = {"name": name, "destinations": [{"destination_id": created.json()["data"]["id"]}]}
    assert api.post("/actions/definitions", json=definition).status_code == 201
    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(components.dispatcher(), "allow_loopback", False)
    run = run_one(api, {"ref": "call", "kind": "action", "action": name})
    error = run["nodes"][0]["error"]
    assert run["status"] == "failed" and error["type"] == "DestinationRefused"
    assert address in error["message"] and "SSRF" in error["message"]


def test_no_credential_value_or_signing_secret_is_in_a_response_or_a_log_line(
    api, receiver, caplog, capfd
):
    service = logging.getLogger("stepwise")
    service.addHandler(caplog.handler)
    level = service.level
    service.setLevel(logging.DEBUG)  # LogLevel=DEBUG, the most a deployment can log
    try:
        token_value = "tok-very-secret-4711"
        credential = api.post(
            "/credentials", json={"name": "svc", "type": "bearer", "token": token_value}
        )
        assert credential.status_code == 201
        callback = Callback({"signal": "success", "result": {"done": True}}, after=0.2)
        secret = signaling_action(
            api,
            receiver,
            "/secretive",
            Answer(202, callbacks=(callback,)),
            credential_id=credential.json()["data"]["id"],
        )
        responses = [credential.text]
        run = run_one(api, {"ref": "call", "kind": "action", "action": "secretive"})
        assert run["status"] == "succeeded", run["error"]
        run_id = run["id"]
        for path in (
            f"/runs/{run_id}",
            f"/runs/{run_id}/history",
            f"/runs/{run_id}/actions",
            f"/actions/records/{run_id}.call",
            "/destinations",
            "/credentials",
            "/actions/definitions",
        ):
            response = api.get(path)
            assert response.status_code == 200, path
            responses.append(response.text)
    finally:
        service.removeHandler(caplog.handler)
        service.setLevel(level)
    [request] = receiver.at("/secretive")
    assert request.headers["authorization"] == f"Bearer {token_value}"  # it was used
    signal_token = request.payload["data"]["signal_url"].rsplit("/", 1)[1]
    captured = capfd.readouterr()
    logs = [r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records]
    assert len(logs) > 10  # the flow was logged
    texts = [*responses, *logs, captured.out, captured.err]
    secret_key = secret.removeprefix("whsec_")
    for text in texts:
        assert token_value not in text
        assert secret_key not in text
        assert signal_token not in text  # it authorises signals on its own
