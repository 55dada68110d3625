"""What a schedule does when it fires: start a run (role ``schedule``), or skip by its policy.

The scheduled time is the firing's idempotency key: the first invocation for a time records its
outcome and the run id it chose, in one transaction with the schedule's counters; a retried or
repeated invocation follows that record, so it never starts a second run.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stepwise.core.errors import NotFound, QuotaExceeded
from stepwise.core.ids import new_id
from stepwise.core.observability import logger
from stepwise.core.statuses import RUN_TERMINAL, RunStatus
from stepwise.runs import quotas, run_queue
from stepwise.runs.starts import start_workflow_run
from stepwise.schedules.models import OverlapPolicy
from stepwise.schedules.service import Schedules
from stepwise.store import Store

# A firing recorded this recently by another invocation may still be creating its run.
CLAIM_GRACE_SECONDS = 60


class FiringInProgress(Exception):
    """Another invocation recorded this firing moments ago; retried later, it finishes it."""


@dataclass(frozen=True)
class Firing:
    org_id: str
    schedule_id: str
    scheduled_time: str  # ISO 8601 UTC, to the second

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> "Firing":
        when = datetime.fromisoformat(event["scheduled_time"].replace("Z", "+00:00"))
        stamp = when.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cls(event["org_id"], event["schedule_id"], stamp)


class ScheduledRuns:
    def __init__(self, store: Store, schedules: Schedules, run_queue_url: str):
        self.store = store
        self.schedules = schedules
        self.run_queue_url = run_queue_url

    def fire(self, firing: Firing) -> dict[str, Any]:
        """Handles one firing; returns its outcome (started, skipped or ignored) and run id."""
        org_id, schedule_id, at = firing.org_id, firing.schedule_id, firing.scheduled_time
        schedule = self.schedules.find(org_id, schedule_id)
        if schedule is None:
            logger.info("firing of a deleted schedule ignored", extra={"schedule_id": schedule_id})
            return {"outcome": "ignored", "reason": "the schedule was deleted"}
        record = self.schedules.fire_record(org_id, schedule_id, at)
        ours = False
        if record is None:
            if not schedule.get("enabled"):
                return {"outcome": "ignored", "reason": "the schedule is disabled"}
            outcome, run_id, reason = self._decide(schedule)
            record = self.schedules.record_fire(org_id, schedule_id, at, outcome, run_id, reason)
            ours = record is not None
            if record is None:  # another invocation recorded it first, or the schedule is gone
                record = self.schedules.fire_record(org_id, schedule_id, at)
            if record is None:
                return {"outcome": "ignored", "reason": "the schedule was deleted"}
        if record["outcome"] != "started":
            answer = {"outcome": record["outcome"], "run_id": record.get("run_id")}
            return {**answer, **({"reason": record["reason"]} if record.get("reason") else {})}
        outcome = self._ensure_run(schedule, firing, record, ours)
        return {"outcome": outcome, "run_id": record["run_id"]}

    def _decide(self, schedule: dict[str, Any]) -> tuple[str, str | None, str | None]:
        """Start a run (with its id), or skip (with why): the overlap policy, or the org's
        open-runs quota, which a scheduled run would pass."""
        previous = schedule.get("last_run_id")
        if schedule["overlap"] == OverlapPolicy.SKIP and previous:
            try:
                status = self.store.runs.get_run(schedule["org_id"], previous).status
            except NotFound:
                status = None
            if status is not None and status not in RUN_TERMINAL:
                logger.info(
                    "scheduled run skipped: the previous one is still going",
                    extra={"schedule_id": schedule["id"], "previous_run_id": previous},
                )
                return "skipped", None, "overlap: the previous run is still going"
        try:
            quotas.check_open_runs(self.store, schedule["org_id"])
        except QuotaExceeded as over:
            logger.warning(
                "scheduled run skipped: over a quota",
                extra={"schedule_id": schedule["id"], "error": str(over)},
            )
            return "skipped", None, str(over)
        return "started", new_id("run"), None

    def _ensure_run(
        self, schedule: dict[str, Any], firing: Firing, record: dict[str, Any], ours: bool
    ) -> str:
        """Creates the recorded run if it is missing, or starts its execution if it is queued;
        ``started``, or ``failed`` if its workflow is gone."""
        org_id, run_id = firing.org_id, record["run_id"]
        try:
            run = self.store.runs.get_run(org_id, run_id)
        except NotFound:
            run = None
        if run is not None:
            if run.status == RunStatus.QUEUED:  # created, but the execution may not be
                run_queue.start_run(self.run_queue_url, org_id, run_id)
            return "started"
        recorded = datetime.fromisoformat(record["recorded_at"])
        if not ours and (datetime.now(UTC) - recorded).total_seconds() < CLAIM_GRACE_SECONDS:
            raise FiringInProgress(f"run {run_id} of {firing.scheduled_time} is being started")
        try:
            workflow = self.store.workflows.get_workflow(
                org_id, schedule["workflow_id"], schedule.get("workflow_version")
            )
        except NotFound as exc:
            logger.error("scheduled run not started", extra={"error": str(exc)})
            self.schedules.mark_fire(
                org_id, firing.schedule_id, firing.scheduled_time, outcome="failed", error=str(exc)
            )
            return "failed"
        origin = {
            "role": "schedule",
            "created_by": f"schedule:{firing.schedule_id}",
            "schedule_id": firing.schedule_id,
            "scheduled_at": firing.scheduled_time,
        }
        if schedule.get("created_by_key"):  # the key that may not approve the schedule's runs
            origin["created_by_key"] = schedule["created_by_key"]
        if schedule.get("tags"):  # as the schedule has them when it fires
            origin["tags"] = schedule["tags"]
        start_workflow_run(
            self.store,
            self.run_queue_url,
            org_id,
            run_id,
            workflow,
            Schedules.input_of(schedule),
            origin,
        )
        logger.info("scheduled run started", extra={"run_id": run_id, "at": firing.scheduled_time})
        return "started"
