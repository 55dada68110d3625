"""An Express execution's action attempt in one engine step (``ActionSteps.attempt_now``): the
attempt opened with its lease for the execution, the POST, the answer recorded and the node
settled, in one invocation and two writes of the node; the lease's owner takes it again, a
duplicate execution does not; the same step serves a for_each item."""

from datetime import timedelta

import pytest

from stepwise import components
from stepwise.actions.dispatcher import Dispatcher
from stepwise.core.clock import iso, now
from stepwise.infra import dynamo, keys
from stepwise_local.receiver import Answer
from tests.integration.actions.test_dispatch_now import api
from tests.integration.actions.test_for_each_deliveries import fanned_out

ORG = "acme"
OWNER = "arn:aws:states:us-east-1:123456789012:express:sw-node-express:run.call:1111"
DUPLICATE = "arn:aws:states:us-east-1:123456789012:express:sw-node-express:run.call:2222"


def express_run(stack, url, retry=None):
    """A run whose action node (Express) is ready for its first attempt; the run's id."""
    dest = api(stack, "POST", "/destinations", {"label": "d", "url": url})[1]["data"]
    definition = {"name": "act", "destinations": [{"destination_id": dest["id"]}]}
    assert api(stack, "POST", "/actions/definitions", definition)[0] == 201
    node = {"ref": "call", "kind": "action", "action": "act", "args": {"n": 1}}
    if retry:
        node["retry"] = retry
    _, workflow = api(stack, "POST", "/workflows", {"name": "w", "nodes": [node]})
    _, run = api(stack, "POST", "/runs", {"workflow_id": workflow["data"]["id"]})
    run_id = run["data"]["id"]
    components.engine().runs.start_run(ORG, run_id)
    return run_id


def step(run_id, owner=OWNER, attempt=1, prepared=False):
    """The Express machine's Attempt step as the engine function receives it."""
    return components.engine().handle(
        {
            "step": "attempt",
            "org_id": ORG,
            "run_id": run_id,
            "node_ref": "call",
            "attempt": attempt,
            "prepared": prepared,
            "express": True,
            "started_at": iso(now()),
            "owner": owner,
        }
    )


def node_of(run_id):
    return components.store().runs.get_node(ORG, run_id, "call")


@pytest.fixture
def node_writes(monkeypatch):
    """The sort key of every UpdateItem the code makes."""
    written: list[str] = []
    real = dynamo.update_item

    def counted(table, key, *args, **kwargs):
        written.append(key.get("SK", ""))
        return real(table, key, *args, **kwargs)

    monkeypatch.setattr(dynamo, "update_item", counted)
    return written


def test_one_step_delivers_records_and_settles_in_two_writes_of_the_node(
    stack, receiver, resumed, node_writes
):
    run_id = express_run(stack, receiver.answer("/once", Answer(200, {"ok": True})))
    node_key = keys.record(ORG, run_id, "call", None)["SK"]
    node_writes.clear()
    assert step(run_id)["next"] == "done"
    # Opened with its lease, then answered and settled: two writes where five were.
    assert node_writes.count(node_key) == 2
    node = node_of(run_id)
    assert node.status == "succeeded"
    assert components.store().payloads.read(node.output) == {"ok": True}
    tried = node.attempt_record(1)
    assert tried.status == "succeeded" and tried.claimed_by == OWNER
    assert tried.delivery["kind"] == "success" and tried.heartbeat_seconds == 40
    assert tried.action["name"] == "act"
    assert components.store().runs.get_run(ORG, run_id).status == "succeeded"
    assert len(receiver.at("/once")) == 1
    # The action record the API serves keeps the attempt and its answer.
    status, record = api(stack, "GET", f"/actions/records/{run_id}.call")
    assert status == 200
    kinds = [e["kind"] for e in record["data"]["events"]]
    assert "success" in kinds, kinds
    # The step run again after it finished (its answer lost): nothing is posted again.
    assert step(run_id)["next"] == "done"
    assert len(receiver.at("/once")) == 1


@pytest.fixture
def item_reads(monkeypatch):
    """The key of every GetItem the code makes."""
    read: list[tuple[str, str]] = []
    real = dynamo.get_item

    def counted(table, key, *args, **kwargs):
        read.append((key["PK"], key["SK"]))
        return real(table, key, *args, **kwargs)

    monkeypatch.setattr(dynamo, "get_item", counted)
    return read


def test_one_step_reads_the_node_and_its_destination_once(stack, receiver, resumed, item_reads):
    run_id = express_run(stack, receiver.answer("/read", Answer(200, {"ok": True})))
    item_reads.clear()
    assert step(run_id)["next"] == "done"
    reads = list(item_reads)
    node = node_of(run_id)
    assert node.status == "succeeded"
    node_key = keys.node(ORG, run_id, "call")
    dest_key = keys.destination(ORG, node.attempt_record(1).action["destination_id"])
    # The node is read by the step, not again once its settle said how it ended; the
    # destination once for its SLA, its URL and its lease.
    assert reads.count((node_key["PK"], node_key["SK"])) == 1
    assert reads.count((dest_key["PK"], dest_key["SK"])) == 1


def test_a_duplicate_execution_finds_the_lease_held_and_the_owner_takes_it_again(
    stack, receiver, resumed, monkeypatch
):
    run_id = express_run(stack, receiver.answer("/dup", Answer(200, {"n": 1})))
    # The owner's first run of the step opened the attempt and crashed mid-POST (a Lambda
    # timeout): its lease stands, nothing was answered.
    real_post = Dispatcher.post_attempt
    monkeypatch.setattr(Dispatcher, "post_attempt", _crash)
    with pytest.raises(ConnectionResetError):
        step(run_id)
    monkeypatch.setattr(Dispatcher, "post_attempt", real_post)
    assert node_of(run_id).attempt_record(1).claimed_by == OWNER
    # Another execution of the node (Express runs at least once) ends at the lease.
    assert step(run_id, owner=DUPLICATE) == {"next": "done", "claimed": True}
    assert receiver.at("/dup") == [] and node_of(run_id).status == "running"
    # Step Functions retries the owner's step: it takes its own lease again and delivers.
    assert step(run_id)["next"] == "done"
    node = node_of(run_id)
    assert node.status == "succeeded" and node.attempt_record(1).claimed_by == OWNER
    assert len(receiver.at("/dup")) == 1


def _crash(*args, **kwargs):
    raise ConnectionResetError("the invocation ended mid-POST")


def test_a_duplicate_takes_over_a_lease_that_ran_out(stack, receiver, resumed):
    run_id = express_run(stack, receiver.answer("/late", Answer(200, {})))
    store = components.store().attempts
    past = iso(now() - timedelta(seconds=1))
    wait = (iso(now() + timedelta(seconds=40)), 40)
    pinned = {"name": "act", "version": 1, "destination_id": None}
    assert store.open_delivery(ORG, run_id, "call", 1, {"n": 1}, pinned, wait, past, OWNER)
    assert step(run_id, owner=DUPLICATE)["next"] == "done"
    node = node_of(run_id)
    assert node.status == "succeeded" and node.attempt_record(1).claimed_by == DUPLICATE
    assert len(receiver.at("/late")) == 1


def test_a_failure_schedules_the_retry_in_the_same_write_as_the_answer(
    stack, receiver, resumed, node_writes
):
    url = receiver.answer("/retry", Answer(500, {}), Answer(200, {"ok": 2}))
    run_id = express_run(stack, url, retry={"max_attempts": 2, "initial_interval": 1})
    node_key = keys.record(ORG, run_id, "call", None)["SK"]
    node_writes.clear()
    outcome = step(run_id)
    assert outcome == {"next": "again", "attempt": 2, "wait_seconds": 1}
    assert node_writes.count(node_key) == 2
    tried = node_of(run_id).attempt_record(1)
    assert tried.status == "retry_scheduled" and tried.delivery["kind"] == "failure"
    assert step(run_id, attempt=2, prepared=True)["next"] == "done"
    assert node_of(run_id).status == "succeeded"
    assert len(receiver.at("/retry")) == 2


def test_a_retry_after_that_does_not_fit_hands_the_node_to_standard(stack, receiver, resumed):
    answer = Answer(503, {}, headers={"Retry-After": "300"})
    run_id = express_run(stack, receiver.answer("/ra", answer), retry={"max_attempts": 3})
    assert step(run_id) == {"next": "handoff", "attempt": 1, "prepared": True}
    tried = node_of(run_id).attempt_record(1)
    assert tried.status == "retry_scheduled" and tried.delivery["retry_after"] == 300


def test_a_retry_after_that_fits_stretches_the_wait(stack, receiver, resumed):
    answer = Answer(429, {}, headers={"Retry-After": "7"})
    run_id = express_run(stack, receiver.answer("/ra7", answer), retry={"max_attempts": 3})
    assert step(run_id) == {"next": "again", "attempt": 2, "wait_seconds": 7}


def test_a_callback_that_overtook_the_answer_settles_the_node(
    stack, receiver, resumed, monkeypatch
):
    """The destination gained signaling and called back before its HTTP answer came: the
    callback settles the attempt; the answer is recorded beside it."""
    run_id = express_run(stack, receiver.answer("/cb", Answer(200, {"from": "answer"})))
    real_post = Dispatcher.post_attempt

    def post_then_signal(self, target, *args):
        outcome = real_post(self, target, *args)
        signal = {"kind": "success", "at": iso(now())}
        store = components.store().attempts
        assert store.record_signal(ORG, run_id, "call", 1, signal, {"from": "callback"})
        return outcome

    monkeypatch.setattr(Dispatcher, "post_attempt", post_then_signal)
    assert step(run_id)["next"] == "done"
    node = node_of(run_id)
    assert node.status == "succeeded"
    assert components.store().payloads.read(node.output) == {"from": "callback"}
    assert node.attempt_record(1).delivery["kind"] == "success"


def test_an_item_attempt_delivers_and_settles_the_item_in_one_step(stack, receiver, resumed):
    run_id = fanned_out(stack, receiver.answer("/items", Answer(200, {"v": 1})), [5])
    outcome = components.engine().handle(
        {
            "step": "item_attempt",
            "org_id": ORG,
            "run_id": run_id,
            "node_ref": "call",
            "index": 0,
            "attempt": 1,
            "owner": OWNER,
        }
    )
    assert outcome == {"next": "done"}
    item = components.store().nodes.get_item(ORG, run_id, "call", 0)
    assert item.status == "succeeded" and item.attempt_record(1).claimed_by == OWNER
    assert components.store().payloads.read(item.output) == {"v": 1}
    [posted] = receiver.at("/items")
    assert posted.headers["webhook-id"] == f"{run_id}.call[0]"
    # A duplicate chunk execution reaching the settled item changes nothing.
    again = {"step": "item_attempt", "org_id": ORG, "run_id": run_id, "node_ref": "call"}
    assert components.engine().handle({**again, "index": 0, "attempt": 1, "owner": DUPLICATE}) == {
        "next": "done"
    }
    assert len(receiver.at("/items")) == 1


def test_a_destination_without_signaling_never_reads_the_signal_key(
    stack, receiver, resumed, monkeypatch
):
    """The engine's containers now deliver too: a delivery that issues no signal URL reads no
    signal-signing key (it was read whenever a process built its dispatcher)."""
    from stepwise.infra import hmac_keys

    reads: list[str] = []
    real = hmac_keys.hmac_key
    monkeypatch.setattr(hmac_keys, "hmac_key", lambda arn: reads.append(arn) or real(arn))
    components.dispatcher.cache_clear()
    components.signal_tokens.cache_clear()
    run_id = express_run(stack, receiver.answer("/nokey", Answer(200, {})))
    assert step(run_id)["next"] == "done"
    assert node_of(run_id).status == "succeeded" and reads == []
