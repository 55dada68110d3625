"""EventBridge Scheduler: one Scheduler schedule per Stepwise schedule (of the same id), in the
stack's schedule group, whose target is the trigger function."""

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from stepwise.infra import aws

# Scheduler fills this in with the time the firing was due (ISO 8601, UTC).
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


@dataclass(frozen=True)
class SchedulerTarget:
    """Where the stack's schedules live and what they invoke."""

    group_name: str
    trigger_function_arn: str
    role_arn: str
    dead_letter_queue_arn: str  # firings that still fail after Scheduler's retries


class ScheduleRefused(Exception):
    """Scheduler refused the schedule; ``invalid`` when it found the schedule itself invalid
    (its expression or time zone). The message is Scheduler's."""

    def __init__(self, message: str, invalid: bool):
        super().__init__(message)
        self.invalid = invalid


def put_schedule(target: SchedulerTarget, item: dict[str, Any], create: bool) -> None:
    """Creates (or updates) the Scheduler schedule of a schedule item."""
    request = {
        "Name": item["id"],
        "GroupName": target.group_name,
        "ScheduleExpression": item["expression"],
        "ScheduleExpressionTimezone": item["timezone"],
        "State": "ENABLED" if item["enabled"] else "DISABLED",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Description": f"Stepwise schedule {item['id']} of org {item['org_id']}",
        "Target": {
            "Arn": target.trigger_function_arn,
            "RoleArn": target.role_arn,
            "Input": json.dumps(
                {
                    "org_id": item["org_id"],
                    "schedule_id": item["id"],
                    "scheduled_time": SCHEDULED_TIME,
                }
            ),
            # Scheduler retries a failed trigger; the trigger makes that harmless.
            "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
            "DeadLetterConfig": {"Arn": target.dead_letter_queue_arn},
        },
    }
    scheduler = aws.client("scheduler")
    try:
        (scheduler.create_schedule if create else scheduler.update_schedule)(**request)
    except ClientError as exc:
        error = exc.response["Error"]
        raise ScheduleRefused(
            error.get("Message", ""), invalid=error["Code"] == "ValidationException"
        ) from exc


def delete_schedule(target: SchedulerTarget, schedule_id: str) -> None:
    """Deletes the Scheduler schedule; one that does not exist is fine."""
    scheduler = aws.client("scheduler")
    with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
        scheduler.delete_schedule(Name=schedule_id, GroupName=target.group_name)
