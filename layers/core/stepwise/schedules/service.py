"""Schedules: a workflow started on a cron or rate expression by EventBridge Scheduler.

Each schedule is an item in the table and a Scheduler schedule of the same id in the stack's
schedule group, whose target is the trigger function (through the template's scheduler role).
The Scheduler schedule is written first, so the table never lists a schedule that cannot fire;
a firing whose item is gone is ignored by the trigger.
"""

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from stepwise.core.clock import now_iso
from stepwise.core.errors import NotFound, ServiceUnavailable, ValidationFailed, field_error
from stepwise.core.ids import new_id
from stepwise.core.observability import logger
from stepwise.infra import aws, dynamo, keys
from stepwise.infra.payloads import dumps
from stepwise.schedules import expressions
from stepwise.schedules.models import Schedule, ScheduleCreate, ScheduleUpdate
from stepwise.store import Store

# Scheduler fills this in with the time the firing was due (ISO 8601, UTC).
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
_FIELDS = (
    "name",
    "description",
    "expression",
    "timezone",
    "workflow_id",
    "workflow_version",
    "input",
    "enabled",
    "overlap",
)


@dataclass(frozen=True)
class SchedulerTarget:
    """Where the stack's schedules live and what they invoke."""

    group_name: str
    trigger_function_arn: str
    role_arn: str
    dead_letter_queue_arn: str  # firings that still fail after Scheduler's retries


class Schedules:
    def __init__(self, table: str, store: Store, target: SchedulerTarget | None):
        """``target`` is needed only to write Scheduler schedules (the API, not the trigger)."""
        self.table = table
        self.store = store
        self.target = target

    # -- the API's operations -------------------------------------------------------------------

    def create(self, org_id: str, body: ScheduleCreate, actor: str) -> dict[str, Any]:
        self._check_workflow(org_id, body.workflow_id, body.workflow_version)
        schedule_id = new_id("sch")
        at = now_iso()
        item = {
            **keys.schedule(org_id, schedule_id),
            **keys.schedules_index(org_id, schedule_id),
            "org_id": org_id,
            "id": schedule_id,
            **body.model_dump(mode="json", exclude={"input"}),
            # Kept as exact JSON text: DynamoDB's number type cannot hold every JSON number.
            "input": dumps(body.input),
            "created_at": at,
            "created_by": actor,
            "runs_started": 0,
            "runs_skipped": 0,
        }
        self._put_schedule(item, create=True)
        try:
            dynamo.put_new(self.table, item)
        except Exception:
            self._delete_schedule(schedule_id)
            raise
        return item

    def get(self, org_id: str, schedule_id: str) -> dict[str, Any]:
        item = self.find(org_id, schedule_id)
        if item is None:
            raise NotFound("schedule", schedule_id)
        return item

    def find(self, org_id: str, schedule_id: str) -> dict[str, Any] | None:
        return dynamo.get_item(self.table, keys.schedule(org_id, schedule_id))

    def list(
        self, org_id: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        return dynamo.query_index(self.table, keys.schedules_index_pk(org_id), limit, after)

    def update(
        self, org_id: str, schedule_id: str, body: ScheduleUpdate, actor: str
    ) -> dict[str, Any]:
        current = self.get(org_id, schedule_id)
        changes = body.model_dump(mode="json", exclude_unset=True)
        if "input" in changes:
            changes["input"] = dumps(body.input)
        merged = {**current, **changes}
        if {"workflow_id", "workflow_version"} & changes.keys():
            self._check_workflow(org_id, merged["workflow_id"], merged.get("workflow_version"))
        for name in ("name", "expression", "timezone", "enabled", "overlap", "workflow_id"):
            if merged.get(name) is None:
                raise ValidationFailed(
                    [field_error(["body", name], "cannot be null", "value_error")]
                )
        merged["updated_at"] = now_iso()
        merged["updated_by"] = actor
        self._put_schedule(merged, create=False)
        assignments = {name: merged.get(name) for name in (*_FIELDS, "updated_at", "updated_by")}
        updated = dynamo.update_item(
            self.table,
            keys.schedule(org_id, schedule_id),
            "SET " + ", ".join(f"#{n} = :{n}" for n in assignments),
            {f":{n}": v for n, v in assignments.items()},
            condition="attribute_exists(PK)",
            names={f"#{n}": n for n in assignments},
            returns="ALL_NEW",
        )
        if updated is None:
            raise NotFound("schedule", schedule_id)
        return updated

    def delete(self, org_id: str, schedule_id: str) -> None:
        self.get(org_id, schedule_id)
        aws.client("dynamodb").delete_item(
            TableName=self.table, Key=dynamo.to_item(keys.schedule(org_id, schedule_id))
        )
        self._delete_schedule(schedule_id)

    # -- firings (the trigger) ------------------------------------------------------------------

    def fire_record(self, org_id: str, schedule_id: str, scheduled: str) -> dict[str, Any] | None:
        return dynamo.get_item(self.table, keys.schedule_fire(org_id, schedule_id, scheduled))

    def record_fire(
        self, org_id: str, schedule_id: str, scheduled: str, outcome: str, run_id: str | None
    ) -> dict[str, Any] | None:
        """Writes what a scheduled time did and counts it on the schedule, both or neither;
        the record as written. None if that time was recorded already (a retried or repeated
        firing) or the schedule is gone."""
        now = datetime.now(UTC)
        fire = {
            **keys.schedule_fire(org_id, schedule_id, scheduled),
            "outcome": outcome,
            "run_id": run_id,
            "recorded_at": now_iso(),
            "expires_at": int((now + self.store.retention).timestamp()),
        }
        counter = "runs_started" if outcome == "started" else "runs_skipped"
        expression = f"SET last_fired_at = :at ADD {counter} :one"
        named: dict[str, Any] = {":at": scheduled, ":one": 1}
        if run_id is not None:
            expression = expression.replace("SET ", "SET last_run_id = :run, ")
            named[":run"] = run_id
        try:
            aws.client("dynamodb").transact_write_items(
                TransactItems=[
                    dynamo.put_new_item(self.table, fire),
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": dynamo.to_item(keys.schedule(org_id, schedule_id)),
                            "UpdateExpression": expression,
                            "ExpressionAttributeValues": dynamo.values(named),
                            "ConditionExpression": "attribute_exists(PK)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if dynamo.condition_failed(exc):
                return None
            raise
        return fire

    def mark_fire(self, org_id: str, schedule_id: str, scheduled: str, **fields: Any) -> None:
        dynamo.update_item(
            self.table,
            keys.schedule_fire(org_id, schedule_id, scheduled),
            "SET " + ", ".join(f"#{n} = :{n}" for n in fields),
            {f":{n}": v for n, v in fields.items()},
            names={f"#{n}": n for n in fields},
        )

    # -- views ----------------------------------------------------------------------------------

    @staticmethod
    def view(item: dict[str, Any], now: datetime | None = None) -> Schedule:
        next_fire_at = None
        if item.get("enabled"):
            anchor = datetime.fromisoformat(item["created_at"])  # a rate counts from creation
            next_fire_at = expressions.next_fire(
                item["expression"], item["timezone"], now or datetime.now(UTC), anchor
            )
        return Schedule.model_validate(
            {**item, "input": Schedules.input_of(item), "next_fire_at": next_fire_at}
        )

    @staticmethod
    def input_of(item: dict[str, Any]) -> Any:
        """The input a schedule gives its runs."""
        return json.loads(item["input"]) if "input" in item else None

    # -- Scheduler ------------------------------------------------------------------------------

    def _check_workflow(self, org_id: str, workflow_id: str, version: int | None) -> None:
        try:
            self.store.workflows.get_workflow(org_id, workflow_id, version)
        except NotFound as exc:
            field = "workflow_version" if version is not None else "workflow_id"
            raise ValidationFailed(
                [field_error(["body", field], str(exc), "value_error.not_found")]
            ) from None

    def _put_schedule(self, item: dict[str, Any], create: bool) -> None:
        assert self.target is not None, "writing schedules needs the scheduler target"
        request = {
            "Name": item["id"],
            "GroupName": self.target.group_name,
            "ScheduleExpression": item["expression"],
            "ScheduleExpressionTimezone": item["timezone"],
            "State": "ENABLED" if item["enabled"] else "DISABLED",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Description": f"Stepwise schedule {item['id']} of org {item['org_id']}",
            "Target": {
                "Arn": self.target.trigger_function_arn,
                "RoleArn": self.target.role_arn,
                "Input": json.dumps(
                    {
                        "org_id": item["org_id"],
                        "schedule_id": item["id"],
                        "scheduled_time": SCHEDULED_TIME,
                    }
                ),
                # Scheduler retries a failed trigger; the trigger makes that harmless.
                "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
                "DeadLetterConfig": {"Arn": self.target.dead_letter_queue_arn},
            },
        }
        scheduler = aws.client("scheduler")
        try:
            (scheduler.create_schedule if create else scheduler.update_schedule)(**request)
        except ClientError as exc:
            error = exc.response["Error"]
            if error["Code"] == "ValidationException":
                raise ValidationFailed(
                    [field_error(["body", "expression"], error.get("Message", ""), "value_error")]
                ) from None
            logger.exception("Scheduler refused the schedule", extra={"schedule_id": item["id"]})
            raise ServiceUnavailable("the schedule could not be saved; try again") from None

    def _delete_schedule(self, schedule_id: str) -> None:
        assert self.target is not None, "writing schedules needs the scheduler target"
        scheduler = aws.client("scheduler")
        with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
            scheduler.delete_schedule(Name=schedule_id, GroupName=self.target.group_name)
