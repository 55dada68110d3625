"""Redrive: a failed, timed-out or cancelled run resumes as the same run. Outcomes that stand
are kept (no second execution, no second delivery); the rest runs again in a new execution of
the run, with attempts numbered on. docs/engine.md, "Repairing runs", gives the reasoning."""

from datetime import timedelta
from typing import Any

from stepwise.core import metrics
from stepwise.core.clock import now, now_iso
from stepwise.core.errors import (
    Conflict,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
    field_error,
)
from stepwise.core.observability import logger
from stepwise.core.statuses import NodeKind, RunStatus
from stepwise.engine.compiled import CompiledWorkflow
from stepwise.runs import quotas, run_queue
from stepwise.runs.records import NodeRecord, RunRecord
from stepwise.runs.repair_plan import RepairPlan, plan_repair
from stepwise.store import Store

REDRIVABLE = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.CANCELLED})
_UNSET: Any = object()  # ``input`` not given: the run keeps its input


def redrive_run(
    store: Store,
    org_id: str,
    run_id: str,
    *,
    run_queue_url: str | None,
    run_input: Any = _UNSET,
    workflow_version: int | None = None,
    reason: str | None = None,
    key_id: str | None = None,
    key_name: str | None = None,
    actor: str | None = None,
) -> RunRecord:
    """Redrives the run; the run as it is now (queued, its new execution started).

    ``run_input`` replaces the input for the nodes that run again; ``workflow_version`` moves
    the run onto that (newer) version of its workflow. ``key_id``/``key_name`` (or ``actor``,
    for the engine) say who asked. ``run_queue_url`` is the RunQueue the redrive's start
    is queued on; None only for a parent run's AwaitChild, which starts its child's
    itself (and whose child is not held to the open-runs quota, as a child run never is).
    NotFound, Conflict (409: not in a status a redrive takes, external, or changed meanwhile),
    ValidationFailed (422 naming the field), QuotaExceeded (413 input, 429 open runs)."""
    run, records = store.runs.get_run_with_nodes(org_id, run_id)
    check_redrivable(run)
    replaced = run_input is not _UNSET
    if replaced:
        quotas.check_run_input(run_input)
    if run_queue_url:
        quotas.check_open_runs(store, org_id)  # the run is open again
    old, target = versions(store, org_id, run, workflow_version, "workflow_version")
    nodes = {node.ref: node for node in records}
    plan = plan_repair(old, target, nodes, replaced)
    if plan.errors:
        raise ValidationFailed(plan.errors)
    number = run.generation + 1
    record = {
        "number": number,
        "at": now_iso(),
        "by": actor or (f"key:{key_name}" if key_name else None),
        "key_id": key_id,
        "reason": reason,
        "from_version": run.workflow_version,
        "to_version": target.workflow.version,
        "input_replaced": replaced,
        "previous_status": run.status,
        "previous_finished_at": run.finished_at,
        "previous_error": run.error,
    }
    expires_at = _expiry(store, target)
    record = {k: v for k, v in record.items() if v is not None}
    claimed = store.repairs.claim_redrive(
        run,
        target.workflow,
        record,
        expires_at,
        (run_input,) if replaced else None,
    )
    if not claimed:
        check_redrivable(store.runs.get_run(org_id, run_id))
        raise Conflict("the run changed while it was being redriven; read it and try again")
    _write_nodes(store, org_id, run_id, target, plan, number, expires_at)
    logger.info("run redriven", extra={"run_id": run_id, "redrive": number})
    if run_queue_url:
        start_execution(store, run_queue_url, org_id, run_id, number)
    metrics.count(metrics.Metric.RUNS_STARTED, org_id)
    return store.runs.get_run(org_id, run_id)


def check_redrivable(run: RunRecord) -> None:
    """Conflict (409) for a run a redrive does not take, saying why."""
    if run.kind == "external":
        raise Conflict("an external run is not executed here: it cannot be redriven")
    if run.status not in REDRIVABLE:
        raise Conflict(
            f"the run is {run.status}: only a failed, timed_out or cancelled run can be redriven"
            + (" (rerun it to run nodes again)" if run.status == RunStatus.SUCCEEDED else "")
        )


def versions(
    store: Store, org_id: str, run: RunRecord, version: int | None, field: str
) -> tuple[CompiledWorkflow, CompiledWorkflow]:
    """The run's workflow version and the one a repair runs (``version``, default the run's);
    a 422 naming ``field`` for a version that does not exist or is older than the run's."""
    pinned = store.workflows.get_workflow(org_id, run.workflow_id, run.workflow_version)
    old = CompiledWorkflow(pinned)
    if version is None or version == run.workflow_version:
        return old, old
    if run.workflow_version is not None and version < run.workflow_version:
        message = f"version {version} is older than the run's ({run.workflow_version})"
        raise ValidationFailed([field_error(["body", field], message, "value_error")])
    try:
        workflow = store.workflows.get_workflow(org_id, run.workflow_id, version)
    except NotFound:
        message = f"workflow {run.workflow_id!r} has no version {version}"
        raise ValidationFailed([field_error(["body", field], message, "value_error")]) from None
    return old, CompiledWorkflow(workflow)


def start_execution(
    store: Store, run_queue_url: str, org_id: str, run_id: str, generation: int
) -> None:
    """The run's execution for this redrive (named from the run and the redrive's number, so a
    repeat starts nothing); a refused start fails the run, which can be redriven again."""
    try:
        run_queue.start_run_or_refuse(run_queue_url, org_id, run_id, generation)
    except run_queue.StartRefused as exc:
        logger.exception("could not start the redrive's execution", extra={"run_id": run_id})
        store.run_state.fail_run_start(org_id, run_id, str(exc))
        raise ServiceUnavailable("the run could not be started; try again") from None


def _write_nodes(
    store: Store,
    org_id: str,
    run_id: str,
    target: CompiledWorkflow,
    plan: RepairPlan,
    generation: int,
    expires_at: int,
) -> None:
    """The nodes as the plan says, then the run's progress with the kept ones in."""
    repairs, positions = store.repairs, target.positions
    for ref in plan.dropped:
        repairs.drop_node(org_id, run_id, ref)
    for ref, node in plan.kept.items():
        repairs.keep_node(org_id, run_id, ref, node.status, positions[ref], expires_at)
    for ref, node in plan.again.items():
        spec = target.specs[ref]
        child = _failed_child(store, org_id, node) if spec.kind == NodeKind.WORKFLOW else None
        repairs.reset_node(
            org_id,
            run_id,
            node,
            positions[ref],
            list(spec.depends_on),
            expires_at,
            generation,
            child,
        )
    for ref in plan.added:
        spec = target.specs[ref]
        repairs.add_node(
            org_id,
            run_id,
            ref,
            str(spec.kind),
            positions[ref],
            list(spec.depends_on),
            expires_at,
            generation,
        )
    settled = {positions[ref] for ref in plan.kept}
    repairs.rebuild_progress(org_id, run_id, len(target.specs), settled, expires_at)


def _failed_child(store: Store, org_id: str, node: NodeRecord) -> str | None:
    """A workflow node's last child run, if a redrive can resume it (the node then redrives
    it instead of starting a fresh child)."""
    if not node.child_run_id:
        return None
    try:
        child = store.runs.get_run(org_id, node.child_run_id)
    except NotFound:
        return None
    return child.run_id if child.status in REDRIVABLE else None


def _expiry(store: Store, target: CompiledWorkflow) -> int:
    """A repaired run lives as long as a run started now would."""
    timeout = timedelta(seconds=target.workflow.timeout)
    return int((now() + timeout + store.retention).timestamp())
