"""for_each items in Express chunk executions, end to end on the local stack: a node whose items
fit in 4 minutes runs no Standard chunk, a chunk run twice at a time (as Express's at-least-once
start may) gives the same output and counts, and a long backoff keeps Standard chunks."""

import json

from stepwise import components
from stepwise.infra import executions
from stepwise_local.provision import local_client
from stepwise_local.receiver import Answer, Receiver
from tests.e2e.conftest import create_workflow, start_run, wait_for_run
from tests.e2e.test_semantics import run_workflow, t


def chunk_executions(local_stack, machine: str, run_id: str) -> list[dict]:
    """The run's chunk executions of ``machine``, each with its input (read back by the test:
    the engine never lists or describes an Express execution)."""
    sfn = local_client("stepfunctions")
    found = []
    for execution in local_stack.executions(machine):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        payload = json.loads(described["input"])
        if payload["run_id"] == run_id:
            found.append({"status": described["status"], "name": execution["name"], **payload})
    return found


def wait_until_chunks_end(local_stack, run_id: str) -> list[dict]:
    import time

    deadline = time.monotonic() + 30
    while True:
        found = chunk_executions(local_stack, "ItemsExpressStateMachine", run_id)
        if all(e["status"] != "RUNNING" for e in found):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def test_thirty_transform_items_run_in_one_express_chunk_in_order(api, local_stack):
    run, nodes = run_workflow(
        api,
        [t("each", for_each="{{ input.xs }}", args={"i": "{{ index }}", "x": "{{ item }}"})],
        {"xs": [f"x{i}" for i in range(30)]},
    )
    assert run["status"] == "succeeded", run["error"]
    assert nodes["each"]["output"] == [{"i": i, "x": f"x{i}"} for i in range(30)]
    assert nodes["each"]["items_done"] == 30
    assert chunk_executions(local_stack, "ItemsStateMachine", run["id"]) == []
    express = wait_until_chunks_end(local_stack, run["id"])
    assert [(e["chunk"], e["indices"], e["status"]) for e in express] == [
        (0, list(range(30)), "SUCCEEDED")
    ]


def test_a_chunk_run_twice_at_once_gives_the_same_output_and_counts(api, local_stack, monkeypatch):
    """Every Express start is made twice, as an at-least-once start may: two executions of each
    chunk run side by side. Items settle once (one attempt each), each chunk counts once, and
    the output is the same as with one."""
    real = executions.start_items_express
    twice: list[int] = []

    def start_twice(arn, org, run, ref, chunk, indices, concurrency, started_at, generation=0):
        real(arn, org, run, ref, chunk, indices, concurrency, started_at, generation)
        real(arn, org, run, ref, chunk, indices, concurrency, started_at + "1", generation)
        twice.append(chunk)

    monkeypatch.setattr(executions, "start_items_express", start_twice)
    # Two attempts of at most 30 s: an item takes at most 60 s, 4 rounds fit in 240 s, and
    # max_concurrency 2 makes chunks of 8: 24 items are 3 chunks one after the other.
    each = t(
        "each",
        for_each="{{ input.xs }}",
        max_concurrency=2,
        retry={"max_attempts": 2, "timeout": 30, "initial_interval": 0},
        args={"i": "{{ index }}", "sq": "{{ item }}"},
    )
    run, nodes = run_workflow(api, [each], {"xs": [i * i for i in range(24)]})
    assert run["status"] == "succeeded", run["error"]
    assert nodes["each"]["output"] == [{"i": i, "sq": i * i} for i in range(24)]
    assert nodes["each"]["items_done"] == 24
    assert twice == [0, 1, 2]
    express = wait_until_chunks_end(local_stack, run["id"])
    assert sorted(e["chunk"] for e in express) == [0, 0, 1, 1, 2, 2]
    assert {e["status"] for e in express} == {"SUCCEEDED"}
    items = components.store().nodes.list_items("acme", run["id"], "each")
    assert [(i.status, i.attempt, len(i.attempts)) for i in items] == [("succeeded", 1, 1)] * 24


def test_a_long_backoff_keeps_standard_chunks(api, local_stack):
    """Two attempts 5 minutes apart cannot fit in an Express execution: the items run in a
    Standard chunk (they succeed at once here, so nothing waits)."""
    run, nodes = run_workflow(
        api,
        [
            t(
                "each",
                for_each="{{ input.xs }}",
                retry={"max_attempts": 2, "initial_interval": 300},
                args="{{ item }}",
            )
        ],
        {"xs": [1, 2, 3]},
    )
    assert run["status"] == "succeeded", run["error"]
    assert nodes["each"]["output"] == [1, 2, 3]
    assert chunk_executions(local_stack, "ItemsExpressStateMachine", run["id"]) == []
    [standard] = chunk_executions(local_stack, "ItemsStateMachine", run["id"])
    assert standard["indices"] == [0, 1, 2]


def test_action_items_without_signaling_are_delivered_from_an_express_chunk(api, local_stack):
    with Receiver() as receiver:
        url = receiver.respond(
            "/now", lambda r: Answer(200, {"n": r.payload["data"]["input"]["n"]})
        )
        created = api.post("/destinations", json={"label": "now", "url": url})
        assert created.status_code == 201, created.text
        definition = {
            "name": "now",
            "destinations": [{"destination_id": created.json()["data"]["id"]}],
        }
        assert api.post("/actions/definitions", json=definition).status_code == 201
        node = {
            "ref": "each",
            "kind": "action",
            "action": "now",
            "for_each": "{{ input.xs }}",
            "args": {"n": "{{ item }}"},
        }
        workflow_id = create_workflow(api, {"name": "now", "nodes": [node]})
        run = wait_for_run(api, start_run(api, workflow_id, {"xs": [1, 2, 3, 4, 5]}))
    assert run["status"] == "succeeded", run["error"]
    [each] = run["nodes"]
    assert each["output"] == [{"n": n} for n in [1, 2, 3, 4, 5]]
    assert chunk_executions(local_stack, "ItemsStateMachine", run["id"]) == []
    assert len(wait_until_chunks_end(local_stack, run["id"])) == 1
