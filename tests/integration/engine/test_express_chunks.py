"""A for_each node whose items fit in an Express execution, driven step by step (state machines
do not execute here). Express runs an execution at least once and does not deduplicate names, so
every step may run twice, concurrently: these tests run each step twice and check that the node
ends as if once."""

import json
from datetime import datetime, timedelta

import boto3
import pytest

from stepwise import components
from stepwise.core.statuses import NodeStatus
from stepwise.engine import fan_out_plan
from stepwise.engine.address import NodeAddress
from stepwise.engine.for_each_steps import EXPRESS_RESTART_SECONDS
from tests.helpers import deliver
from tests.integration.engine.test_engine_steps import ORG, start_run, step

# retry.timeout 60: an item takes at most 60 s, so 4 rounds fit in 240 s; max_concurrency 2
# makes Express chunks of 8 items in one lane: 20 items are chunks 0 to 2 (8, 8, 4).
WORKFLOW = {
    "name": "fast fan",
    "nodes": [
        {
            "ref": "each",
            "kind": "transform",
            "for_each": "{{ input.xs }}",
            "max_concurrency": 2,
            "retry": {"max_attempts": 1, "timeout": 60},
            "args": {"i": "{{ index }}", "twice": "{{ [item, item] }}"},
        }
    ],
}


@pytest.fixture(autouse=True)
def _every_node_is_an_execution(stack):
    components.engine().advance.inline_limit = 0


def express_starts(stack, run_id: str) -> list[dict]:
    """The input of every Express chunk execution started for the run, oldest first (the
    tests read them back from moto; the engine itself never lists or describes them)."""
    sfn = boto3.client("stepfunctions")
    arn = stack.stack.names["ItemsExpressStateMachine"]
    started = []
    for execution in sfn.list_executions(stateMachineArn=arn)["executions"]:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        payload = json.loads(described["input"])
        if payload["run_id"] == run_id:
            started.append((execution["startDate"], payload))
    return [payload for _, payload in sorted(started, key=lambda s: s[0])]


def standard_starts(stack, run_id: str) -> list[str]:
    sfn = boto3.client("stepfunctions")
    arn = stack.stack.names["ItemsStateMachine"]
    return [
        e["name"]
        for e in sfn.list_executions(stateMachineArn=arn)["executions"]
        if run_id in e["name"]
    ]


def fanned_out(stack, workflow=WORKFLOW, items=20) -> str:
    run_id = start_run(stack, workflow, {"xs": list(range(100, 100 + items))})
    deliver(stack, "start", run_id)
    outcome = step(stack, "attempt", run_id, node_ref="each", attempt=1)
    assert outcome["next"] == "map"
    return run_id


def run_chunk(stack, run_id: str, chunk: int, times: int = 2) -> None:
    """Every item step of the chunk, ``times`` times (a duplicate execution), then ChunkDone
    ``times`` times."""
    node = components.store().runs.get_node(ORG, run_id, "each")
    first = chunk * node.chunk_size
    indices = range(first, min(first + node.chunk_size, node.item_count))
    for _ in range(times):
        for index in indices:
            step(stack, "item_attempt", run_id, node_ref="each", index=index, attempt=1)
    for _ in range(times):
        step(stack, "chunk_done", run_id, node_ref="each", chunk=chunk)


def test_items_that_fit_run_in_express_chunks_and_every_step_twice_counts_once(stack, resumed):
    run_id = fanned_out(stack)
    node = components.store().runs.get_node(ORG, run_id, "each")
    assert (node.chunk_machine, node.chunk_size, node.chunk_lanes) == ("express", 8, 1)

    step(stack, "start_items", run_id, node_ref="each", task_token="fan-1")
    step(stack, "start_items", run_id, node_ref="each", task_token="fan-2")  # a retried FanOut
    # One start of chunk 0 although FanOut ran twice: the start is claimed on the node.
    assert [s["chunk"] for s in express_starts(stack, run_id)] == [0]
    assert express_starts(stack, run_id)[0]["indices"] == list(range(8))
    assert express_starts(stack, run_id)[0]["max_concurrency"] == 2
    assert standard_starts(stack, run_id) == []

    run_chunk(stack, run_id, 0)
    run_chunk(stack, run_id, 1)
    assert resumed == []
    run_chunk(stack, run_id, 2)
    # Each chunk started once, whatever ran twice; the last ChunkDone resumed FanOut, twice
    # (the second resume's token is spent: harmless).
    assert [s["chunk"] for s in express_starts(stack, run_id)] == [0, 1, 2]
    assert resumed and set(resumed) == {("fan-2", "items_done")}
    node = components.store().runs.get_node(ORG, run_id, "each")
    assert node.chunks_done == {0, 1, 2}
    items = components.store().nodes.list_items(ORG, run_id, "each")
    assert [(i.status, i.attempt, len(i.attempts)) for i in items] == [
        (NodeStatus.SUCCEEDED, 1, 1)
    ] * 20

    step(stack, "collect_items", run_id, node_ref="each")
    node = components.store().runs.get_node(ORG, run_id, "each")
    assert node.status == NodeStatus.SUCCEEDED
    output = components.store().payloads.read(node.output)
    assert output == [{"i": i, "twice": [100 + i, 100 + i]} for i in range(20)]


def test_a_chunk_counts_only_once_every_item_has_settled(stack, resumed):
    """An execution whose item ended early (an action item's delivery claimed by the other
    execution) reaches ChunkDone first: it must not count the chunk while the other execution
    still settles that item, or the node would collect an unfinished item."""
    run_id = fanned_out(stack)
    step(stack, "start_items", run_id, node_ref="each", task_token="fan")
    for index in range(7):  # item 7 is still running in the other execution
        step(stack, "item_attempt", run_id, node_ref="each", index=index, attempt=1)
    step(stack, "chunk_done", run_id, node_ref="each", chunk=0)
    assert components.store().runs.get_node(ORG, run_id, "each").chunks_done == frozenset()
    assert [s["chunk"] for s in express_starts(stack, run_id)] == [0]

    step(stack, "item_attempt", run_id, node_ref="each", index=7, attempt=1)
    step(stack, "chunk_done", run_id, node_ref="each", chunk=0)
    assert components.store().runs.get_node(ORG, run_id, "each").chunks_done == {0}
    assert [s["chunk"] for s in express_starts(stack, run_id)] == [0, 1]


def test_the_janitor_starts_an_express_chunk_again_only_after_five_minutes(stack, resumed):
    """Express executions cannot be described, so the janitor goes by the chunk's start: a
    chunk not counted 6 minutes after its start (Express ended it at 5) starts again, and its
    second run finishes what the first left."""
    run_id = fanned_out(stack)
    step(stack, "start_items", run_id, node_ref="each", task_token="fan")
    for index in range(3):  # the first execution ran 3 items, then ended (timed out, lost)
        step(stack, "item_attempt", run_id, node_ref="each", index=index, attempt=1)
    started = datetime.fromisoformat(
        components.store().runs.get_node(ORG, run_id, "each").chunk_starts["0.0"]
    )

    janitor = components.janitor()  # its grace (5 minutes) has passed for the node by then
    soon = janitor.sweep(started + timedelta(seconds=EXPRESS_RESTART_SECONDS - 30))
    assert [h for h in soon.nodes if h["run_id"] == run_id] == []
    late = started + timedelta(seconds=EXPRESS_RESTART_SECONDS + 1)
    report = janitor.sweep(late)
    healed = [h["action"] for h in report.nodes if h["run_id"] == run_id]
    assert healed == ["restarted chunk 0"]
    assert [s["chunk"] for s in express_starts(stack, run_id)] == [0, 0]
    # A sweep right after finds the new start fresh: nothing more.
    report = janitor.sweep(late + timedelta(seconds=5))
    assert [h for h in report.nodes if h["run_id"] == run_id] == []

    run_chunk(stack, run_id, 0, times=1)  # the second execution
    node = components.store().runs.get_node(ORG, run_id, "each")
    assert node.chunks_done == {0}
    items = components.store().nodes.list_items(ORG, run_id, "each")
    assert [(i.status, len(i.attempts)) for i in items[:8]] == [(NodeStatus.SUCCEEDED, 1)] * 8


def test_a_fresh_chunk_start_is_not_repeated_by_the_janitor(stack, resumed):
    run_id = fanned_out(stack)
    step(stack, "start_items", run_id, node_ref="each", task_token="fan")
    started = datetime.fromisoformat(
        components.store().runs.get_node(ORG, run_id, "each").chunk_starts["0.0"]
    )
    engine = components.engine()
    node = components.store().runs.get_node(ORG, run_id, "each")
    at = started + timedelta(seconds=EXPRESS_RESTART_SECONDS - 1)
    assert engine.for_each.heal_chunks(ORG, run_id, node, at) == []
    assert [s["chunk"] for s in express_starts(stack, run_id)] == [0]


def test_a_failed_start_drops_its_claim_so_that_a_retry_starts_the_chunk(
    stack, resumed, monkeypatch
):
    from stepwise.infra import executions

    run_id = fanned_out(stack)
    real = executions.start_items_express

    def refused(*args, **kwargs):
        raise RuntimeError("StartExecution throttled")

    monkeypatch.setattr(executions, "start_items_express", refused)
    with pytest.raises(RuntimeError):
        components.engine().for_each.start_items(NodeAddress(ORG, run_id, "each"), "fan-1")
    assert components.store().runs.get_node(ORG, run_id, "each").chunk_starts == {}
    monkeypatch.setattr(executions, "start_items_express", real)
    step(
        stack, "start_items", run_id, node_ref="each", task_token="fan-2"
    )  # Step Functions retries
    assert [s["chunk"] for s in express_starts(stack, run_id)] == [0]


def test_a_settling_run_stops_no_express_chunk_and_its_items_cancel(stack, resumed, monkeypatch):
    """StopExecution does not serve Express executions: the run's end calls none for them; the
    chunk's items see the run settling and end cancelled, and no further chunk starts."""
    from stepwise.infra import executions

    stopped: list = []
    monkeypatch.setattr(executions, "stop_items", lambda *a, **k: stopped.append(a))
    run_id = fanned_out(stack)
    step(stack, "start_items", run_id, node_ref="each", task_token="fan")
    assert components.engine().runs.finalize_run(ORG, run_id, {"reason": "cancelled"})
    assert stopped == []
    run_chunk(stack, run_id, 0)
    items = components.store().nodes.list_items(ORG, run_id, "each")
    assert {i.status for i in items[:8]} == {NodeStatus.CANCELLED}
    assert [s["chunk"] for s in express_starts(stack, run_id)] == [0]


@pytest.mark.parametrize(
    ("retry", "machine"),
    [
        ({"max_attempts": 3, "initial_interval": 1}, "express"),  # 3 x 5 s + 1 + 2
        ({"max_attempts": 2, "initial_interval": 300}, "standard"),  # one backoff of 5 minutes
        ({"max_attempts": 1, "timeout": 241}, "standard"),  # one attempt may take 241 s
    ],
)
def test_the_retry_policy_chooses_the_machine(stack, resumed, retry, machine):
    workflow = json.loads(json.dumps(WORKFLOW))
    workflow["nodes"][0]["retry"] = retry
    run_id = fanned_out(stack, workflow, items=3)
    node = components.store().runs.get_node(ORG, run_id, "each")
    assert node.chunk_machine == machine
    step(stack, "start_items", run_id, node_ref="each", task_token="fan")
    if machine == "express":
        assert (len(express_starts(stack, run_id)), standard_starts(stack, run_id)) == (1, [])
    else:
        assert (express_starts(stack, run_id), len(standard_starts(stack, run_id))) == ([], 1)
    assert fan_out_plan.EXPRESS_BUDGET_SECONDS == 240


def test_a_transform_item_attempt_is_recorded_in_one_write(stack, resumed, monkeypatch):
    """The attempt starts and ends within its step: one conditional UpdateItem records it whole
    (it was a start and an end: 2 writes an item), and its record is what the two gave."""
    from stepwise.infra import dynamo

    run_id = fanned_out(stack)
    real = dynamo.update_item
    writes: list[str] = []

    def counted(table, key, *args, **kwargs):
        writes.append(key["SK"])
        return real(table, key, *args, **kwargs)

    monkeypatch.setattr(dynamo, "update_item", counted)
    assert step(stack, "item_attempt", run_id, node_ref="each", index=3, attempt=1) == {
        "next": "done"
    }
    assert writes == ["ITEM#000003"]
    monkeypatch.setattr(dynamo, "update_item", real)
    item = components.store().nodes.get_item(ORG, run_id, "each", 3)
    assert (item.status, item.attempt, item.started_at is not None) == ("succeeded", 1, True)
    tried = item.attempt_record(1)
    assert (tried.status, tried.started_at, tried.completed_at) == (
        "succeeded",
        item.finished_at,
        item.finished_at,
    )
    assert components.store().payloads.read(item.output) == {"i": 3, "twice": [103, 103]}
    # Run again (a duplicate execution): nothing is written, the item stays as it was.
    writes.clear()
    monkeypatch.setattr(dynamo, "update_item", counted)
    step(stack, "item_attempt", run_id, node_ref="each", index=3, attempt=1)
    assert writes == []


def test_an_engine_process_reads_a_node_s_ancestors_once_for_all_its_items(
    stack, resumed, monkeypatch
):
    workflow = {
        "name": "rooted fan",
        "nodes": [
            {"ref": "root", "kind": "transform", "args": {"k": "{{ input.k }}"}},
            {
                **WORKFLOW["nodes"][0],
                "depends_on": ["root"],
                "args": "{{ [item, nodes.root.output.k] }}",
            },
        ],
    }
    run_id = start_run(stack, workflow, {"xs": [1, 2, 3, 4], "k": "K"})
    deliver(stack, "start", run_id)
    step(stack, "attempt", run_id, node_ref="root", attempt=1)
    assert step(stack, "attempt", run_id, node_ref="each", attempt=1)["next"] == "map"
    runs = components.store().runs
    real = runs.get_nodes
    reads: list[list[str]] = []
    monkeypatch.setattr(
        runs, "get_nodes", lambda o, r, refs: reads.append(refs) or real(o, r, refs)
    )
    for index in range(4):
        step(stack, "item_attempt", run_id, node_ref="each", index=index, attempt=1)
    assert reads == [["root"]]
    items = components.store().nodes.list_items(ORG, run_id, "each")
    outputs = [components.store().payloads.read(i.output) for i in items]
    assert outputs == [[1, "K"], [2, "K"], [3, "K"], [4, "K"]]
