"""What the attempt steps do differently when the node runs as an Express execution.

Express ends after five minutes and has no task tokens. So an outcome whose next wait and
attempt would not fit (workflows/machines.py ``must_hand_off``; a Retry-After can stretch a
backoff past what was planned at save time), and an attempt the destination acknowledged (its
result comes later, by callback), hand the rest of the node to its Standard execution.
"""

from datetime import datetime
from typing import Any

from stepwise.core.clock import now
from stepwise.workflows.machines import STEP_SECONDS, must_hand_off


def started_at(event: dict[str, Any]) -> datetime | None:
    """When the Express execution the step runs in started (``$$.Execution.StartTime``); None
    for a step of a Standard execution."""
    if not event.get("express"):
        return None
    raw = event.get("started_at")
    return datetime.fromisoformat(raw) if isinstance(raw, str) and raw else now()


def hand_off(attempt: int, prepared: bool = True) -> dict[str, Any]:
    """The outcome that has the Express machine start the node's Standard execution, which goes
    on from ``attempt``: its retry wait, or its wait for the callback."""
    return {"next": "handoff", "attempt": attempt, "prepared": prepared}


def fitted(
    outcome: dict[str, Any], started: datetime | None, next_attempt_seconds: int | None
) -> dict[str, Any]:
    """``outcome`` as the Express machine must follow it: a retry whose wait and next attempt
    would end too late becomes a hand-off at the attempt that scheduled the retry."""
    if started is None or outcome.get("next") != "again":
        return outcome
    elapsed = (now() - started).total_seconds()
    attempt_seconds = next_attempt_seconds or STEP_SECONDS
    if not must_hand_off(elapsed, float(outcome["wait_seconds"]), attempt_seconds):
        return outcome
    return hand_off(int(outcome["attempt"]) - 1)
