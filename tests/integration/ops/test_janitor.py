"""The janitor settles orphaned and overdue runs through the engine's finalisation, once, and
leaves healthy, settled and external runs alone; a sweep examines a bounded number of runs."""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from stepwise import components
from stepwise.core.statuses import RunStatus
from stepwise.infra import executions
from stepwise.ops.janitor import START_GRACE, Janitor
from stepwise_local import call_log
from tests.conftest import OTHER_ORG
from tests.helpers import http_event

BASE = "/v1/orgs/acme"


def sweep(janitor: Janitor | None = None):
    """A sweep as JanitorFunction makes it: its AWS calls are checked against the function's
    role by the IAM check (tests/iam), as if its handler ran."""
    with call_log.acting_as("JanitorFunction"):
        return (janitor or components.janitor()).sweep(later())


def later() -> datetime:
    """Past the janitor's grace for new runs, from the moment a test asks (a module-level time
    falls inside the grace when the suite runs slowly)."""
    return datetime.now(UTC) + timedelta(minutes=10)


def call(stack, method, path, body=None, org="acme"):
    path = f"/v1/orgs/{org}{path}"
    key = None if org == "acme" else "swk_test_globex_key"
    event = http_event(method, path, body) if key is None else http_event(method, path, body, key)
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"] or "null")


def make_workflow(stack, timeout, **node):
    nodes = [{"ref": "a", "kind": "transform", "args": {"x": 1}, **node}]
    body = {"name": "w", "nodes": nodes, "timeout": timeout}
    status, answer = call(stack, "POST", "/workflows", body)
    assert status == 201, answer
    return answer["data"]["id"]


@pytest.fixture
def workflow(stack):
    return make_workflow(stack, timeout=3600)


@pytest.fixture
def standard_workflow(stack):
    """Its node runs on NodeStateMachine (a wait_until, even a past one, keeps it off Express)."""
    return make_workflow(stack, timeout=3600, wait_until="2020-01-01T00:00:00+00:00")


def other_org_workflow(stack):
    nodes = [{"ref": "a", "kind": "transform"}]
    status, body = call(stack, "POST", "/workflows", {"name": "w", "nodes": nodes}, org=OTHER_ORG)
    assert status == 201, body
    return body["data"]["id"]


def start(stack, workflow, org="acme"):
    status, body = call(stack, "POST", "/runs", {"workflow_id": workflow}, org=org)
    assert status == 201, body
    return body["data"]["id"]


def running(stack, run_id, org="acme"):
    """The run as its start leaves it: running."""
    components.store().run_state.mark_started(org, run_id)
    return run_id


def abandon(run_id, org="acme"):
    """The run was asked to settle but its finalisation never ran (its RunQueue message was
    dead-lettered, or the step that settled it died): only the janitor will finish it."""
    components.store().run_state.request_settle(org, run_id, "node_failed")


def status_of(run_id, org="acme"):
    return components.store().runs.get_run(org, run_id).status


def test_a_run_asked_to_settle_that_never_finished_is_settled_failed_once(
    stack, workflow, published
):
    orphan = running(stack, start(stack, workflow))
    healthy = running(stack, start(stack, workflow))
    abandon(orphan)

    report = sweep()
    assert [(s["run_id"], s["status"]) for s in report.settled] == [(orphan, "failed")]
    run = components.store().runs.get_run("acme", orphan)
    # Its node never ran: the run settled before all nodes finished.
    assert run.error["type"] == "Incomplete" and run.finished_at
    assert status_of(healthy) == RunStatus.RUNNING
    assert [e["run_id"] for e in published] == [orphan]

    # Idempotent: the next sweep finds nothing to do and publishes nothing more.
    assert sweep().settled == []
    assert len(published) == 1
    # Its nodes were cancelled with it.
    node = components.store().runs.get_node("acme", orphan, "a")
    assert node.status == "cancelled"


def test_a_run_past_its_timeout_is_settled_timed_out_and_its_execution_stopped(stack, published):
    overdue = running(stack, start(stack, make_workflow(stack, timeout=60)))
    before = components.janitor().sweep(datetime.now(UTC) + timedelta(seconds=61))
    assert before.settled == []  # past the timeout, but within the grace period
    report = components.janitor().sweep(datetime.now(UTC) + timedelta(seconds=60 + 6 * 60))
    assert [(s["run_id"], s["status"]) for s in report.settled] == [(overdue, "timed_out")]
    assert components.store().runs.get_node("acme", overdue, "a").status == "cancelled"
    assert [e["status"] for e in published] == ["timed_out"]


def test_a_queued_run_whose_execution_never_started_is_settled_after_the_grace(stack, published):
    store = components.store()
    workflow = make_workflow(stack, timeout=3 * 3600)  # its own timeout is not what ends it
    store.runs.create_run(
        "acme", "run_never_started", store.workflows.get_workflow("acme", workflow), None
    )
    assert components.janitor().sweep().settled == []  # just created: its start may be coming
    # Past the grace of a running run, but a start may wait on RunQueue (a backlog, retries
    # 900 s apart) for longer: still not judged lost.
    assert sweep().settled == []
    with call_log.acting_as("JanitorFunction"):
        report = components.janitor().sweep(datetime.now(UTC) + START_GRACE + timedelta(minutes=1))
    assert [s["run_id"] for s in report.settled] == ["run_never_started"]
    assert store.runs.get_run("acme", "run_never_started").error["type"] == "RunNotStarted"
    assert len(published) == 1


def test_settled_external_and_healthy_runs_are_left_alone(stack, workflow, published):
    done = running(stack, start(stack, workflow))
    components.store().run_state.finish_run("acme", done, RunStatus.SUCCEEDED, {"ok": 1}, None)
    status, external = call(stack, "POST", "/runs/external", {"workflow_id": "outside"})
    assert status == 201, external
    healthy = running(stack, start(stack, workflow))
    report = sweep()
    assert report.settled == [] and report.examined == 2  # the external one and the healthy one
    assert external["data"]["status"] not in {"succeeded", "failed", "cancelled", "timed_out"}
    assert status_of(external["data"]["id"]) == external["data"]["status"]  # untouched
    assert status_of(healthy) == RunStatus.RUNNING
    assert published == []


def test_a_retention_period_runs_from_when_the_janitor_settles(stack, workflow, published):
    orphan = running(stack, start(stack, workflow))
    abandon(orphan)
    before = components.store().runs.get_run("acme", orphan).expires_at
    sweep()
    after = components.store().runs.get_run("acme", orphan).expires_at
    retention = components.store().retention.total_seconds()
    assert after >= int(datetime.now(UTC).timestamp() + retention) - 5
    assert after >= before


def test_a_sweep_is_bounded_and_the_next_ones_continue_where_it_stopped(stack, workflow, published):
    orphans = [running(stack, start(stack, workflow)) for _ in range(5)]
    for run_id in orphans:
        abandon(run_id)
    janitor = Janitor(components.store(), components.engine(), limit=2)
    reports = [sweep(janitor) for _ in range(3)]
    assert [r.examined for r in reports] == [2, 2, 1]
    assert [r.complete for r in reports] == [False, False, True]
    settled = [s["run_id"] for r in reports for s in r.settled]
    assert sorted(settled) == sorted(orphans)  # each exactly once
    assert {status_of(r) for r in orphans} == {RunStatus.FAILED}


def test_every_org_is_swept(stack, workflow, published):
    theirs = running(stack, start(stack, other_org_workflow(stack), org=OTHER_ORG), org=OTHER_ORG)
    ours = running(stack, start(stack, workflow))
    abandon(theirs, org=OTHER_ORG)
    abandon(ours)
    report = sweep()
    assert report.orgs == 2
    assert {(s["org_id"], s["run_id"]) for s in report.settled} == {
        (OTHER_ORG, theirs),
        ("acme", ours),
    }


def test_the_janitor_function_answers_a_scheduled_rule_event(stack, workflow, published):
    orphan = running(stack, start(stack, workflow))
    abandon(orphan)
    event = json.loads((stack_root() / "events/janitor/sweep.json").read_text())
    event["time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # the janitor's clock
    # The event's time is now: asked to settle only now, the run is within the grace.
    assert stack.invoke("JanitorFunction", event)["settled"] == []
    event["time"] = later().strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = stack.invoke("JanitorFunction", event)
    assert [(s["run_id"], s["status"]) for s in answer["settled"]] == [(orphan, "failed")]
    assert stack.invoke("JanitorFunction", event)["settled"] == []


def stack_root():
    from stepwise_local.template import REPO_ROOT

    return REPO_ROOT


@pytest.fixture
def started(stack, standard_workflow, monkeypatch):
    """A running run whose root node has its own Standard execution (nothing runs inline)."""
    monkeypatch.setattr(executions, "resume_run", lambda token, reason: True)
    components.engine().advance.inline_limit = 0
    run_id = start(stack, standard_workflow)
    components.engine().runs.start_run("acme", run_id)
    assert components.store().runs.get_node("acme", run_id, "a").status == "scheduled"
    return run_id


def test_a_node_whose_execution_ended_without_settling_it_fails(stack, started, published):
    machine = stack.stack.names["NodeStateMachine"]
    name = executions.node_execution_name(started, "a")
    arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
    boto3.client("stepfunctions").stop_execution(executionArn=arn, error="Ops", cause="by hand")
    assert components.janitor().sweep().nodes == []  # within the grace: it may be on its way
    report = sweep()
    assert report.nodes == [{"run_id": started, "node_ref": "a", "action": "failed"}]
    node = components.store().runs.get_node("acme", started, "a")
    assert node.status == "failed"
    # The run moves on: its last node settled, so it is ready to finalise.
    assert components.store().runs.get_run("acme", started).settle_requested_at
    assert sweep().nodes == []


def test_a_scheduled_node_whose_execution_never_started_is_started(
    stack, standard_workflow, published
):
    """The engine died between scheduling the node and starting its execution."""
    run_id = running(stack, start(stack, standard_workflow))
    assert components.store().nodes.schedule_node("acme", run_id, "a")  # no execution started
    machine = stack.stack.names["NodeStateMachine"]
    assert executions.describe_node(machine, run_id, "a") is None
    report = sweep()
    assert report.nodes == [{"run_id": run_id, "node_ref": "a", "action": "started"}]
    assert executions.describe_node(machine, run_id, "a")["status"] == "RUNNING"
    assert sweep().nodes == []  # now it has its execution


def express_starts(stack, run_id: str) -> list[dict]:
    """The Express executions started for the run's node ``a`` (listed here, by the test: the
    janitor itself never lists or describes one)."""
    name = executions.node_execution_name(run_id, "a")
    return [e for e in stack.node_executions() if e["name"] == name]


@pytest.fixture
def described(monkeypatch):
    """The execution ARNs the code describes."""
    seen: list[str] = []
    real = executions._describe
    monkeypatch.setattr(executions, "_describe", lambda arn: seen.append(arn) or real(arn))
    return seen


def test_an_express_node_whose_start_was_lost_is_started_again_by_time(
    stack, workflow, published, described
):
    """An Express start is sent once (names are not deduplicated): the engine died between
    scheduling the node and starting it. The janitor tells by time alone, past an Express
    execution's five minutes and a margin, and starts it again."""
    components.engine().advance.inline_limit = 0
    run_id = running(stack, start(stack, workflow))
    assert components.store().nodes.schedule_node("acme", run_id, "a")
    scheduled = datetime.fromisoformat(
        components.store().runs.get_node("acme", run_id, "a").scheduled_at
    )
    early = scheduled + timedelta(minutes=5, seconds=30)  # past the grace, within 5 min + margin
    with call_log.acting_as("JanitorFunction"):
        assert components.janitor().sweep(early).nodes == []
    assert express_starts(stack, run_id) == []
    report = sweep()
    assert report.nodes == [{"run_id": run_id, "node_ref": "a", "action": "restarted"}]
    assert len(express_starts(stack, run_id)) == 1
    # Only the node's Standard execution (the one a hand-off would start) was ever described.
    express_arn = stack.stack.names["NodeExpressStateMachine"].replace(
        ":stateMachine:", ":execution:"
    )
    assert described and not [arn for arn in described if arn.startswith(express_arn + ":")]


def test_an_express_node_still_within_its_execution_is_left_alone(stack, workflow, published):
    """A running attempt that began less than five minutes and a margin ago may still be in its
    Express execution: a second one would only race it."""
    components.engine().advance.inline_limit = 0
    run_id = running(stack, start(stack, workflow))
    assert components.store().nodes.schedule_node("acme", run_id, "a")
    assert components.store().nodes.start_attempt("acme", run_id, "a", 1, None)
    node = components.store().runs.get_node("acme", run_id, "a")
    begun = datetime.fromisoformat(node.attempt_record(1).started_at)
    with call_log.acting_as("JanitorFunction"):
        assert components.janitor().sweep(begun + timedelta(minutes=5, seconds=50)).nodes == []
        report = components.janitor().sweep(begun + timedelta(minutes=6, seconds=10))
    assert report.nodes == [{"run_id": run_id, "node_ref": "a", "action": "restarted"}]
    assert len(express_starts(stack, run_id)) == 1


def test_a_busy_org_does_not_starve_another(stack, workflow, published):
    """Each org gets its share of a sweep before a busy one takes what is left."""
    their_workflow = other_org_workflow(stack)
    busy = [running(stack, start(stack, workflow)) for _ in range(6)]
    theirs = running(stack, start(stack, their_workflow, org=OTHER_ORG), org=OTHER_ORG)
    for run_id in busy:
        abandon(run_id)
    abandon(theirs, org=OTHER_ORG)
    janitor = Janitor(components.store(), components.engine(), limit=4)
    first = sweep(janitor)
    assert first.examined == 4 and not first.complete
    assert (OTHER_ORG, theirs) in {(s["org_id"], s["run_id"]) for s in first.settled}
    second = sweep(janitor)
    assert second.complete and second.examined == 3
    assert {s["run_id"] for r in (first, second) for s in r.settled} == {*busy, theirs}


def test_a_run_whose_settling_raises_is_reported_and_the_sweep_goes_on(
    stack, workflow, published, monkeypatch
):
    """One run's error (as AccessDenied resuming a parent's token would be) is logged and
    counted, and the runs after it are still examined and settled."""
    from botocore.exceptions import ClientError

    broken = running(stack, start(stack, workflow))
    orphan = running(stack, start(stack, workflow))
    abandon(broken)
    abandon(orphan)
    engine = components.engine()
    finalize = engine.runs.finalize_run

    def finalize_or_deny(org_id, run_id, settle):
        if run_id == broken:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
            raise ClientError(error, "SendTaskSuccess")
        return finalize(org_id, run_id, settle)

    monkeypatch.setattr(engine.runs, "finalize_run", finalize_or_deny)
    report = sweep()

    assert report.examined == 2
    assert [(s["run_id"], s["status"]) for s in report.settled] == [(orphan, "failed")]
    assert report.failed == [
        {"org_id": "acme", "run_id": broken, "error": "ClientError: AccessDeniedException"}
    ]
    assert status_of(orphan) == RunStatus.FAILED
    assert status_of(broken) == RunStatus.RUNNING  # left for the next sweep


def test_a_node_execution_an_earlier_version_named_is_found_and_stopped(stack, workflow, published):
    """An execution started before names were limited to [A-Za-z0-9_-] (``{run}.{ref}``) can be
    open when the stack is upgraded: the janitor finds it (and leaves the node alone) and a
    settling run stops it, instead of taking the node for orphaned."""
    from stepwise_local import execution_names

    run_id = running(stack, start(stack, workflow))
    assert components.store().nodes.schedule_node("acme", run_id, "a")
    machine = stack.stack.names["NodeStateMachine"]
    legacy = executions.legacy_execution_name(run_id, "a")
    assert legacy == f"{run_id}.a"
    execution_names.uninstall()  # the earlier version ran on AWS, which took "." in a name
    try:
        boto3.client("stepfunctions").start_execution(
            stateMachineArn=machine, name=legacy, input=json.dumps({"run_id": run_id})
        )
    finally:
        execution_names.install()
    assert executions.describe_node(machine, run_id, "a")["name"] == legacy
    assert sweep().nodes == []  # running: nothing to heal
    executions.stop_node(machine, run_id, "a", "the run settled")
    assert executions.describe_node(machine, run_id, "a")["status"] == "ABORTED"


def test_two_finalisers_reading_the_run_at_once_publish_one_event(stack, workflow, published):
    """Two steps can finish a run at the same moment (two last nodes settling together, a
    deadline beside the janitor): both read the run before either published. One claims the
    event; a claim whose publisher crashed is taken again after EVENT_CLAIM_STALE."""
    from stepwise.core import clock
    from stepwise.engine import run_state

    run_id = running(stack, start(stack, workflow))
    engine = components.engine()
    engine.runs.finalize_run("acme", run_id, {"reason": "settled"})
    published.clear()
    store = components.store()
    # As both finalisers saw it: finished, the event not out yet.
    store.run_state._update(
        "acme", run_id, "SET probe = :x REMOVE event_published_at, event_claimed_at", {":x": 1}
    )
    seen = store.runs.get_run("acme", run_id)
    engine.runs._announce(seen)
    engine.runs._announce(seen)
    assert [e["run_id"] for e in published] == [run_id]
    # A claim that never became an event (its holder died) is taken again once stale.
    store.run_state._update("acme", run_id, "SET probe = :x REMOVE event_published_at", {":x": 2})
    assert store.run_state.claim_event("acme", run_id) is False  # fresh: someone is on it
    stale = run_state.EVENT_CLAIM_STALE + timedelta(seconds=1)
    store.run_state._update(
        "acme",
        run_id,
        "SET event_claimed_at = :then",
        {":then": clock.iso(datetime.now(UTC) - stale)},
    )
    engine.runs._announce(store.runs.get_run("acme", run_id))
    assert [e["run_id"] for e in published] == [run_id, run_id]
