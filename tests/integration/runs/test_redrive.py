"""Redrive and rerun on moto, the engine's steps driven one by one: what is kept, what runs
again (and in which execution, with which attempt), the counts, the history, and the refusals."""

import json
import os

import pytest

from stepwise import components
from stepwise.core.errors import Conflict
from stepwise.core.statuses import NodeStatus, RunStatus
from stepwise.infra import executions
from stepwise.runs import redrive
from tests.conftest import OTHER_KEY
from tests.helpers import deliver, diamond, http_event, queued_run_messages

ORG = "acme"


@pytest.fixture(autouse=True)
def _every_node_is_an_execution(stack):
    """Each step is placed by hand here, so no node runs inline."""
    components.engine().advance.inline_limit = 0


def call(stack, method, path, body=None, key=None, headers=None):
    event = http_event(method, path, body, **({"key": key} if key else {}))
    event["headers"].update(headers or {})
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"] or "null")


def api(stack, method, path, body=None):
    return call(stack, method, path, body)[1]


def step(stack, name, run_id, **fields):
    return stack.invoke("EngineFunction", {"step": name, "org_id": ORG, "run_id": run_id, **fields})


def node_executions(stack) -> list[str]:
    """Every node execution started, Standard or Express."""
    return sorted(e["name"] for e in stack.node_executions())


def queued_starts() -> list[tuple[str, int]]:
    """The run starts waiting on RunQueue, as (run, generation)."""
    return sorted((m["run_id"], m["generation"]) for m in queued_run_messages("start"))


def statuses(run_id) -> dict[str, tuple[str, int]]:
    _, nodes = components.store().runs.get_run_with_nodes(ORG, run_id)
    return {n.ref: (n.status, n.attempt) for n in nodes}


def counts() -> dict[str, int]:
    return components.store().runs.run_counts(ORG)


def failing_diamond():
    """The diamond whose b fails for good when input.n is not a number (a and c do not)."""
    body = diamond()
    body["nodes"][1]["args"] = {"double": "{{ [abs(input.n), input.n] }}"}
    body["nodes"][3]["args"]["n"] = "{{ input.n }}"
    return body


def failed_run(stack, body=None, run_input=None):
    """A run of ``body`` (the failing diamond) whose b fails: a succeeded, c ran, d cancelled."""
    workflow = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", body or failing_diamond())["data"]
    run_id = api(
        stack,
        "POST",
        f"/v1/orgs/{ORG}/runs",
        {"workflow_id": workflow["id"], "input": run_input or {"n": "three"}},
    )["data"]["id"]
    deliver(stack, "start", run_id)
    step(stack, "attempt", run_id, node_ref="a", attempt=1)
    step(stack, "attempt", run_id, node_ref="c", attempt=1)
    step(stack, "attempt", run_id, node_ref="b", attempt=1)
    assert components.engine().runs.finalize_run(ORG, run_id, {"reason": "node_failed"}) == {
        "status": "failed"
    }
    return workflow, run_id


def test_a_redrive_keeps_what_succeeded_and_runs_the_rest_in_a_new_execution(stack, resumed):
    _, run_id = failed_run(stack)
    assert statuses(run_id)["b"] == (NodeStatus.FAILED, 1)
    before = counts()
    started = node_executions(stack)

    status, answer = call(
        stack,
        "POST",
        f"/v1/orgs/{ORG}/runs/{run_id}/redrive",
        {"input": {"n": 3}, "reason": "n must be a number"},
    )
    assert status == 202, answer
    run = answer["data"]
    assert run["status"] == RunStatus.QUEUED and run["redrive_count"] == 1
    assert run["redriven_at"] and run["input"] == {"n": 3} and run["error"] is None
    # The run's start is queued again, for the redrive's generation.
    assert (run_id, 1) in queued_starts()
    after = counts()
    assert after["status:failed"] == before["status:failed"] - 1
    assert after["status:queued"] == before.get("status:queued", 0) + 1
    assert after["all"] == before["all"]

    deliver(stack, "start", run_id)
    # Only b runs again (a and c succeeded; d waits for b), in an execution of redrive 1.
    new = sorted(set(node_executions(stack)) - set(started))
    assert new == [executions.node_execution_name(run_id, "b", 1)]
    assert statuses(run_id)["b"] == (NodeStatus.SCHEDULED, 1)

    # Its execution starts at attempt 1, which the step numbers on: attempt 2.
    step(stack, "attempt", run_id, node_ref="b", attempt=1)
    assert statuses(run_id)["b"] == (NodeStatus.SUCCEEDED, 2)
    step(stack, "attempt", run_id, node_ref="d", attempt=1)
    assert components.store().runs.get_run(ORG, run_id).status == RunStatus.SUCCEEDED
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "all_nodes_settled"})

    run = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}")["data"]
    assert run["status"] == RunStatus.SUCCEEDED
    # a and c kept the outputs they computed from the first input; b and d see the new one.
    assert run["output"] == {"d": {"from_b": [3, 3], "from_c": "n is three", "n": 3}}
    nodes = {n["ref"]: n for n in run["nodes"]}
    assert nodes["a"]["attempt"] == 1 and len(nodes["a"]["attempts"]) == 1
    assert [a["status"] for a in nodes["b"]["attempts"]] == ["failed", "succeeded"]
    final = counts()
    assert final["status:succeeded"] == before.get("status:succeeded", 0) + 1
    assert final["status:failed"] == before["status:failed"] - 1
    assert final.get("status:queued", 0) == before.get("status:queued", 0)
    assert final.get("status:running", 0) == before.get("status:running", 0)

    history = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}/history")["data"]
    kinds = [e["event_type"] for e in history]
    assert kinds.index("RUN_FAILED") < kinds.index("RUN_REDRIVEN") < kinds.index("RUN_SUCCEEDED")
    redriven = next(e for e in history if e["event_type"] == "RUN_REDRIVEN")
    assert redriven["reason"] == "n must be a number" and redriven["by"].startswith("key:")
    assert redriven["key_id"]
    b_ends = [e["event_type"] for e in history if e["node_ref"] == "b" and "attempt" in e]
    assert "NODE_FAILED" in b_ends and "NODE_SUCCEEDED" in b_ends


def test_a_redriven_run_publishes_its_lifecycle_event_again(stack, resumed, monkeypatch):
    from stepwise.runs import lifecycle_events

    published: list[str] = []
    monkeypatch.setattr(lifecycle_events, "publish", lambda bus, run: published.append(run.status))
    _, run_id = failed_run(stack)
    assert published == ["failed"]
    api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/redrive", {"input": {"n": 3}})
    deliver(stack, "start", run_id)
    step(stack, "attempt", run_id, node_ref="b", attempt=1)
    step(stack, "attempt", run_id, node_ref="d", attempt=1)
    for _ in range(2):  # a replayed finalize publishes nothing more
        components.engine().runs.finalize_run(ORG, run_id, {"reason": "all_nodes_settled"})
    assert published == ["failed", "succeeded"]


def test_a_redrive_that_fails_again_can_be_redriven_again(stack, resumed):
    _, run_id = failed_run(stack)
    api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/redrive", {})  # same input: fails again
    deliver(stack, "start", run_id)
    step(stack, "attempt", run_id, node_ref="b", attempt=1)
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "node_failed"})
    assert statuses(run_id)["b"] == (NodeStatus.FAILED, 2)
    status, answer = call(
        stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/redrive", {"input": {"n": 2}}
    )
    assert status == 202 and answer["data"]["redrive_count"] == 2
    deliver(stack, "start", run_id)
    assert executions.node_execution_name(run_id, "b", 2) in node_executions(stack)
    step(stack, "attempt", run_id, node_ref="b", attempt=1)
    assert statuses(run_id)["b"] == (NodeStatus.SUCCEEDED, 3)


def test_a_redrive_is_refused_for_runs_it_does_not_take(stack, resumed):
    _, run_id = failed_run(stack)
    path = f"/v1/orgs/{ORG}/runs/{run_id}/redrive"
    assert call(stack, "POST", path, {}, key=OTHER_KEY)[0] == 404
    assert call(stack, "POST", f"/v1/orgs/{ORG}/runs/run_nope/redrive", {})[0] == 404
    assert call(stack, "POST", path, {"reason": 5})[0] == 422
    status, answer = call(stack, "POST", path, {"workflow_version": 7})
    assert status == 422 and answer["detail"][0]["loc"] == ["body", "workflow_version"]
    assert call(stack, "POST", path, {})[0] == 202
    status, answer = call(stack, "POST", path, {})  # queued now
    assert status == 409 and "queued" in answer["errors"][0]["message"]

    workflow = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", diamond())["data"]
    ok = api(
        stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow["id"], "input": {"n": 1}}
    )
    ok_id = ok["data"]["id"]
    for ref in ("start_run", "a", "b", "c", "d"):
        if ref == "start_run":
            deliver(stack, "start", ok_id)
        else:
            step(stack, "attempt", ok_id, node_ref=ref, attempt=1)
    components.engine().runs.finalize_run(ORG, ok_id, {"reason": "all_nodes_settled"})
    status, answer = call(stack, "POST", f"/v1/orgs/{ORG}/runs/{ok_id}/redrive", {})
    assert status == 409 and "succeeded" in answer["errors"][0]["message"]

    external = api(stack, "POST", f"/v1/orgs/{ORG}/runs/external", {"workflow_id": "deploy"})
    status, answer = call(
        stack, "POST", f"/v1/orgs/{ORG}/runs/{external['data']['id']}/redrive", {}
    )
    assert status == 409 and "external" in answer["errors"][0]["message"]


def test_a_repeated_redrive_with_an_idempotency_key_redrives_once(stack, resumed):
    _, run_id = failed_run(stack)
    path = f"/v1/orgs/{ORG}/runs/{run_id}/redrive"
    headers = {"idempotency-key": "redrive-1"}
    first = call(stack, "POST", path, {"reason": "retry"}, headers=headers)
    second = call(stack, "POST", path, {"reason": "retry"}, headers=headers)
    assert first == second and first[0] == 202
    assert components.store().runs.get_run(ORG, run_id).redrive_count == 1
    assert call(stack, "POST", path, {"reason": "other"}, headers=headers)[0] == 422


def test_two_redrives_that_race_redrive_once(stack, resumed, monkeypatch):
    """Both read the failed run; the first claims it; the second's claim finds it changed."""
    _, run_id = failed_run(stack)
    store = components.store()
    stale = store.runs.get_run_with_nodes(ORG, run_id)
    redrive.redrive_run(store, ORG, run_id, run_queue_url=os.environ["RUN_QUEUE_URL"])
    monkeypatch.setattr(store.runs, "get_run_with_nodes", lambda org, run: stale)
    with pytest.raises(Conflict):
        redrive.redrive_run(store, ORG, run_id, run_queue_url=os.environ["RUN_QUEUE_URL"])
    monkeypatch.undo()
    run = store.runs.get_run(ORG, run_id)
    assert run.redrive_count == 1 and len(run.redrives) == 1
    assert queued_starts().count((run_id, 1)) == 1
    assert (run_id, 2) not in queued_starts()


def test_a_redrive_onto_a_new_version_checks_what_it_keeps(stack, resumed):
    workflow, run_id = failed_run(stack)
    path = f"/v1/orgs/{ORG}/runs/{run_id}/redrive"
    changed_a = failing_diamond()
    changed_a["nodes"][0]["args"] = {"n": "{{ input.n }}", "more": True}
    api(stack, "PUT", f"/v1/orgs/{ORG}/workflows/{workflow['id']}", changed_a)  # version 2
    status, answer = call(stack, "POST", path, {"workflow_version": 2})
    assert status == 422
    assert [e["loc"] for e in answer["detail"]] == [["body", "workflow_version", "a"]]
    assert "args" in answer["detail"][0]["msg"]

    fixed = failing_diamond()
    fixed["nodes"][1]["args"] = {"double": "{{ [input.n, input.n] }}"}
    # c is dropped (d no longer needs it), e is new.
    fixed["nodes"] = [n for n in fixed["nodes"] if n["ref"] != "c"]
    fixed["nodes"][-1]["depends_on"] = ["b"]
    fixed["nodes"][-1]["args"] = {"from_b": "{{ nodes.b.output.double }}"}
    fixed["nodes"].append(
        {"ref": "e", "kind": "transform", "args": {"done": True}, "depends_on": ["d"]}
    )
    api(stack, "PUT", f"/v1/orgs/{ORG}/workflows/{workflow['id']}", fixed)  # version 3
    status, answer = call(stack, "POST", path, {"workflow_version": 3})
    assert status == 202 and answer["data"]["workflow_version"] == 3
    assert {n["ref"]: n["status"] for n in answer["data"]["nodes"]} == {
        "a": "succeeded",
        "b": "pending",
        "d": "pending",
        "e": "pending",
    }
    deliver(stack, "start", run_id)
    for ref in "bde":
        step(stack, "attempt", run_id, node_ref=ref, attempt=1)
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "all_nodes_settled"})
    run = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}")["data"]
    assert run["status"] == "succeeded" and run["output"] == {"e": {"done": True}}


def test_a_cancelled_run_redrives_its_unreached_nodes(stack, resumed):
    workflow = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", diamond())["data"]
    run_id = api(
        stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow["id"], "input": {"n": 1}}
    )["data"]["id"]
    deliver(stack, "start", run_id)
    step(stack, "attempt", run_id, node_ref="a", attempt=1)
    api(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/cancel", {})
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "cancelled"})
    assert statuses(run_id)["b"][0] == NodeStatus.CANCELLED
    assert call(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/redrive", {})[0] == 202
    deliver(stack, "start", run_id)
    assert {r: s for r, (s, _) in statuses(run_id).items()} == {
        "a": "succeeded",
        "b": "scheduled",
        "c": "scheduled",
        "d": "pending",
    }


def every_node_succeeded(stack) -> tuple[dict, str]:
    """A diamond run whose four nodes all succeeded, not yet finalised: the last step queued
    its finalisation (as an Advance without the run's steps does) instead of running it."""
    workflow = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", diamond())["data"]
    run_id = api(
        stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow["id"], "input": {"n": 1}}
    )["data"]["id"]
    deliver(stack, "start", run_id)
    advance = components.engine().advance
    finalize, advance.finalize = advance.finalize, None
    try:
        for ref in "abcd":
            step(stack, "attempt", run_id, node_ref=ref, attempt=1)
    finally:
        advance.finalize = finalize
    assert queued_run_messages("finalize") == [
        {"kind": "finalize", "org_id": ORG, "run_id": run_id, "generation": 0}
    ]
    return workflow, run_id


def test_a_redrive_with_nothing_left_to_run_finishes_at_once(stack, resumed):
    _, run_id = every_node_succeeded(stack)
    # Cancelled after every node succeeded, before it finalised.
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "cancelled"})
    assert components.store().runs.get_run(ORG, run_id).status == RunStatus.CANCELLED
    assert call(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/redrive", {})[0] == 202
    deliver(stack, "start", run_id)
    assert components.store().runs.get_run(ORG, run_id).status == RunStatus.SUCCEEDED
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "all_nodes_settled"})
    assert components.store().runs.get_run(ORG, run_id).status == RunStatus.SUCCEEDED


def test_a_rerun_copies_what_is_upstream_and_runs_the_rest(stack, resumed):
    workflow, run_id = every_node_succeeded(stack)
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "all_nodes_settled"})
    path = f"/v1/orgs/{ORG}/runs/{run_id}/rerun"

    status, answer = call(stack, "POST", path, {"from": "zz"})
    assert status == 422 and answer["detail"][0]["loc"] == ["body", "from"]
    assert call(stack, "POST", path, {"from": "c"}, key=OTHER_KEY)[0] == 404

    status, answer = call(stack, "POST", path, {"from": "c"})
    assert status == 201, answer
    new = answer["data"]
    assert new["id"] != run_id and new["rerun_of"] == run_id
    assert {n["ref"]: n["status"] for n in new["nodes"]} == {
        "a": "succeeded",
        "b": "succeeded",
        "c": "pending",
        "d": "pending",
    }
    old = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}")["data"]
    assert old["reruns"] == [new["id"]]
    deliver(stack, "start", new["id"])
    assert statuses(new["id"])["c"][0] == NodeStatus.SCHEDULED
    assert statuses(new["id"])["b"] == (NodeStatus.SUCCEEDED, 1)
    step(stack, "attempt", new["id"], node_ref="c", attempt=1)
    step(stack, "attempt", new["id"], node_ref="d", attempt=1)
    components.engine().runs.finalize_run(ORG, new["id"], {"reason": "all_nodes_settled"})
    done = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{new['id']}")["data"]
    assert done["status"] == "succeeded"
    assert done["output"] == {"d": {"from_b": [1, 1], "from_c": "n is 1"}}

    # A run still going cannot be rerun.
    running = api(
        stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow["id"], "input": {"n": 1}}
    )["data"]["id"]
    assert call(stack, "POST", f"/v1/orgs/{ORG}/runs/{running}/rerun", {"from": "a"})[0] == 409


def test_inline_nodes_a_redrive_runs_again_number_their_attempts_on(stack, resumed):
    components.engine().advance.inline_limit = 100  # every node here runs inline
    workflow = api(stack, "POST", f"/v1/orgs/{ORG}/workflows", failing_diamond())["data"]
    run_id = api(
        stack,
        "POST",
        f"/v1/orgs/{ORG}/runs",
        {"workflow_id": workflow["id"], "input": {"n": "three"}},
    )["data"]["id"]
    deliver(stack, "start", run_id)
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "settled"})
    assert statuses(run_id)["b"] == (NodeStatus.FAILED, 1)
    started = node_executions(stack)
    call(stack, "POST", f"/v1/orgs/{ORG}/runs/{run_id}/redrive", {"input": {"n": 3}})
    deliver(stack, "start", run_id)
    assert node_executions(stack) == started  # inline again: no execution
    components.engine().runs.finalize_run(ORG, run_id, {"reason": "settled"})
    run = api(stack, "GET", f"/v1/orgs/{ORG}/runs/{run_id}")["data"]
    assert run["status"] == "succeeded"
    nodes = {n["ref"]: n for n in run["nodes"]}
    assert [(a["attempt"], a["status"]) for a in nodes["b"]["attempts"]] == [
        (1, "failed"),
        (2, "succeeded"),
    ]
    assert [a["attempt"] for a in nodes["a"]["attempts"]] == [1]
