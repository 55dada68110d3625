"""A run's typed history, projected from its recorded state (pure).

Every transition already records its time on the run, node or attempt (each in the same
conditional write as the transition), so the history is a view of that state: it costs no extra
write, cannot disagree with the state, and cannot hold an event twice after a replayed step.
"""

from enum import StrEnum
from typing import Any

from stepwise.actions import approvals
from stepwise.runs.records import NodeRecord, RunRecord
from stepwise.workflows.models import NodeSpec


class EventType(StrEnum):
    RUN_CREATED = "RUN_CREATED"
    RUN_STARTED = "RUN_STARTED"
    RUN_REDRIVEN = "RUN_REDRIVEN"
    RUN_PAUSED = "RUN_PAUSED"
    RUN_RESUMED = "RUN_RESUMED"
    NODE_SCHEDULED = "NODE_SCHEDULED"
    NODE_STARTED = "NODE_STARTED"
    NODE_REVIEWED = "NODE_REVIEWED"
    NODE_RETRY_SCHEDULED = "NODE_RETRY_SCHEDULED"
    NODE_SUCCEEDED = "NODE_SUCCEEDED"
    NODE_FAILED = "NODE_FAILED"
    NODE_SKIPPED = "NODE_SKIPPED"
    NODE_CANCELLED = "NODE_CANCELLED"
    RUN_SUCCEEDED = "RUN_SUCCEEDED"
    RUN_FAILED = "RUN_FAILED"
    RUN_CANCELLED = "RUN_CANCELLED"
    RUN_TIMED_OUT = "RUN_TIMED_OUT"


# Order of events that share a timestamp: the order in which they happen.
_RANK = {event: rank for rank, event in enumerate(EventType)}
_NODE_END = {
    "succeeded": EventType.NODE_SUCCEEDED,
    "failed": EventType.NODE_FAILED,
    "skipped": EventType.NODE_SKIPPED,
    "cancelled": EventType.NODE_CANCELLED,
}
_RUN_END = {
    "succeeded": EventType.RUN_SUCCEEDED,
    "failed": EventType.RUN_FAILED,
    "cancelled": EventType.RUN_CANCELLED,
    "timed_out": EventType.RUN_TIMED_OUT,
}


def run_history(
    run: RunRecord,
    nodes: list[NodeRecord],
    specs: dict[str, NodeSpec],
    output_of: Any,
) -> list[dict[str, Any]]:
    """Every event of the run in order, numbered from 1. ``output_of(item)`` loads an output."""
    events: list[dict[str, Any]] = [_event(EventType.RUN_CREATED, run.created_at)]
    if run.started_at:
        events.append(_event(EventType.RUN_STARTED, run.started_at))
    events += _redrives(run)
    for pause in run.pauses:
        paused = {"by": pause.get("paused_by"), "reason": pause.get("reason")}
        events.append(_event(EventType.RUN_PAUSED, pause["paused_at"], **paused))
        if pause.get("resumed_at"):
            resumed = {"by": pause.get("resumed_by")}
            events.append(_event(EventType.RUN_RESUMED, pause["resumed_at"], **resumed))
    for node in nodes:
        ref = node.ref
        if node.scheduled_at:
            spec = specs[ref].model_dump(mode="json") if ref in specs else None
            events.append(_event(EventType.NODE_SCHEDULED, node.scheduled_at, ref, spec=spec))
        for number in sorted(node.attempts):
            attempt = node.attempts[number]
            events.append(
                _event(
                    EventType.NODE_STARTED,
                    attempt.started_at,
                    ref,
                    attempt=number,
                    timeout_at=attempt.timeout_at,
                )
            )
            for review in approvals.reviews_of(attempt):
                events.append(
                    _event(
                        EventType.NODE_REVIEWED,
                        review["reviewed_at"],
                        ref,
                        attempt=number,
                        review=approvals.shown(review),
                    )
                )
            if attempt.status == "retry_scheduled":
                events.append(
                    _event(
                        EventType.NODE_RETRY_SCHEDULED,
                        attempt.completed_at,
                        ref,
                        attempt=number,
                        failure=attempt.error,
                        available_at=attempt.available_at,
                    )
                )
            if attempt.status in _NODE_END and number <= (node.attempt_base or 0):
                # An end before the redrive that runs the node again.
                kind, at = _NODE_END[attempt.status], attempt.completed_at
                events.append(_event(kind, at, ref, attempt=number, failure=attempt.error))
        end = _NODE_END.get(node.status)
        if end and node.finished_at:
            details: dict[str, Any] = {"attempt": node.attempt or None}
            if end == EventType.NODE_SUCCEEDED:
                details["result"] = output_of(node)
            elif end == EventType.NODE_SKIPPED:
                details["reason"] = node.skip_reason
            else:
                details["failure"] = node.error
            events.append(_event(end, node.finished_at, ref, **details))
    end = _RUN_END.get(run.status)
    if end and run.finished_at:
        events.append(_event(end, run.finished_at, failure=run.error))
    events.sort(key=lambda e: (e["event_time"], _RANK[e["event_type"]], e["node_ref"] or ""))
    for number, event in enumerate(events, start=1):
        event["event_id"] = number
    return events


def _redrives(run: RunRecord) -> list[dict[str, Any]]:
    """Each redrive: how the run had ended before it, then RUN_REDRIVEN with who and why."""
    events: list[dict[str, Any]] = []
    for redrive in run.redrives:
        end = _RUN_END.get(redrive.get("previous_status", ""))
        if end and redrive.get("previous_finished_at"):
            failure = redrive.get("previous_error")
            events.append(_event(end, redrive["previous_finished_at"], failure=failure))
        events.append(
            _event(
                EventType.RUN_REDRIVEN,
                redrive["at"],
                reason=redrive.get("reason"),
                by=redrive.get("by"),
                key_id=redrive.get("key_id"),
                workflow_version=redrive.get("to_version"),
            )
        )
    return events


def _event(kind: EventType, time: str, ref: str | None = None, **details: Any) -> dict[str, Any]:
    return {
        "event_id": 0,
        "event_type": kind.value,
        "event_time": time,
        "node_ref": ref,
        **{k: v for k, v in details.items() if v is not None},
    }
