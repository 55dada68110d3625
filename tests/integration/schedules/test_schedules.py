"""Schedules: the API keeps them and their Scheduler schedules in step; the trigger starts one
run per scheduled time, follows the overlap policy, and ignores what is disabled or gone."""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from stepwise import components
from stepwise.core.errors import NotFound
from stepwise.core.statuses import RunStatus
from stepwise.schedules.firing import Firing, FiringInProgress
from tests.helpers import http_event

BASE = "/v1/orgs/acme"


def call(stack, method, path, body=None, query=""):
    response = stack.invoke("ApiFunction", http_event(method, f"{BASE}{path}", body, query=query))
    return response["statusCode"], json.loads(response["body"] or "null")


@pytest.fixture
def workflow(stack):
    nodes = [{"ref": "a", "kind": "transform", "args": {"at": "{{ input.at }}"}}]
    status, body = call(stack, "POST", "/workflows", {"name": "nightly", "nodes": nodes})
    assert status == 201, body
    return body["data"]["id"]


def create(stack, workflow, **fields):
    body = {"name": "every minute", "expression": "rate(1 minute)", "workflow_id": workflow}
    status, answer = call(stack, "POST", "/schedules", {**body, **fields})
    assert status == 201, answer
    return answer["data"]


def scheduler_schedule(schedule_id):
    group = boto3.client("scheduler").list_schedule_groups()["ScheduleGroups"]
    [name] = [g["Name"] for g in group if g["Name"] != "default"]
    return boto3.client("scheduler").get_schedule(Name=schedule_id, GroupName=name)


def fire(stack, schedule_id, at="2026-11-24T10:00:00Z"):
    event = {"org_id": "acme", "schedule_id": schedule_id, "scheduled_time": at}
    return stack.invoke("TriggerFunction", event)


def runs_of(stack, schedule_id):
    status, body = call(stack, "GET", "/runs", query="limit=100")
    assert status == 200
    return [r for r in body["data"] if r.get("created_by") == f"schedule:{schedule_id}"]


# -- the API ------------------------------------------------------------------------------------


def test_a_schedule_is_kept_with_its_scheduler_schedule(stack, workflow):
    schedule = create(
        stack,
        workflow,
        expression="cron(0 9 ? * MON-FRI *)",
        timezone="Europe/Berlin",
        input={"at": "morning"},
        overlap="skip",
    )
    assert schedule["id"].startswith("sch_")
    assert (schedule["enabled"], schedule["overlap"], schedule["timezone"]) == (
        True,
        "skip",
        "Europe/Berlin",
    )
    fires_at = datetime.fromisoformat(schedule["next_fire_at"])
    assert fires_at.astimezone(UTC) > datetime.now(UTC)
    assert fires_at.astimezone(UTC).minute == 0 and fires_at.astimezone(UTC).weekday() < 5

    remote = scheduler_schedule(schedule["id"])
    assert remote["ScheduleExpression"] == "cron(0 9 ? * MON-FRI *)"
    assert remote["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert remote["State"] == "ENABLED"
    assert remote["Target"]["Arn"].endswith(":function:stepwise-local-TriggerFunction")
    assert remote["Target"]["RoleArn"].endswith(":role/stepwise-local-SchedulerRole")
    assert remote["Target"]["DeadLetterConfig"]["Arn"].endswith(
        ":stepwise-local-ScheduleDeadLetterQueue"
    )
    assert remote["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 10
    assert json.loads(remote["Target"]["Input"]) == {
        "org_id": "acme",
        "schedule_id": schedule["id"],
        "scheduled_time": "<aws.scheduler.scheduled-time>",
    }

    status, got = call(stack, "GET", f"/schedules/{schedule['id']}")
    assert status == 200 and got["data"]["input"] == {"at": "morning"}
    status, listed = call(stack, "GET", "/schedules")
    assert [s["id"] for s in listed["data"]] == [schedule["id"]]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"expression": "cron(0 12 * * * *)"}, "expression"),
        ({"expression": "cron(61 * * * ? *)"}, "expression"),
        ({"expression": "rate(5 minute)"}, "expression"),
        ({"expression": "every day"}, "expression"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"overlap": "queue"}, "overlap"),
        ({"workflow_id": "wf_missing"}, "workflow_id"),
        ({"workflow_version": 9}, "workflow_version"),
        ({"input": {"blob": "x" * 70_000}}, "input"),
    ],
)
def test_an_invalid_schedule_is_a_422_naming_the_field(stack, workflow, fields, field):
    body = {"name": "x", "expression": "rate(1 minute)", "workflow_id": workflow, **fields}
    status, answer = call(stack, "POST", "/schedules", body)
    assert status == 422, answer
    assert ["body", field] in [e["loc"][:2] for e in answer["detail"]]
    assert boto3.client("scheduler").list_schedules()["Schedules"] == []


def test_patch_pauses_and_changes_a_schedule(stack, workflow):
    schedule = create(stack, workflow)
    status, paused = call(stack, "PATCH", f"/schedules/{schedule['id']}", {"enabled": False})
    assert status == 200, paused
    assert paused["data"]["enabled"] is False and paused["data"]["next_fire_at"] is None
    assert paused["data"]["updated_by"] == "key:local"
    assert scheduler_schedule(schedule["id"])["State"] == "DISABLED"

    status, changed = call(
        stack,
        "PATCH",
        f"/schedules/{schedule['id']}",
        {"expression": "cron(30 6 L * ? *)", "enabled": True, "timezone": "Asia/Tokyo"},
    )
    assert status == 200, changed
    remote = scheduler_schedule(schedule["id"])
    assert (remote["ScheduleExpression"], remote["State"]) == ("cron(30 6 L * ? *)", "ENABLED")
    assert remote["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    assert changed["data"]["name"] == "every minute"  # what was not given stays

    status, answer = call(stack, "PATCH", f"/schedules/{schedule['id']}", {"timezone": "Nowhere"})
    assert status == 422 and ["body", "timezone"] in [e["loc"] for e in answer["detail"]]
    status, answer = call(stack, "PATCH", f"/schedules/{schedule['id']}", {"name": None})
    assert status == 422 and ["body", "name"] in [e["loc"] for e in answer["detail"]]
    assert call(stack, "PATCH", "/schedules/sch_missing", {"enabled": True})[0] == 404


def test_delete_removes_the_schedule_and_its_scheduler_schedule(stack, workflow):
    schedule = create(stack, workflow)
    assert call(stack, "DELETE", f"/schedules/{schedule['id']}")[0] == 204
    assert call(stack, "GET", f"/schedules/{schedule['id']}")[0] == 404
    assert call(stack, "DELETE", f"/schedules/{schedule['id']}")[0] == 404
    with pytest.raises(boto3.client("scheduler").exceptions.ResourceNotFoundException):
        scheduler_schedule(schedule["id"])


def test_a_read_key_cannot_create_schedules(stack, workflow):
    components.api_keys().store("swk_read_only", "acme", "reader", ["read"], created_by="t")
    body = {"name": "x", "expression": "rate(1 minute)", "workflow_id": workflow}
    event = http_event("POST", f"{BASE}/schedules", body, key="swk_read_only")
    assert stack.invoke("ApiFunction", event)["statusCode"] == 403


# -- the trigger --------------------------------------------------------------------------------


def test_a_firing_starts_a_run_with_role_schedule(stack, workflow):
    schedule = create(stack, workflow, input={"at": "noon"})
    answer = fire(stack, schedule["id"], "2026-11-24T12:00:00.000Z")
    assert answer["outcome"] == "started"
    status, run = call(stack, "GET", f"/runs/{answer['run_id']}")
    assert status == 200
    run = run["data"]
    assert (run["role"], run["created_by"], run["schedule_id"]) == (
        "schedule",
        f"schedule:{schedule['id']}",
        schedule["id"],
    )
    assert run["scheduled_at"].startswith("2026-11-24T12:00:00")
    assert run["input"] == {"at": "noon"} and run["workflow_id"] == workflow
    got = call(stack, "GET", f"/schedules/{schedule['id']}")[1]["data"]
    assert (got["runs_started"], got["last_run_id"]) == (1, answer["run_id"])


def test_the_same_firing_twice_starts_one_run(stack, workflow):
    schedule = create(stack, workflow)
    first = fire(stack, schedule["id"])
    second = fire(stack, schedule["id"])
    assert first == second and first["outcome"] == "started"
    assert [r["id"] for r in runs_of(stack, schedule["id"])] == [first["run_id"]]
    assert call(stack, "GET", f"/schedules/{schedule['id']}")[1]["data"]["runs_started"] == 1


def test_a_retry_finishes_a_firing_whose_run_was_never_created(stack, workflow):
    """The first invocation recorded the firing and died before creating the run."""
    schedule = create(stack, workflow)
    runs = components.scheduled_runs()
    at = "2026-11-24T10:00:00Z"
    assert runs.schedules.record_fire("acme", schedule["id"], at, "started", "run_planted")
    firing = Firing("acme", schedule["id"], at)
    with pytest.raises(FiringInProgress):  # moments ago: the first may still be creating it
        runs.fire(firing)
    old = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    runs.schedules.mark_fire("acme", schedule["id"], at, recorded_at=old)
    assert runs.fire(firing) == {"outcome": "started", "run_id": "run_planted"}
    assert components.store().runs.get_run("acme", "run_planted").role == "schedule"


def test_skip_overlap_skips_while_the_previous_run_is_going(stack, workflow):
    schedule = create(stack, workflow, overlap="skip")
    first = fire(stack, schedule["id"], "2026-11-24T10:00:00Z")
    assert first["outcome"] == "started"  # queued: this stack does not execute
    assert fire(stack, schedule["id"], "2026-11-24T10:01:00Z")["outcome"] == "skipped"
    assert fire(stack, schedule["id"], "2026-11-24T10:01:00Z")["outcome"] == "skipped"
    components.store().run_state.finish_run(
        "acme", first["run_id"], RunStatus.SUCCEEDED, None, None
    )
    third = fire(stack, schedule["id"], "2026-11-24T10:02:00Z")
    assert third["outcome"] == "started" and third["run_id"] != first["run_id"]
    got = call(stack, "GET", f"/schedules/{schedule['id']}")[1]["data"]
    assert (got["runs_started"], got["runs_skipped"]) == (2, 1)


def test_allow_overlap_starts_a_run_every_time(stack, workflow):
    schedule = create(stack, workflow)
    answers = [fire(stack, schedule["id"], f"2026-11-24T10:0{m}:00Z") for m in range(3)]
    assert {a["outcome"] for a in answers} == {"started"}
    assert len({a["run_id"] for a in answers}) == 3
    assert len(runs_of(stack, schedule["id"])) == 3


def test_firings_of_disabled_or_deleted_schedules_start_nothing(stack, workflow):
    paused = create(stack, workflow, enabled=False)
    assert fire(stack, paused["id"])["outcome"] == "ignored"
    gone = create(stack, workflow)
    call(stack, "DELETE", f"/schedules/{gone['id']}")
    assert fire(stack, gone["id"])["outcome"] == "ignored"
    assert runs_of(stack, paused["id"]) == runs_of(stack, gone["id"]) == []


def test_another_orgs_firing_cannot_reach_a_schedule(stack, workflow):
    schedule = create(stack, workflow)
    event = {
        "org_id": "globex",
        "schedule_id": schedule["id"],
        "scheduled_time": "2026-11-24T10:00:00Z",
    }
    assert stack.invoke("TriggerFunction", event)["outcome"] == "ignored"
    with pytest.raises(NotFound):
        components.schedules().get("globex", schedule["id"])


# -- the local scheduler ------------------------------------------------------------------------


def test_the_local_scheduler_fires_a_rate_on_an_injected_clock(stack, workflow):
    schedule = create(stack, workflow)
    created = scheduler_schedule(schedule["id"])["CreationDate"].astimezone(UTC)
    fired = stack.tick(created + timedelta(seconds=90))
    mine = [f for f in fired if f.target.endswith("TriggerFunction")]
    # A rate with no start date fires when created, then every minute.
    assert [f.scheduled_time for f in mine] == [created, created + timedelta(minutes=1)]
    assert {f.result["outcome"] for f in mine} == {"started"}
    assert stack.tick(created + timedelta(seconds=100)) == []  # nothing new is due
    assert len(runs_of(stack, schedule["id"])) == 2


def test_the_local_scheduler_reads_cron_in_the_schedules_timezone(stack, workflow):
    schedule = create(stack, workflow, expression="cron(0 9 * * ? *)", timezone="Asia/Tokyo")
    created = scheduler_schedule(schedule["id"])["CreationDate"].astimezone(UTC)
    fired = stack.tick(created + timedelta(days=2))
    times = [f.scheduled_time for f in fired if f.target.endswith("TriggerFunction")]
    assert len(times) == 2 and all(t.hour == 0 and t.minute == 0 for t in times)  # 09:00 JST


def test_a_paused_schedule_does_not_fire_locally(stack, workflow):
    schedule = create(stack, workflow, enabled=False)
    created = scheduler_schedule(schedule["id"])["CreationDate"].astimezone(UTC)
    assert [f for f in stack.tick(created + timedelta(minutes=5)) if "Trigger" in f.target] == []


# -- failure paths ------------------------------------------------------------------------------


class _Refusing:
    """A Scheduler client whose writes fail with the given error code; reads go through."""

    def __init__(self, real, code):
        self.real, self.code = real, code
        self.exceptions = real.exceptions

    def _fail(self, **_):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": self.code, "Message": "refused"}}, "CreateSchedule")

    create_schedule = update_schedule = _fail

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture
def scheduler_refuses(monkeypatch):
    from stepwise.infra import aws

    real_client = aws.client

    def refuse(code):
        monkeypatch.setattr(
            aws,
            "client",
            lambda service: (
                _Refusing(real_client(service), code)
                if service == "scheduler"
                else real_client(service)
            ),
        )

    return refuse


@pytest.mark.parametrize(
    ("code", "status"), [("ValidationException", 422), ("InternalServerException", 503)]
)
def test_a_schedule_scheduler_refuses_is_not_kept(stack, workflow, scheduler_refuses, code, status):
    scheduler_refuses(code)
    body = {"name": "x", "expression": "rate(1 minute)", "workflow_id": workflow}
    answer_status, answer = call(stack, "POST", "/schedules", body)
    assert answer_status == status, answer
    if status == 422:
        assert ["body", "expression"] in [e["loc"] for e in answer["detail"]]
    assert call(stack, "GET", "/schedules")[1]["data"] == []


def test_a_failed_table_write_removes_the_scheduler_schedule_it_made(stack, workflow, monkeypatch):
    from stepwise.infra import dynamo

    def fail(table, item):
        raise RuntimeError("the table is unavailable")

    monkeypatch.setattr(dynamo, "put_new", fail)
    body = {"name": "x", "expression": "rate(1 minute)", "workflow_id": workflow}
    from stepwise.schedules.models import ScheduleCreate

    with pytest.raises(RuntimeError):
        components.schedules().create("acme", ScheduleCreate(**body), "key:test")
    assert boto3.client("scheduler").list_schedules()["Schedules"] == []  # no orphan firing


def test_a_firing_whose_execution_cannot_start_fails_its_run_once(stack, workflow, monkeypatch):
    """StartExecution refused: the run ends failed (never stays queued) and the invocation
    fails so Scheduler retries; the retry finds the run and starts no second one."""
    from stepwise.core.errors import ServiceUnavailable
    from stepwise.infra import queues
    from stepwise.runs import run_queue

    schedule = create(stack, workflow)

    def refused(*args, **kwargs):
        raise queues.SendFailed("ThrottlingException: slow down")

    monkeypatch.setattr(run_queue, "start_run", refused)
    firing = Firing("acme", schedule["id"], "2026-11-24T10:00:00Z")
    with pytest.raises(ServiceUnavailable):
        components.scheduled_runs().fire(firing)
    [run] = runs_of(stack, schedule["id"])
    assert run["status"] == "failed" and run["error"]["type"] == "RunStartFailed"
    retry = components.scheduled_runs().fire(firing)
    assert retry == {"outcome": "started", "run_id": run["id"]}
    assert len(runs_of(stack, schedule["id"])) == 1


def test_a_schedules_input_keeps_floats_and_big_numbers_exactly(stack, workflow):
    """JSON numbers DynamoDB's types cannot hold as they are (floats) still round-trip."""
    value = {"ratio": 0.1, "big": 12345678901234567890, "none": None, "list": [1.5, "x"]}
    schedule = create(stack, workflow, input=value)
    assert schedule["input"] == value
    assert call(stack, "GET", f"/schedules/{schedule['id']}")[1]["data"]["input"] == value
    answer = fire(stack, schedule["id"])
    assert call(stack, "GET", f"/runs/{answer['run_id']}")[1]["data"]["input"] == value
