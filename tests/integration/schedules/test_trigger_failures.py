"""A trigger that raises, as AWS runs it: Scheduler's invocation is asynchronous, so Lambda
retries it twice and then sends its failure record to the trigger's on-failure destination
(the schedule dead-letter queue); the local scheduler does the same."""

import json
from datetime import timedelta

import boto3

from stepwise.schedules.firing import ScheduledRuns
from tests.integration.schedules.test_schedules import create, scheduler_schedule, workflow  # noqa: F401


def dead_letters(stack) -> list[dict]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="stepwise-local-ScheduleDeadLetterQueue")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_a_trigger_that_keeps_failing_is_retried_twice_then_dead_lettered(
    stack,
    workflow,  # noqa: F811
    monkeypatch,
):
    calls = []

    def broken(self, firing):
        calls.append(firing.scheduled_time)
        raise RuntimeError("the table is unreachable")

    monkeypatch.setattr(ScheduledRuns, "fire", broken)
    schedule = create(stack, workflow)
    created = scheduler_schedule(schedule["id"])["CreationDate"]
    [fired] = [f for f in stack.tick(created + timedelta(seconds=30)) if "Trigger" in f.target]
    assert fired.error == "RuntimeError: the table is unreachable"
    assert len(calls) == 3  # the invocation and Lambda's two retries
    [record] = dead_letters(stack)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["schedule_id"] == schedule["id"]
    assert record["responsePayload"]["errorMessage"] == "the table is unreachable"


def test_a_trigger_that_fails_once_is_retried_and_leaves_no_dead_letter(
    stack,
    workflow,  # noqa: F811
    monkeypatch,
):
    real, failures = ScheduledRuns.fire, ["once"]

    def flaky(self, firing):
        if failures:
            failures.pop()
            raise RuntimeError("throttled")
        return real(self, firing)

    monkeypatch.setattr(ScheduledRuns, "fire", flaky)
    schedule = create(stack, workflow)
    created = scheduler_schedule(schedule["id"])["CreationDate"]
    [fired] = [f for f in stack.tick(created + timedelta(seconds=30)) if "Trigger" in f.target]
    assert fired.error is None and fired.result["outcome"] == "started"
    assert dead_letters(stack) == []
