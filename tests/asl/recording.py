"""Executions recorded on the moto stack: what each state machine did, and what the engine's real
code answered at each Task state, read back from the execution history."""

import json
from dataclasses import dataclass, field
from typing import Any

# Where a task's outcome shows up in a history: the event types that end a Task state's work.
_LAMBDA_DONE = {"LambdaFunctionSucceeded", "LambdaFunctionFailed", "LambdaFunctionTimedOut"}
_TASK_DONE = {"TaskSucceeded", "TaskFailed", "TaskTimedOut"}


@dataclass
class Outcome:
    """One answer at one Task state: a result, or an error as Step Functions names it."""

    output: Any = None
    error: str | None = None
    cause: str = ""


@dataclass
class Recorded:
    label: str  # "run", "child run", "node <ref>"
    machine: str  # the template's logical id
    name: str
    input: dict[str, Any]
    status: str
    events: list[dict[str, Any]]
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)
    seconds: float = 0.0  # from start to stop
    # an Express machine's execution replayed on LocalStack as Express (StartSyncExecution, no
    # history): how it ended, and its output; empty for a Standard machine's
    express_status: str = ""
    express_output: Any = None
    output: Any = None  # the execution's output (its ExecutionSucceeded event's)

    @property
    def path(self) -> list[str]:
        return state_path(self.events)


def history(client: Any, arn: str) -> list[dict[str, Any]]:
    """Every event of an execution's history, all pages."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = client.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def state_path(events: list[dict[str, Any]]) -> list[str]:
    """The states entered, in order (a Map's iterations appear in the order they ran)."""
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")
    ]


def execution_output(events: list[dict[str, Any]]) -> Any:
    """What the execution ended with: its ExecutionSucceeded event's output, else None."""
    for event in events:
        if event["type"] == "ExecutionSucceeded":
            return json.loads(event["executionSucceededEventDetails"].get("output") or "null")
    return None


def outcomes(events: list[dict[str, Any]]) -> dict[str, list[Outcome]]:
    """Each Task state's answers in the order they came, found by walking previousEventId back
    from the event that ended the task to the state it was entered in."""
    by_id = {e["id"]: e for e in events}
    found: dict[str, list[Outcome]] = {}
    for event in events:
        kind = event["type"]
        if kind not in _LAMBDA_DONE | _TASK_DONE:
            continue
        entered = event
        while not entered["type"].endswith("StateEntered"):
            entered = by_id[entered["previousEventId"]]
        state = entered["stateEnteredEventDetails"]["name"]
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        if kind.endswith("Succeeded"):
            outcome = Outcome(output=json.loads(details.get("output") or "null"))
        elif kind.endswith("TimedOut"):
            outcome = Outcome(error=details.get("error") or "States.Timeout")
        else:
            outcome = Outcome(error=details.get("error"), cause=details.get("cause") or "")
        found.setdefault(state, []).append(outcome)
    return found
