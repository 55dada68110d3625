"""Schedules: a workflow started on a cron or rate expression by EventBridge Scheduler.

Each schedule is an item in the table (``store``) and a Scheduler schedule of the same id in the
stack's schedule group, whose target is the trigger function (through the template's scheduler
role; ``bridge``). The Scheduler schedule is written first, so the table never lists a schedule
that cannot fire; a firing whose item is gone is ignored by the trigger.
"""

import json
from datetime import UTC, datetime
from typing import Any

from stepwise.core.clock import now_iso
from stepwise.core.errors import NotFound, ServiceUnavailable, ValidationFailed, field_error
from stepwise.core.ids import new_id
from stepwise.core.observability import logger
from stepwise.infra.payloads import dumps
from stepwise.schedules import bridge, expressions
from stepwise.schedules.bridge import SchedulerTarget
from stepwise.schedules.models import Schedule, ScheduleCreate, ScheduleUpdate
from stepwise.schedules.store import ScheduleStore
from stepwise.store import Store

# What Scheduler fills in with a firing's due time; the local stack's scheduler does the same.
SCHEDULED_TIME = bridge.SCHEDULED_TIME

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
    "tags",
)


class Schedules:
    def __init__(self, table: str, store: Store, target: SchedulerTarget | None):
        """``target`` is needed only to write Scheduler schedules (the API, not the trigger)."""
        self.table = table
        self.store = store
        self.schedule_store = ScheduleStore(table)
        self.target = target

    # -- the API's operations -------------------------------------------------------------------

    def create(
        self, org_id: str, body: ScheduleCreate, actor: str, actor_key: str | None = None
    ) -> dict[str, Any]:
        self._check_workflow(org_id, body.workflow_id, body.workflow_version)
        schedule_id = new_id("sch")
        at = now_iso()
        fields = {
            "org_id": org_id,
            "id": schedule_id,
            **body.model_dump(mode="json", exclude={"input"}),
            # Kept as exact JSON text: DynamoDB's number type cannot hold every JSON number.
            "input": dumps(body.input),
            "created_at": at,
            "created_by": actor,
            **({"created_by_key": actor_key} if actor_key else {}),
            "runs_started": 0,
            "runs_skipped": 0,
        }
        self._put_schedule(fields, create=True)
        try:
            return self.schedule_store.create(org_id, schedule_id, fields)
        except Exception:
            self._delete_schedule(schedule_id)
            raise

    def get(self, org_id: str, schedule_id: str) -> dict[str, Any]:
        item = self.find(org_id, schedule_id)
        if item is None:
            raise NotFound("schedule", schedule_id)
        return item

    def find(self, org_id: str, schedule_id: str) -> dict[str, Any] | None:
        return self.schedule_store.get(org_id, schedule_id)

    def list(
        self, org_id: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        return self.schedule_store.list(org_id, limit, after)

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
        merged["tags"] = merged.get("tags") or {}  # null clears them
        for name in ("name", "expression", "timezone", "enabled", "overlap", "workflow_id"):
            if merged.get(name) is None:
                raise ValidationFailed(
                    [field_error(["body", name], "cannot be null", "value_error")]
                )
        merged["updated_at"] = now_iso()
        merged["updated_by"] = actor
        self._put_schedule(merged, create=False)
        assignments = {name: merged.get(name) for name in (*_FIELDS, "updated_at", "updated_by")}
        updated = self.schedule_store.update(org_id, schedule_id, assignments)
        if updated is None:
            raise NotFound("schedule", schedule_id)
        return updated

    def delete(self, org_id: str, schedule_id: str) -> None:
        self.get(org_id, schedule_id)
        self.schedule_store.delete(org_id, schedule_id)
        self._delete_schedule(schedule_id)

    # -- firings (the trigger) ------------------------------------------------------------------

    def fire_record(self, org_id: str, schedule_id: str, scheduled: str) -> dict[str, Any] | None:
        return self.schedule_store.fire_record(org_id, schedule_id, scheduled)

    def record_fire(
        self,
        org_id: str,
        schedule_id: str,
        scheduled: str,
        outcome: str,
        run_id: str | None,
        reason: str | None = None,
    ) -> dict[str, Any] | None:
        """Writes what a scheduled time did and counts it on the schedule, both or neither;
        the record as written. None if that time was recorded already (a retried or repeated
        firing) or the schedule is gone."""
        now = datetime.now(UTC)
        fire = {
            "outcome": outcome,
            "run_id": run_id,
            "recorded_at": now_iso(),
            "expires_at": int((now + self.store.retention).timestamp()),
            **({"reason": reason} if reason else {}),
        }
        counter = "runs_started" if outcome == "started" else "runs_skipped"
        return self.schedule_store.record_fire(org_id, schedule_id, scheduled, fire, counter)

    def mark_fire(self, org_id: str, schedule_id: str, scheduled: str, **fields: Any) -> None:
        self.schedule_store.mark_fire(org_id, schedule_id, scheduled, fields)

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
        try:
            bridge.put_schedule(self.target, item, create)
        except bridge.ScheduleRefused as refused:
            if refused.invalid:
                raise ValidationFailed(
                    [field_error(["body", "expression"], str(refused), "value_error")]
                ) from None
            logger.exception("Scheduler refused the schedule", extra={"schedule_id": item["id"]})
            raise ServiceUnavailable("the schedule could not be saved; try again") from None

    def _delete_schedule(self, schedule_id: str) -> None:
        assert self.target is not None, "writing schedules needs the scheduler target"
        bridge.delete_schedule(self.target, schedule_id)
