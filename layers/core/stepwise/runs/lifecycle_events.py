"""Lifecycle events: every run that settles puts one EventBridge event on the stack's bus.

``source`` is ``stepwise``, ``detail-type`` is ``Run Succeeded``, ``Run Failed``, ``Run
Cancelled`` or ``Run Timed Out``, and ``detail`` has the org, run, workflow, status, duration
and error. Delivery is at least once: a step replayed after publishing but before marking the
run publishes again, so consumers dedupe on ``detail.run_id``.
"""

from datetime import datetime
from typing import Any

from stepwise.core.observability import logger
from stepwise.infra import event_bus
from stepwise.runs.records import RunRecord

SOURCE = "stepwise"
DETAIL_TYPES = {
    "succeeded": "Run Succeeded",
    "failed": "Run Failed",
    "cancelled": "Run Cancelled",
    "timed_out": "Run Timed Out",
}


class PublishFailed(Exception):
    """EventBridge refused the event; the step fails and is retried."""


def detail(run: RunRecord) -> dict[str, Any]:
    started = run.started_at or run.created_at
    duration = None
    if run.finished_at:
        duration = (
            datetime.fromisoformat(run.finished_at) - datetime.fromisoformat(started)
        ).total_seconds()
    return {
        "org_id": run.org_id,
        "run_id": run.run_id,
        "workflow_id": run.workflow_id,
        "kind": run.kind,
        "status": run.status,
        "duration_seconds": duration,
        "error": run.error,
    }


def publish(bus_name: str, run: RunRecord) -> None:
    """Puts the settled run's event on ``bus_name``."""
    body = detail(run)
    try:
        event_bus.put(bus_name, SOURCE, DETAIL_TYPES[run.status], body)
    except event_bus.PutFailed as exc:
        raise PublishFailed(str(exc)) from None
    logger.info("lifecycle event published", extra={"event": body})
