"""Schedules, the janitor and lifecycle events on the whole local stack: real executions, the
local scheduler on an injected clock (and once on the real one), events read from the bus."""

import time
from datetime import UTC, datetime, timedelta

import boto3
import httpx
import pytest

from stepwise import components
from stepwise.ops.janitor import START_GRACE
from stepwise_local.template import REGION
from tests.e2e.conftest import create_workflow, orphan, start_run, wait_for_run


@pytest.fixture
def injected_clock(local_stack):
    """The stack's own ticker is paused: only the test's ``tick(now)`` fires schedules."""
    with local_stack.scheduler_paused_for_test() as stack:
        yield stack


def create_schedule(api, workflow_id, **fields):
    body = {"name": "s", "expression": "rate(1 minute)", "workflow_id": workflow_id, **fields}
    response = api.post("/schedules", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def created_at(local_stack, schedule_id):
    scheduler = boto3.client("scheduler", region_name=REGION)
    group = local_stack.stack.names["ScheduleGroup"]
    return scheduler.get_schedule(Name=schedule_id, GroupName=group)["CreationDate"].astimezone(UTC)


def runs_started_by(api, schedule_id):
    runs = api.get("/runs", params={"limit": 100}).json()["data"]
    return [r for r in runs if r["created_by"] == f"schedule:{schedule_id}"]


def events_for(local_stack, run_id, timeout=10):
    """The run's lifecycle events, once there is one (it is put just after the run settles)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in local_stack.lifecycle_events() if e["detail"]["run_id"] == run_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_a_rate_schedule_fires_and_its_run_succeeds(api, injected_clock):
    workflow = create_workflow(
        api, {"name": "tick", "nodes": [{"ref": "a", "kind": "transform", "args": "{{ input }}"}]}
    )
    schedule = create_schedule(api, workflow, input={"from": "schedule"})
    fired = injected_clock.tick(created_at(injected_clock, schedule) + timedelta(seconds=30))
    [firing] = [f for f in fired if f.target.endswith("TriggerFunction")]
    assert firing.result["outcome"] == "started", firing
    run = wait_for_run(api, firing.result["run_id"])
    assert (run["status"], run["role"], run["schedule_id"]) == ("succeeded", "schedule", schedule)
    assert run["output"] == {"a": {"from": "schedule"}}
    [event] = events_for(injected_clock, run["id"])
    assert event["detail-type"] == "Run Succeeded" and event["detail"]["workflow_id"] == workflow
    api.delete(f"/schedules/{schedule}")


def test_the_same_trigger_event_twice_starts_one_run(api, injected_clock):
    workflow = create_workflow(api, {"name": "once", "nodes": [{"ref": "a", "kind": "transform"}]})
    schedule = create_schedule(api, workflow, enabled=False)  # only the test fires it
    api.patch(f"/schedules/{schedule}", json={"enabled": True})
    event = {"org_id": "acme", "schedule_id": schedule, "scheduled_time": "2026-11-24T08:00:00Z"}
    first = injected_clock.invoke("TriggerFunction", event)
    second = injected_clock.invoke("TriggerFunction", event)
    assert first == second and first["outcome"] == "started"
    wait_for_run(api, first["run_id"])
    assert [r["id"] for r in runs_started_by(api, schedule)] == [first["run_id"]]
    api.delete(f"/schedules/{schedule}")


def triggers(fired):
    """The schedules' firings among a tick's (the janitor's rule fires too, when it is due)."""
    return [f for f in fired if f.target.endswith("TriggerFunction")]


def test_skip_overlap_skips_while_the_previous_run_is_going(api, injected_clock):
    workflow = create_workflow(
        api, {"name": "slow", "nodes": [{"ref": "pause", "kind": "wait", "start_delay": 3}]}
    )
    schedule = create_schedule(api, workflow, overlap="skip")
    created = created_at(injected_clock, schedule)
    [first] = triggers(injected_clock.tick(created + timedelta(seconds=1)))
    [skipped] = triggers(injected_clock.tick(created + timedelta(seconds=61)))
    assert (first.result["outcome"], skipped.result["outcome"]) == ("started", "skipped")
    assert wait_for_run(api, first.result["run_id"])["status"] == "succeeded"
    [third] = triggers(injected_clock.tick(created + timedelta(seconds=121)))
    assert third.result["outcome"] == "started"
    wait_for_run(api, third.result["run_id"])
    got = api.get(f"/schedules/{schedule}").json()["data"]
    assert (got["runs_started"], got["runs_skipped"]) == (2, 1)
    api.delete(f"/schedules/{schedule}")


def test_the_janitor_settles_an_orphaned_run_with_one_lifecycle_event(api, local_stack):
    workflow = create_workflow(
        api, {"name": "orphan", "nodes": [{"ref": "long", "kind": "wait", "start_delay": 60}]}
    )
    run_id = start_run(api, workflow)
    deadline = time.monotonic() + 30
    while api.get(f"/runs/{run_id}").json()["data"]["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    orphan(local_stack, run_id)  # its finalisation never ran, as far as the table says

    answer = local_stack.invoke("JanitorFunction", {"source": "aws.events", "detail": {}})
    # The janitor settles it, unless the node's first step, arriving just after, saw the run
    # settling and finished it itself (runs finish in the step that settles them): either
    # way it ends once, failed, with one event.
    assert [(s["run_id"], s["status"]) for s in answer["settled"]] in ([(run_id, "failed")], [])
    run = api.get(f"/runs/{run_id}").json()["data"]
    assert run["status"] == "failed" and run["nodes"][0]["status"] == "cancelled"
    assert local_stack.invoke("JanitorFunction", {})["settled"] == []  # idempotent
    [event] = events_for(local_stack, run_id)
    assert event["detail-type"] == "Run Failed" and event["detail"]["status"] == "failed"


def test_the_janitor_rule_fires_on_the_injected_clock_and_settles_a_run_never_started(
    api, injected_clock
):
    """A run recorded but never started (its starter died): the janitor waits out its grace,
    then settles it, when its rate rule fires on the stack's clock."""
    store = components.store()
    workflow_id = create_workflow(
        api, {"name": "lost", "nodes": [{"ref": "a", "kind": "transform"}]}
    )
    run, _ = store.runs.create_run(
        "acme", "run_lost", store.workflows.get_workflow("acme", workflow_id), None
    )
    created = datetime.fromisoformat(run.created_at)
    early = injected_clock.tick(created + timedelta(minutes=1))
    assert not [f for f in early if f.target.endswith("JanitorFunction") and f.result["settled"]]
    waiting = injected_clock.tick(created + timedelta(minutes=11))  # its start may be retried
    assert not [f for f in waiting if f.target.endswith("JanitorFunction") and f.result["settled"]]
    later = injected_clock.tick(created + START_GRACE + timedelta(minutes=6))
    sweeps = [f for f in later if f.target.endswith("JanitorFunction")]
    assert sweeps, "the janitor's rule did not fire"
    settled = [s for f in sweeps for s in f.result["settled"]]
    assert [(s["run_id"], s["status"]) for s in settled] == [("run_lost", "failed")]
    assert api.get("/runs/run_lost").json()["data"]["error"]["type"] == "RunNotStarted"
    assert len(events_for(injected_clock, "run_lost")) == 1


def test_an_invalid_cron_is_a_422_naming_the_field(api):
    body = {"name": "bad", "expression": "cron(0 12 * * * *)", "workflow_id": "wf_x"}
    response = api.post("/schedules", json=body)
    assert response.status_code == 422
    assert ["body", "expression"] in [e["loc"] for e in response.json()["detail"]]


def test_the_stacks_own_clock_fires_a_new_rate_schedule(api, local_stack):
    """No injected clock: the ticker fires a rate schedule when it is created, as Scheduler."""
    workflow = create_workflow(api, {"name": "real", "nodes": [{"ref": "a", "kind": "transform"}]})
    schedule = create_schedule(api, workflow, expression="rate(1 hour)")
    deadline = time.monotonic() + 30
    while not (started := runs_started_by(api, schedule)):
        assert time.monotonic() < deadline, "the local scheduler did not fire"
        time.sleep(0.1)
    api.delete(f"/schedules/{schedule}")
    assert wait_for_run(api, started[0]["id"])["status"] == "succeeded"
    assert len(runs_started_by(api, schedule)) == 1


def test_every_settled_run_so_far_published_one_lifecycle_event_per_end(api, local_stack):
    """Across every run this stack has settled (this module's and the modules before it): one
    event each time a run ended, so one for a run never redriven, and one more for each end
    after a redrive (docs/engine.md, Repairing runs)."""
    ended = {"succeeded", "failed", "cancelled", "timed_out"}
    counts: dict[tuple[str, str], int] = {}
    for event in local_stack.lifecycle_events():
        key = (event["detail"]["org_id"], event["detail"]["run_id"])
        counts[key] = counts.get(key, 0) + 1
    assert counts
    for (org_id, run_id), published in counts.items():
        if published > 1:
            # Read from the store: the run may be another org's (this module's key sees acme).
            run = components.store().runs.get_run(org_id, run_id)
            ends = (run.redrive_count or 0) + (1 if run.status in ended else 0)
            assert published == ends, (org_id, run_id, published, run.redrive_count, run.status)
    settled = [
        r["id"]
        for r in api.get("/runs", params={"limit": 100}).json()["data"]
        if r["status"] in ended
    ]
    assert settled and [r for r in settled if not counts.get(("acme", r))] == []
    # The same events over HTTP, for a person trying the stack with curl.
    served = httpx.get(f"{local_stack.base_url}/local/lifecycle-events").json()["data"]
    assert {e["detail"]["run_id"] for e in served} >= {run_id for _, run_id in counts}
