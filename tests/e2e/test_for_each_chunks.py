"""for_each items run as ItemsStateMachine executions, one chunk each, in lanes (real
executions): the node's own history no longer grows with its items, and a cancelled run stops
the chunks that are running."""

import json
import time

from stepwise.engine import fan_out_plan
from stepwise.engine.fan_out_plan import plan
from stepwise.infra.executions import items_execution_name, node_execution_name
from tests.e2e.conftest import wait_for_run
from tests.e2e.test_semantics import run_workflow, t


def items_executions(local_stack, run_id: str, ref: str, chunks: int) -> dict[str, str]:
    """Status of each chunk execution of the node, by name."""
    names = {items_execution_name(run_id, ref, c) for c in range(chunks)}
    found = local_stack.executions("ItemsStateMachine")
    return {e["name"]: e["status"] for e in found if e["name"] in names}


def test_items_run_in_chunks_over_lanes_and_come_back_in_order(api, local_stack):
    """max_attempts 100 makes chunks of 5 items (tests/unit/engine/test_history_bounds.py), so
    12 items are 3 chunks, and max_concurrency 10 runs them in 2 lanes."""
    retry = {"max_attempts": 100, "initial_interval": 0}
    chunks = plan(12, 100, 10)
    assert (chunks.chunk_size, chunks.chunks, chunks.lanes) == (5, 3, 2)
    run, nodes = run_workflow(
        api,
        [
            t(
                "each",
                for_each="{{ input.xs }}",
                max_concurrency=10,
                retry=retry,
                args={"i": "{{ index }}", "twice": "{{ [item, item] }}"},
            ),
        ],
        {"xs": list(range(100, 112))},
    )
    assert run["status"] == "succeeded", run["error"]
    assert nodes["each"]["output"] == [{"i": i, "twice": [100 + i] * 2} for i in range(12)]
    assert nodes["each"]["item_count"] == 12
    assert nodes["each"]["items_done"] == 12  # every chunk finished
    done = items_executions(local_stack, run["id"], "each", 3)
    assert done == {items_execution_name(run["id"], "each", c): "SUCCEEDED" for c in range(3)}
    # The node's execution waited on one task: no Map, no item events, only references.
    history = json.loads(
        local_stack.execution_history("NodeStateMachine", node_execution_name(run["id"], "each"))
    )
    assert not [e for e in history if e["type"].startswith("Map")]
    assert len(history) < 40
    last = json.loads(
        local_stack.execution_history(
            "ItemsStateMachine", items_execution_name(run["id"], "each", 2)
        )
    )
    # Each chunk's real history stays within what fan_out_plan sized it for; items that succeed
    # at once write 11 events each (as LocalStack counted), far below the worst case.
    lengths = []
    for chunk in range(3):
        events = json.loads(
            local_stack.execution_history(
                "ItemsStateMachine", items_execution_name(run["id"], "each", chunk)
            )
        )
        items = len(chunks.indices(chunk))
        assert len(events) <= fan_out_plan.CHUNK_EVENTS + items * fan_out_plan.item_events(100)
        per_item = [e for e in events if e["type"] == "MapIterationStarted"]
        assert len(per_item) == items
        lengths.append(len(events))
    assert lengths[0] - lengths[2] == 11 * (5 - 2), lengths
    started = json.loads(last[0]["executionStartedEventDetails"]["input"])
    assert started == {
        "org_id": "acme",
        "run_id": run["id"],
        "node_ref": "each",
        "chunk": 2,
        "indices": [10, 11],
        "max_concurrency": 5,
    }


def test_cancelling_a_run_stops_its_running_chunks(api, local_stack):
    """Items that wait a minute between attempts (retry_until is false): the cancel stops the
    node's execution and each lane's chunk, and the items end cancelled."""
    created = api.post(
        "/workflows",
        json={
            "name": "slow items",
            "nodes": [
                t(
                    "each",
                    for_each="{{ input.xs }}",
                    max_concurrency=2,
                    retry={
                        "max_attempts": 100,
                        "initial_interval": 60,
                        "retry_until": "{{ `false` }}",
                    },
                    args="{{ item }}",
                )
            ],
        },
    )
    assert created.status_code == 201, created.text
    started = api.post(
        "/runs", json={"workflow_id": created.json()["data"]["id"], "input": {"xs": [1, 2, 3]}}
    )
    run_id = started.json()["data"]["id"]
    deadline = time.monotonic() + 30
    while items_executions(local_stack, run_id, "each", 2) != {
        items_execution_name(run_id, "each", 0): "RUNNING"
    }:
        assert time.monotonic() < deadline, items_executions(local_stack, run_id, "each", 2)
        time.sleep(0.1)
    assert api.post(f"/runs/{run_id}/cancel", json={"reason": "enough"}).status_code == 202
    run = wait_for_run(api, run_id)
    assert run["status"] == "cancelled"
    # As on AWS, the stops abort both (stepwise_local/stops.py: moto kept the node waiting).
    deadline = time.monotonic() + 10
    node_name = node_execution_name(run_id, "each")
    while True:
        nodes = {e["name"]: e["status"] for e in local_stack.executions("NodeStateMachine")}
        states = items_executions(local_stack, run_id, "each", 1)
        if nodes[node_name] != "RUNNING" and "RUNNING" not in states.values():
            break
        assert time.monotonic() < deadline, (nodes[node_name], states)
        time.sleep(0.1)
    assert nodes[node_name] == "ABORTED"
    assert states == {items_execution_name(run_id, "each", 0): "ABORTED"}
    [node] = run["nodes"]
    assert node["status"] == "cancelled"
