"""Issue 14, second pass: the ways around the open-runs and descendants quotas that the first
pass left open, as an org would take them (marker ``attack``)."""

from datetime import datetime, timedelta

import pytest

from stepwise import components
from stepwise.core.statuses import RunStatus
from stepwise.engine.address import NodeAddress
from stepwise.infra import dynamo, keys
from tests.integration.runs.test_quotas import ORG, call, quota, transform, workflow

pytestmark = pytest.mark.attack

__all__ = ["quota"]  # the fixture, imported for the tests below


def test_a_batch_cannot_start_more_runs_than_the_open_runs_quota_leaves(stack, quota):
    """Before: POST /batches was not checked, so an org at its quota could still start 1,000
    runs per request in the background."""
    quota("QUOTA_OPEN_RUNS_PER_ORG", 3)
    workflow_id = workflow(stack, {"name": "w", "nodes": [transform()]})
    status, _ = call(stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow_id})
    assert status == 201
    body = {"workflow_id": workflow_id, "inputs": [{"n": n} for n in range(3)]}
    status, answer = call(stack, "POST", f"/v1/orgs/{ORG}/batches", body)
    assert status == 429, answer
    [error] = answer["errors"]
    assert error["code"] == "quota_exceeded"
    assert "open_runs_per_org (QuotaOpenRunsPerOrg = 3)" in error["message"]
    assert "1 runs queued or running; 3 more" in error["message"]
    assert stack.drain("BatchesFunction") == 0  # nothing was queued
    # What fits is accepted.
    body["inputs"] = body["inputs"][:2]
    status, answer = call(stack, "POST", f"/v1/orgs/{ORG}/batches", body)
    assert status == 202, answer


def fire(stack, schedule_id, at):
    event = {"org_id": ORG, "schedule_id": schedule_id, "scheduled_time": at}
    return stack.invoke("TriggerFunction", event)


def test_a_schedule_firing_at_the_open_runs_quota_starts_no_run_and_says_why(stack, quota):
    """Before: a firing started its run whatever the org's open runs, so schedules (one a
    minute each, any number of them) went past the quota."""
    quota("QUOTA_OPEN_RUNS_PER_ORG", 1)
    workflow_id = workflow(stack, {"name": "w", "nodes": [transform()]})
    body = {"name": "often", "expression": "rate(1 minute)", "workflow_id": workflow_id}
    status, answer = call(stack, "POST", f"/v1/orgs/{ORG}/schedules", body)
    assert status == 201, answer
    schedule_id = answer["data"]["id"]
    first = fire(stack, schedule_id, "2026-11-24T10:00:00Z")
    assert first["outcome"] == "started"  # queued: this stack does not execute

    second = fire(stack, schedule_id, "2026-11-24T10:01:00Z")
    assert second["outcome"] == "skipped" and second["run_id"] is None
    assert "open_runs_per_org (QuotaOpenRunsPerOrg = 1)" in second["reason"]
    shown = call(stack, "GET", f"/v1/orgs/{ORG}/schedules/{schedule_id}")[1]["data"]
    assert (shown["runs_started"], shown["runs_skipped"]) == (1, 1)
    assert "open_runs_per_org" in shown["last_skip_reason"]
    # A replay of the same firing changes nothing; once the run settles, firings start again
    # and the reason is cleared.
    assert fire(stack, schedule_id, "2026-11-24T10:01:00Z")["outcome"] == "skipped"
    components.store().run_state.finish_run(ORG, first["run_id"], RunStatus.SUCCEEDED, None, None)
    assert fire(stack, schedule_id, "2026-11-24T10:02:00Z")["outcome"] == "started"
    shown = call(stack, "GET", f"/v1/orgs/{ORG}/schedules/{schedule_id}")[1]["data"]
    assert (shown["runs_started"], shown["runs_skipped"]) == (2, 1)
    assert shown["last_skip_reason"] is None


def test_a_short_lived_child_does_not_make_the_descendants_count_expire_early(stack, quota):
    """Before: the count took its TTL from the newest child's own timeout, so a root with a
    long timeout that started a child with a short one let the count expire (DynamoDB TTL) while
    the root still ran, and the quota started over."""
    store = components.store()
    root = store.workflows.get_workflow(
        ORG, workflow(stack, {"name": "root", "nodes": [transform()], "timeout": 300 * 86400})
    )
    short = store.workflows.get_workflow(
        ORG, workflow(stack, {"name": "short", "nodes": [transform()], "timeout": 60})
    )
    root_run, _ = store.runs.create_run(ORG, "run_longroot", root, None)
    origin = {"parent_run_id": "run_longroot", "root_run_id": "run_longroot", "depth": 1}
    store.runs.create_run(ORG, "run_longroot.a.1", root, None, origin)
    store.runs.create_run(ORG, "run_longroot.b.1", short, None, origin)
    counted = dynamo.get_item(store.table, keys.descendants(ORG, "run_longroot"))
    root_ends = datetime.fromisoformat(root_run.created_at) + timedelta(seconds=root.timeout)
    assert counted["expires_at"] > (root_ends + store.runs.retention).timestamp()


def test_child_runs_are_refused_over_the_open_runs_quota(stack, quota):
    """Before: child runs counted towards the open runs but were never refused, so an org could
    hold open_runs_per_org roots that each started descendants_per_run more (10,000 x 1,000 with
    the defaults). Over the quota, the workflow node fails naming it."""
    quota("QUOTA_OPEN_RUNS_PER_ORG", 2)
    leaf = workflow(stack, {"name": "leaf", "nodes": [transform()]})
    nodes = [{"ref": f"c{i}", "kind": "workflow", "args": {"workflow_id": leaf}} for i in range(2)]
    parent = workflow(stack, {"name": "parent", "nodes": nodes})
    status, answer = call(stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": parent})
    assert status == 201, answer
    run_id = answer["data"]["id"]
    engine = components.engine()
    engine.runs.start_run(ORG, run_id)
    first = engine.nodes.attempt(NodeAddress(ORG, run_id, "c0", 1))
    assert first["next"] == "child"  # the root and this child: 2 open runs, the quota
    engine.nodes.attempt(NodeAddress(ORG, run_id, "c1", 1))
    node = components.store().runs.get_node(ORG, run_id, "c1")
    assert node.status == "failed" and node.error["type"] == "QuotaExceeded"
    assert "open_runs_per_org (QuotaOpenRunsPerOrg = 2)" in node.error["message"]
    assert not components.store().runs.run_exists(ORG, f"{run_id}.c1.1")
