"""Step Functions calls: starting node and items executions, resuming a waiting task, stopping.

State machines carry references only (org, run, node, attempt), never user payloads.
"""

import json

from botocore.exceptions import ClientError

from stepwise.core.ids import execution_name
from stepwise.core.observability import logger
from stepwise.infra import aws

# Answers that mean the token's task has already been resumed or has ended: nothing left to do.
_SPENT_TOKEN_ERRORS = frozenset({"InvalidToken", "TaskTimedOut", "TaskDoesNotExist"})


def generation_parts(run_id: str, generation: int = 0) -> tuple[str, ...]:
    """The identity of a run's executions in one generation: the run's first execution is
    generation 0, and its redrive ``n`` runs generation ``n``, whose run, node and chunk
    executions need names of their own (the closed ones keep theirs for 90 days)."""
    return (run_id,) if not generation else (run_id, f"redrive{generation}")


def start_node(
    state_machine_arn: str, org_id: str, run_id: str, ref: str, generation: int = 0
) -> None:
    """A node's execution; its attempt step numbers a redriven node's attempts on."""
    _start(
        state_machine_arn,
        node_execution_name(run_id, ref, generation),
        {"org_id": org_id, "run_id": run_id, "node_ref": ref, "attempt": 1, "prepared": False},
    )


def start_express_node(
    state_machine_arn: str,
    org_id: str,
    run_id: str,
    ref: str,
    generation: int = 0,
    attempt: int = 1,
) -> None:
    """A node's Express execution. Express does not deduplicate names: every call starts one
    (a second runs concurrently; the attempt's lease and conditional writes keep that harmless),
    so callers send it once. Never described, listed or stopped: AWS serves none of that for
    Express executions."""
    aws.client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn,
        name=node_execution_name(run_id, ref, generation),
        input=json.dumps(
            {
                "org_id": org_id,
                "run_id": run_id,
                "node_ref": ref,
                "attempt": attempt,
                "prepared": attempt > 1,
            }
        ),
    )


def hand_off_node(
    state_machine_arn: str,
    org_id: str,
    run_id: str,
    ref: str,
    attempt: int,
    prepared: bool,
    generation: int = 0,
) -> None:
    """Gives the rest of an Express node to its Standard execution, at ``attempt`` (a repeat is
    harmless: the Standard name dedupes, as for any node's start)."""
    _start(
        state_machine_arn,
        node_execution_name(run_id, ref, generation),
        {
            "org_id": org_id,
            "run_id": run_id,
            "node_ref": ref,
            "attempt": attempt,
            "prepared": prepared,
        },
    )


def node_execution_name(run_id: str, ref: str, generation: int = 0) -> str:
    return execution_name(*generation_parts(run_id, generation), ref)


def items_execution_name(run_id: str, ref: str, chunk: int, generation: int = 0) -> str:
    return execution_name(*generation_parts(run_id, generation), ref, f"items{chunk}")


def start_items(
    state_machine_arn: str,
    org_id: str,
    run_id: str,
    ref: str,
    chunk: int,
    indices: list[int],
    max_concurrency: int,
    generation: int = 0,
) -> None:
    """One chunk of a for_each node's items (a repeated start of the same chunk is harmless)."""
    _start(
        state_machine_arn,
        items_execution_name(run_id, ref, chunk, generation),
        _chunk_input(org_id, run_id, ref, chunk, indices, max_concurrency),
    )


def _chunk_input(
    org_id: str, run_id: str, ref: str, chunk: int, indices: list[int], max_concurrency: int
) -> dict:
    """What a chunk execution of either items machine is started with: references only."""
    return {
        "org_id": org_id,
        "run_id": run_id,
        "node_ref": ref,
        "chunk": chunk,
        "indices": indices,
        "max_concurrency": max_concurrency,
    }


def express_items_execution_name(
    run_id: str, ref: str, chunk: int, started_at: str, generation: int = 0
) -> str:
    """An Express chunk's name, one per start: Express does not deduplicate names (a second
    start runs a second execution), so the name only tells starts apart in the logs."""
    stamp = "".join(c for c in started_at if c.isdigit())
    parts = (*generation_parts(run_id, generation), ref, f"items{chunk}", f"at{stamp}")
    return execution_name(*parts)


def start_items_express(
    state_machine_arn: str,
    org_id: str,
    run_id: str,
    ref: str,
    chunk: int,
    indices: list[int],
    max_concurrency: int,
    started_at: str,
    generation: int = 0,
) -> None:
    """One chunk of a for_each node's items as an Express execution. Unlike ``start_items``, a
    repeat starts another execution: the caller starts a chunk once per claim of it."""
    _start(
        state_machine_arn,
        express_items_execution_name(run_id, ref, chunk, started_at, generation),
        _chunk_input(org_id, run_id, ref, chunk, indices, max_concurrency),
    )


def describe_items(
    state_machine_arn: str, run_id: str, ref: str, chunk: int, generation: int = 0
) -> dict | None:
    """A chunk's execution, or None if it was never started."""
    name = items_execution_name(run_id, ref, chunk, generation)
    return _describe(_execution_arn(state_machine_arn, name))


def stop_items(
    state_machine_arn: str, run_id: str, ref: str, chunk: int, cause: str, generation: int = 0
) -> None:
    """Stops a chunk's execution if it is still running; a missing or closed one is fine."""
    name = items_execution_name(run_id, ref, chunk, generation)
    _stop_first(state_machine_arn, [name], "Stepwise.RunSettled", cause)


def legacy_execution_name(*parts: str) -> str | None:
    """The name an earlier Stepwise gave this execution (``{run}.{ref}``, when that differs from
    today's): an execution it started can still be open when the stack is upgraded, and the
    janitor and finalize_run must find and stop it rather than take the node for orphaned."""
    name = ".".join(parts)
    return name if len(name) <= 80 and name != execution_name(*parts) else None


def _names(*parts: str, generation: int = 0) -> list[str]:
    if generation:  # redrives came after the old names
        return [execution_name(*generation_parts(parts[0], generation), *parts[1:])]
    legacy = legacy_execution_name(*parts)
    return [execution_name(*parts), *([legacy] if legacy else [])]


def stop_node(
    state_machine_arn: str, run_id: str, ref: str, cause: str, generation: int = 0
) -> None:
    """Stops a node's execution if it is still running; a missing or closed one is fine."""
    names = _names(run_id, ref, generation=generation)
    _stop_first(state_machine_arn, names, "Stepwise.RunSettled", cause)


def describe_node(
    state_machine_arn: str, run_id: str, ref: str, generation: int = 0
) -> dict | None:
    """The node's execution, or None if it was never started."""
    return _describe_first(state_machine_arn, _names(run_id, ref, generation=generation))


def _describe_first(state_machine_arn: str, names: list[str]) -> dict | None:
    for name in names:
        found = _describe(_execution_arn(state_machine_arn, name))
        if found is not None:
            return found
    return None


def _describe(execution_arn: str) -> dict | None:
    try:
        return aws.client("stepfunctions").describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return None
        raise


def _stop_first(state_machine_arn: str, names: list[str], error: str, cause: str) -> None:
    """Stops the execution under the first of ``names`` that exists (the old name is tried only
    when the current one has none: one call in the usual case)."""
    for name in names:
        try:
            aws.client("stepfunctions").stop_execution(
                executionArn=_execution_arn(state_machine_arn, name), error=error, cause=cause
            )
            return
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "ValidationException":  # it has closed already
                return
            if code != "ExecutionDoesNotExist":
                raise


def resume_run(task_token: str, reason: str) -> bool:
    """Resumes the task waiting on ``task_token`` (a node's attempt, a parent's AwaitChild);
    False if it was already resumed."""
    try:
        aws.client("stepfunctions").send_task_success(
            taskToken=task_token, output=json.dumps({"reason": reason, "timed_out": False})
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _SPENT_TOKEN_ERRORS:
            return False
        raise
    return True


def heartbeat(task_token: str) -> bool:
    """Tells the task waiting on ``task_token`` that its work is alive; False if it has ended."""
    try:
        aws.client("stepfunctions").send_task_heartbeat(taskToken=task_token)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _SPENT_TOKEN_ERRORS:
            return False
        raise
    return True


def _start(state_machine_arn: str, name: str, execution_input: dict) -> None:
    """StartExecution with a deterministic name: a repeat of a closed one is "already started".

    A throttled start (ThrottlingException) is sent again by the client (``aws``: full jitter,
    up to 10 attempts, whatever botocore's retry quota says) and raised only after that. Sending
    it again is safe because the name is deterministic and the machines are Standard: a repeat of
    a running execution with the same input returns it. (An Express machine would start a second
    execution: Express does not deduplicate names.)"""
    try:
        aws.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        logger.info("execution already started", extra={"execution_name": name})


def _execution_arn(state_machine_arn: str, name: str) -> str:
    prefix, _, machine = state_machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:execution:{machine}:{name}"
