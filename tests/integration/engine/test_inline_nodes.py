"""Transforms that can never wait run inline, in the step that made them ready: no execution,
one write each, the same outcomes and the same replay safety as nodes with executions."""

import pytest

from stepwise import components
from stepwise.engine.run_state import RunTransitions
from stepwise.infra import dynamo
from tests.helpers import deliver, diamond
from tests.integration.engine.test_engine_steps import (
    named,
    node_executions,
    start_run,
    statuses,
    step,
)


def chain(count, **extra):
    nodes = [
        {"ref": f"n{i}", "kind": "transform", "args": {"i": i}, "depends_on": [f"n{i - 1}"]}
        for i in range(count)
    ]
    nodes[0]["depends_on"] = []
    for key, value in extra.items():
        nodes[-1][key] = value
    return {"name": "chain", "nodes": nodes}


def test_a_diamond_of_transforms_settles_in_the_start_step(stack, resumed):
    run_id = start_run(stack, diamond(), {"n": 3})
    deliver(stack, "start", run_id)
    assert node_executions(stack) == []
    assert set(statuses(run_id).values()) == {"succeeded"}
    # ...and the run finished in that same step: no other step, no execution, no resume.
    assert resumed == []
    run, nodes = components.store().runs.get_run_with_nodes("acme", run_id)
    assert run.status == "succeeded"
    d = next(n for n in nodes if n.ref == "d")
    assert components.store().payloads.read(d.output) == {
        "from_b": [3, 3],
        "from_c": "n is 3",
    }
    assert list(d.attempts) == [1] and d.attempts[1].status == "succeeded"


def test_a_replayed_start_step_changes_nothing(stack, resumed):
    run_id = start_run(stack, diamond(), {"n": 1})
    deliver(stack, "start", run_id)
    before = components.store().runs.get_run_with_nodes("acme", run_id)[1]
    deliver(stack, "start", run_id)
    assert components.store().runs.get_run_with_nodes("acme", run_id)[1] == before
    assert node_executions(stack) == []


def test_a_crash_midway_is_finished_by_the_replay(stack, resumed, monkeypatch):
    run_id = start_run(stack, chain(4))
    real = RunTransitions.record_node_settled
    calls = {"n": 0}

    def crash_once(self, org_id, run_id_, position):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the Lambda died here")
        return real(self, org_id, run_id_, position)

    monkeypatch.setattr(RunTransitions, "record_node_settled", crash_once)
    with pytest.raises(RuntimeError):
        components.engine().runs.start_run("acme", run_id)
    assert statuses(run_id)["n3"] == "pending"
    assert components.store().runs.get_run("acme", run_id).status == "running"
    deliver(stack, "start", run_id)  # SQS delivers the start again
    assert set(statuses(run_id).values()) == {"succeeded"}
    assert components.store().runs.get_run("acme", run_id).status == "succeeded"


def test_the_inline_budget_hands_the_rest_to_executions(stack, resumed):
    components.engine().advance.inline_limit = 2
    run_id = start_run(stack, chain(4))
    deliver(stack, "start", run_id)
    assert node_executions(stack) == named(run_id, "n2")
    assert statuses(run_id) == {
        "n0": "succeeded",
        "n1": "succeeded",
        "n2": "scheduled",
        "n3": "pending",
    }
    assert components.store().runs.get_run("acme", run_id).status == "running"
    step(stack, "attempt", run_id, node_ref="n2", attempt=1, prepared=False)
    assert set(statuses(run_id).values()) == {"succeeded"}
    assert components.store().runs.get_run("acme", run_id).status == "succeeded"


@pytest.mark.parametrize(
    "extra",
    [{"start_delay": 1}, {"retry": {"retry_until": "{{ `true` }}", "max_attempts": 2}}],
)
def test_a_transform_that_may_wait_gets_an_execution(stack, resumed, extra):
    run_id = start_run(stack, chain(2, **extra))
    deliver(stack, "start", run_id)
    assert node_executions(stack) == named(run_id, "n1")
    assert statuses(run_id) == {"n0": "succeeded", "n1": "scheduled"}


def test_an_inline_failure_fails_the_run_and_run_if_skips(stack, resumed):
    body = chain(3)
    body["nodes"][1]["args"] = {"x": "{{ abs('nope') }}"}
    run_id = start_run(stack, body)
    deliver(stack, "start", run_id)
    # The failure finished the run in the same step: what was left is cancelled.
    run = components.store().runs.get_run("acme", run_id)
    assert run.status == "failed" and run.error["node"] == "n1"
    assert statuses(run_id)["n2"] == "cancelled"

    skipping = start_run(stack, chain(3, run_if="{{ `false` }}"))
    deliver(stack, "start", skipping)
    assert statuses(skipping)["n2"] == "skipped"
    assert components.store().runs.get_run("acme", skipping).status == "succeeded"


def test_nothing_runs_inline_once_the_run_is_settling(stack, resumed):
    body = chain(3)
    body["nodes"][1]["start_delay"] = 1
    run_id = start_run(stack, body)
    deliver(stack, "start", run_id)
    assert statuses(run_id) == {"n0": "succeeded", "n1": "scheduled", "n2": "pending"}
    components.store().run_state.request_settle("acme", run_id, "cancelled")
    # The delayed node's attempt finds the run settling and cancels itself; its child is
    # neither run nor skipped, but left for finalize_run to cancel.
    step(stack, "attempt", run_id, node_ref="n1", attempt=1, prepared=False)
    assert statuses(run_id) == {"n0": "succeeded", "n1": "cancelled", "n2": "pending"}
    components.engine().runs.finalize_run("acme", run_id, {"reason": "cancelled"})
    assert statuses(run_id)["n2"] == "cancelled"


def test_a_large_run_counts_settled_nodes_in_small_buckets(stack):
    """250 nodes: three progress buckets; complete exactly when the last node is counted,
    whatever the order, and counting again is harmless."""
    import random

    from stepwise.workflows.models import WorkflowCreate

    store = components.store()
    nodes = [{"ref": f"n{i}", "kind": "transform", "args": i} for i in range(250)]
    workflow = store.workflows.create_workflow(
        "acme", "wf_big", WorkflowCreate(name="big", nodes=nodes)
    )
    store.runs.create_run("acme", "run_big", workflow, None)
    order = list(range(250))
    random.Random(7).shuffle(order)
    answers = [store.run_state.record_node_settled("acme", "run_big", p) for p in order]
    assert answers == [False] * 249 + [True]
    assert store.run_state.record_node_settled("acme", "run_big", order[0]) is True
    progress = [
        item
        for item in dynamo.query_partition(store.table, "ORG#acme#RUN#run_big")
        if item["SK"].startswith("PROGRESS#")
    ]
    assert [int(item["node_count"]) for item in progress] == [100, 100, 50]


def test_a_run_of_one_bucket_keeps_no_item_for_full_buckets(stack):
    """Up to PROGRESS_BUCKET_SIZE nodes: one progress item, written when the run is created,
    and the run is complete when it is (the item for full buckets would be a write unit that
    nothing reads)."""
    from stepwise.workflows.models import WorkflowCreate

    store = components.store()
    nodes = [{"ref": f"n{i}", "kind": "transform", "args": i} for i in range(3)]
    workflow = store.workflows.create_workflow(
        "acme", "wf_small", WorkflowCreate(name="small", nodes=nodes)
    )
    store.runs.create_run("acme", "run_small", workflow, None)
    progress = [
        item["SK"]
        for item in dynamo.query_partition(store.table, "ORG#acme#RUN#run_small")
        if item["SK"].startswith("PROGRESS")
    ]
    assert progress == ["PROGRESS#000"]
    answers = [store.run_state.record_node_settled("acme", "run_small", p) for p in (2, 0, 1)]
    assert answers == [False, False, True]
