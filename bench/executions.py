"""What Step Functions bills for a run's executions, read from the local stack.

Every state machine of template.yaml is priced by its own ``Type``: a Standard execution by its
state transitions (every ``*StateEntered`` event of its history, Map iterations and retries
included), an Express one per request plus its duration, rounded up to 100 ms, at the billed
memory (64 MB chunks; Stepwise's executions carry references only, so the first chunk). An Express
execution's duration is what it would take on AWS: each Lambda task at its invocation's billed
time (bench/aws_time.py, matched to the meter's invocation by function and input), each Wait as
long as it waited, and ``STATE_SECONDS`` for every state entered; its wall time on the local
stack measures the machine's load. The executions are read from moto's backend in this process,
not through the Step Functions API: AWS serves neither DescribeExecution nor GetExecutionHistory
for Express executions, and the local stack may refuse them as AWS does. This is the bench's own
reading of its own local stack; production code never reads an Express execution.
"""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.aws_time import OTHER_CALL_SECONDS, STATE_SECONDS
from stepwise_local.template import ACCOUNT_ID, REGION, load_template

# (function name, its input as JSON) -> the billed seconds of that invocation, or None if unseen
Priced = Callable[[str, str], float | None]

EXPRESS_BILLING_STEP_SECONDS = 0.1
EXPRESS_MEMORY_CHUNK_MB = 64


def machine_types(template_path: Path | None = None) -> dict[str, str]:
    """Logical id -> ``STANDARD`` or ``EXPRESS`` for every state machine of the template (a
    machine without ``Type`` is Standard, as in CloudFormation)."""
    template = load_template(template_path) if template_path else load_template()
    return {
        logical_id: resource.get("Properties", {}).get("Type", "STANDARD").upper()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
    }


def express_gb_seconds(seconds: float, memory_mb: float = EXPRESS_MEMORY_CHUNK_MB) -> float:
    """Billed GB-seconds of one Express execution: the duration rounded up to the next 100 ms
    (at least 100 ms), the memory rounded up to 64 MB chunks (at least one)."""
    steps = max(1, math.ceil(round(seconds / EXPRESS_BILLING_STEP_SECONDS, 9)))
    chunks = max(1, math.ceil(memory_mb / EXPRESS_MEMORY_CHUNK_MB))
    return steps * EXPRESS_BILLING_STEP_SECONDS * chunks * EXPRESS_MEMORY_CHUNK_MB / 1024


@dataclass
class ExecutionBill:
    transitions: int = 0
    express_requests: int = 0
    express_gb_seconds: float = 0.0
    standard_executions: int = 0
    running: int = 0  # executions of the run not ended yet (an Express one is priced at its end)


def belongs_to(execution_input: Any, run_id: str) -> bool:
    """An execution is the run's if its input names the run or one of its child runs (names are
    hashed, so they cannot tell)."""
    if not isinstance(execution_input, dict):
        return False
    of = execution_input.get("run_id")
    if not isinstance(of, str):
        return False
    return of == run_id or of.startswith(f"{run_id}.")


def transitions_of(history_events: list[Any]) -> int:
    """Billed transitions of a Standard execution: every state entered."""
    return sum(1 for event in history_events if _event_type(event).endswith("StateEntered"))


def bill_run(
    run_id: str, names: dict[str, str], types: dict[str, str], priced: Priced | None = None
) -> ExecutionBill:
    """Step Functions' bill for every execution of ``run_id`` on the local stack. ``names``:
    logical id -> state machine ARN (``ProvisionedStack.names``); ``priced``: the billed seconds
    of a Lambda invocation (``Meter.billed_seconds``), without which an Express execution is
    billed for its wall time here."""
    by_arn = {arn: logical_id for logical_id, arn in names.items() if logical_id in types}
    bill = ExecutionBill()
    for machine_arn, execution in local_executions():
        logical_id = by_arn.get(machine_arn)
        if logical_id is None or not belongs_to(execution.input_data, run_id):
            continue
        if types[logical_id] == "EXPRESS":
            if execution.stop_date is None:
                bill.running += 1
                continue
            if priced is None:
                seconds = (execution.stop_date - execution.start_date).total_seconds()
            else:
                seconds = express_seconds(_history(execution), priced)
            bill.express_requests += 1
            bill.express_gb_seconds += express_gb_seconds(seconds)
        else:
            bill.standard_executions += 1
            bill.transitions += transitions_of(_history(execution))
    return bill


def express_seconds(history_events: list[Any], priced: Priced) -> float:
    """An Express execution's duration as AWS would run it: its Lambda tasks at their billed
    time (the local wall time of a task the meter did not see), other tasks at an AWS call's
    latency, Waits as waited, and ``STATE_SECONDS`` for every state entered."""
    seconds = 0.0
    opened: tuple[str, str | None, datetime] | None = None  # (kind, function+input, since)
    for event in history_events:
        kind, at = _event_type(event), _timestamp(event)
        if kind.endswith("StateEntered"):
            seconds += STATE_SECONDS
            if kind == "WaitStateEntered":
                opened = ("wait", None, at)
        elif kind == "WaitStateExited" and opened and opened[0] == "wait":
            seconds += (at - opened[2]).total_seconds()
            opened = None
        elif kind in ("LambdaFunctionScheduled", "TaskScheduled"):
            opened = ("task", _lambda_call(event), at)
        elif opened and opened[0] == "task" and kind.endswith(("Succeeded", "Failed", "TimedOut")):
            call = opened[1]
            billed = priced(*json.loads(call)) if call else None
            if billed is None:
                billed = (at - opened[2]).total_seconds() if call else OTHER_CALL_SECONDS
            seconds += billed
            opened = None
    return seconds


def _lambda_call(event: dict[str, Any]) -> str | None:
    """[function name, input JSON] of a Lambda task's scheduling event (as JSON), None for a
    task of another service."""
    if details := event.get("lambdaFunctionScheduledEventDetails"):
        return json.dumps([details["resource"].rsplit(":", 1)[-1], details.get("input") or "{}"])
    details = event.get("taskScheduledEventDetails") or {}
    if details.get("resourceType") != "lambda":
        return None
    parameters = json.loads(details.get("parameters") or "{}")
    function = str(parameters.get("FunctionName", "")).rsplit(":", 1)[-1]
    return json.dumps([function, json.dumps(parameters.get("Payload", {}))])


def _timestamp(event: Any) -> datetime:
    raw = event.get("timestamp") if isinstance(event, dict) else getattr(event, "timestamp", None)
    if isinstance(raw, datetime):
        return raw
    return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))


def busy(stack: Any) -> bool:
    """Something still runs on the local stack: an execution, or a message waiting or in
    flight in a queue a function polls (the local pollers stand for Lambda's event source
    mappings: a message in flight is work under way). A delayed message is a timer, not work
    under way: it may be due long after the run ended. Read from moto's backends in this
    process: a check through the API makes a dozen requests, and polling with them competes
    for the GIL with the work being measured."""
    from moto.sqs.models import sqs_backends

    for _, execution in local_executions():
        if str(getattr(execution.status, "value", execution.status)) == "RUNNING":
            return True
    queues = sqs_backends[ACCOUNT_ID][REGION]
    for function in stack.stack.functions.values():
        for source in function.queues:
            queue = queues.get_queue(source.queue_url.rstrip("/").rsplit("/", 1)[-1])
            if any(not message.delayed for message in list(queue._messages)):
                return True
    return False


def due_timers(stack: Any, run_id: str) -> int:
    """Makes every delayed message that names ``run_id`` (a run's deadline, an acknowledged
    attempt's callback timeout) due now, as if its delay had passed; how many. The work a timer
    does when it comes back after the run has ended is the run's too."""
    from moto.sqs.models import sqs_backends

    queues = sqs_backends[ACCOUNT_ID][REGION]
    made_due = 0
    for function in stack.stack.functions.values():
        for source in function.queues:
            queue = queues.get_queue(source.queue_url.rstrip("/").rsplit("/", 1)[-1])
            for message in list(queue._messages):
                if message.delayed and run_id in message.body:
                    message.delayed_until = 0
                    made_due += 1
    return made_due


def local_executions() -> list[tuple[str, Any]]:
    """(state machine ARN, execution) of every execution moto's executing backend holds."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[ACCOUNT_ID][REGION]
    return [
        (machine.arn, execution)
        for machine in list(backend.state_machines)
        for execution in list(machine.executions)
    ]


def _history(execution: Any) -> list[Any]:
    return list(execution.to_history_output().get("events", []))


def _event_type(event: Any) -> str:
    kind = event.get("type") if isinstance(event, dict) else getattr(event, "type", "")
    return str(getattr(kind, "value", kind))
