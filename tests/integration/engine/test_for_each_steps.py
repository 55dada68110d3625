"""A for_each node's chunks driven step by step (state machines do not execute here): the
FanOut token is kept, each lane starts its first chunk, a chunk that ends starts the next of its
lane, a repeated chunk_done counts once, and only the last chunk resumes the node."""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from stepwise import components
from stepwise.core.statuses import NodeStatus
from stepwise.infra import executions
from tests.helpers import deliver
from tests.integration.engine.test_engine_steps import ORG, start_run, step

# max_attempts 100: chunks of 5 items; 12 items are 3 chunks; max_concurrency 10: 2 lanes.
WORKFLOW = {
    "name": "fan",
    "nodes": [
        {
            "ref": "each",
            "kind": "transform",
            "for_each": "{{ input.xs }}",
            "max_concurrency": 10,
            "retry": {"max_attempts": 100, "initial_interval": 0},
            "args": "{{ item }}",
        }
    ],
}


@pytest.fixture(autouse=True)
def _every_node_is_an_execution(stack):
    components.engine().advance.inline_limit = 0


def chunk_inputs(stack, run_id: str) -> dict[int, dict]:
    """The input of every chunk execution started for the run's node, by chunk."""
    sfn = boto3.client("stepfunctions")
    arn = stack.stack.names["ItemsStateMachine"]
    started = {}
    for execution in sfn.list_executions(stateMachineArn=arn)["executions"]:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        payload = json.loads(described["input"])
        if payload["run_id"] == run_id:
            assert execution["name"] == executions.items_execution_name(
                run_id, "each", payload["chunk"]
            )
            started[payload["chunk"]] = payload
    return started


def fanned_out(stack) -> str:
    run_id = start_run(stack, WORKFLOW, {"xs": list(range(12))})
    deliver(stack, "start", run_id)
    outcome = step(stack, "attempt", run_id, node_ref="each", attempt=1)
    assert outcome["next"] == "map" and outcome["timeout_seconds"] > 0
    return run_id


def test_lanes_start_their_chunks_and_the_last_chunk_resumes_the_node(stack, resumed):
    run_id = fanned_out(stack)
    node = components.store().runs.get_node(ORG, run_id, "each")
    assert (node.item_count, node.chunk_size, node.chunk_lanes) == (12, 5, 2)

    step(stack, "start_items", run_id, node_ref="each", task_token="fan-1")
    step(stack, "start_items", run_id, node_ref="each", task_token="fan-2")  # a retried step
    started = chunk_inputs(stack, run_id)
    assert sorted(started) == [0, 1]
    assert started[0]["indices"] == [0, 1, 2, 3, 4] and started[1]["indices"] == [5, 6, 7, 8, 9]
    assert started[0]["max_concurrency"] + started[1]["max_concurrency"] == 10

    for _ in range(2):  # a duplicate delivery of the same chunk's end
        step(stack, "chunk_done", run_id, node_ref="each", chunk=0)
    assert sorted(chunk_inputs(stack, run_id)) == [0, 1, 2]
    assert chunk_inputs(stack, run_id)[2]["indices"] == [10, 11]
    step(stack, "chunk_done", run_id, node_ref="each", chunk=1)
    assert resumed == [], "3 chunk_done calls, but only chunks 0 and 1 are done"

    step(stack, "chunk_done", run_id, node_ref="each", chunk=2)
    assert resumed == [("fan-2", "items_done")]
    assert components.store().runs.get_node(ORG, run_id, "each").chunks_done == {0, 1, 2}

    # The FanOut step retried after the last chunk: it resumes at once, starting nothing.
    step(stack, "start_items", run_id, node_ref="each", task_token="fan-3")
    assert resumed[-1] == ("fan-3", "items_done")
    assert sorted(chunk_inputs(stack, run_id)) == [0, 1, 2]


def test_a_settling_run_starts_no_further_chunk(stack, resumed, monkeypatch):
    run_id = fanned_out(stack)
    step(stack, "start_items", run_id, node_ref="each", task_token="fan")
    stopped: list[str] = []
    monkeypatch.setattr(
        executions,
        "stop_items",
        lambda arn, run, ref, chunk, cause, generation=0: stopped.append(chunk),
    )
    step(stack, "chunk_done", run_id, node_ref="each", chunk=1)
    assert components.engine().runs.finalize_run(ORG, run_id, {"reason": "cancelled"})
    # Lane 0 runs chunks 0 then 2, lane 1 chunk 1 (done): only chunk 0 is running, and stopped.
    assert stopped == [0]
    step(stack, "chunk_done", run_id, node_ref="each", chunk=0)
    assert sorted(chunk_inputs(stack, run_id)) == [0, 1], "chunk 2 must not start"
    node = components.store().runs.get_node(ORG, run_id, "each")
    assert node.status == NodeStatus.CANCELLED


def test_a_chunk_whose_end_keeps_crashing_fails_its_items_and_the_node_goes_on(stack, resumed):
    """ChunkDone failed after its retries: ChunkCrashed fails the chunk's unfinished items and
    counts the chunk, so the lane and the node go on instead of waiting until the run's
    timeout; the node then fails with the first failed item."""
    run_id = fanned_out(stack)
    step(stack, "start_items", run_id, node_ref="each", task_token="fan")
    for index in (0, 1, 2, 3, 4, 5, 10, 11):  # every item but 6 to 9 succeeds
        step(stack, "item_attempt", run_id, node_ref="each", index=index, attempt=1)
    step(
        stack,
        "chunk_crashed",
        run_id,
        node_ref="each",
        chunk=1,
        error="Lambda.Unknown",
        cause='{"errorMessage": "out of memory"}',
    )
    items = components.store().nodes.list_items(ORG, run_id, "each")
    assert [i.status for i in items[5:10]] == ["succeeded"] + ["failed"] * 4
    assert items[6].error == {"type": "Lambda.Unknown", "message": "out of memory"}
    for chunk in (0, 2):
        step(stack, "chunk_done", run_id, node_ref="each", chunk=chunk)
    assert resumed == [("fan", "items_done")]
    step(stack, "collect_items", run_id, node_ref="each")
    node = components.store().runs.get_node(ORG, run_id, "each")
    assert node.status == NodeStatus.FAILED
    assert node.error == {"type": "Lambda.Unknown", "message": "item 6: out of memory"}


def test_the_janitor_moves_a_stalled_lane_on(stack, resumed, monkeypatch):
    """A lane whose next chunk never started (its start kept failing) and a chunk whose
    execution ended without its ChunkDone: the janitor starts the one and ends the other, so
    the node is not left waiting until the run's timeout."""
    run_id = fanned_out(stack)
    real_start = executions.start_items

    def start_but_chunk_2(arn, org, run, ref, chunk, *rest):
        if chunk != 2:
            real_start(arn, org, run, ref, chunk, *rest)

    monkeypatch.setattr(executions, "start_items", start_but_chunk_2)
    step(stack, "start_items", run_id, node_ref="each", task_token="fan")
    step(stack, "chunk_done", run_id, node_ref="each", chunk=0)
    monkeypatch.setattr(executions, "start_items", real_start)
    assert sorted(chunk_inputs(stack, run_id)) == [0, 1]
    sfn = boto3.client("stepfunctions")
    one = executions.describe_items(stack.stack.names["ItemsStateMachine"], run_id, "each", 1)
    sfn.stop_execution(executionArn=one["executionArn"], error="Manual", cause="stopped by hand")

    report = components.janitor().sweep(datetime.now(UTC) + timedelta(minutes=10))
    actions = sorted(h["action"] for h in report.nodes if h["run_id"] == run_id)
    assert actions == ["ended chunk 1", "started chunk 2"]
    assert sorted(chunk_inputs(stack, run_id)) == [0, 1, 2]
    items = components.store().nodes.list_items(ORG, run_id, "each")
    assert {i.status for i in items[5:10]} == {NodeStatus.FAILED}
    assert components.store().runs.get_node(ORG, run_id, "each").chunks_done == {0, 1}
    assert resumed == []  # chunk 2 is running now


def test_a_replayed_item_attempt_that_scheduled_its_retry_waits_as_it_said(stack, monkeypatch):
    """Step Functions runs an item's attempt step again when Lambda's answer is lost. If the
    first run had scheduled the item's retry, the replay must answer the same wait, not
    ``done``: done would end the item's loop in the chunk, and the node would fail on an
    item that never finished."""
    from stepwise.engine import attempts as attempts_module
    from stepwise.engine.executors import NodeFailure

    real_execute = attempts_module.execute
    failures = iter([NodeFailure("Flaky", "try again")])

    def flaky(spec, context):
        failure = next(failures, None)
        if failure:
            raise failure
        return real_execute(spec, context)

    monkeypatch.setattr(attempts_module, "execute", flaky)
    run_id = fanned_out(stack)
    item = {"node_ref": "each", "index": 0}
    first = step(stack, "item_attempt", run_id, **item, attempt=1)
    assert first["next"] == "again" and first["attempt"] == 2
    replayed = step(stack, "item_attempt", run_id, **item, attempt=1)
    assert replayed["next"] == "again" and replayed["attempt"] == 2
    assert 0 <= replayed["wait_seconds"] <= first["wait_seconds"]
    assert step(stack, "item_attempt", run_id, **item, attempt=2) == {"next": "done"}
    [record] = [r for r in components.store().nodes.list_items(ORG, run_id, "each") if r.index == 0]
    assert (record.status, record.attempt) == (NodeStatus.SUCCEEDED, 2)
