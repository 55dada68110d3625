"""Rerun from a node: a new run of a settled run's workflow that copies the outcome of every
node not downstream of the node it starts from, and runs that node and everything after it.
docs/engine.md, "Repairing runs", gives the reasoning."""

from typing import Any

from stepwise.core import metrics
from stepwise.core.errors import Conflict, ServiceUnavailable, ValidationFailed, field_error
from stepwise.core.ids import new_id
from stepwise.core.observability import logger
from stepwise.core.statuses import RUN_TERMINAL
from stepwise.runs import quotas, run_queue
from stepwise.runs.records import NodeRecord, RunRecord
from stepwise.runs.redrive import versions
from stepwise.runs.repair_plan import plan_repair, rerun_forced
from stepwise.store import Store
from stepwise.workflows.models import Workflow

_UNSET: Any = object()  # ``input`` not given: the new run takes the old one's


def rerun_run(
    store: Store,
    org_id: str,
    run_id: str,
    start_from: str,
    *,
    run_queue_url: str,
    run_input: Any = _UNSET,
    workflow_version: int | None = None,
    key_id: str | None = None,
    key_name: str | None = None,
) -> tuple[RunRecord, list[NodeRecord], Workflow]:
    """Starts the rerun; the new run (queued) with its nodes and workflow version.

    NotFound, Conflict (409: the run has not settled, or is external), ValidationFailed (422:
    ``from`` is not a node of the version, the version does not exist or a copied outcome does
    not fit it)."""
    run, records = store.runs.get_run_with_nodes(org_id, run_id)
    if run.kind == "external":
        raise Conflict("an external run is not executed here: it cannot be rerun")
    if run.status not in RUN_TERMINAL:
        raise Conflict(f"the run is {run.status}: only a settled run can be rerun")
    old, target = versions(store, org_id, run, workflow_version, "workflow_version")
    if start_from not in target.specs:
        message = f"{start_from!r} is not a node of version {target.workflow.version}"
        raise ValidationFailed([field_error(["body", "from"], message, "value_error")])
    replaced = run_input is not _UNSET
    if replaced:
        quotas.check_run_input(run_input)
    nodes = {node.ref: node for node in records}
    forced = rerun_forced(target, start_from)
    plan = plan_repair(old, target, nodes, replaced, forced)
    if plan.errors:
        raise ValidationFailed(plan.errors)
    quotas.check_open_runs(store, org_id)
    rerun_id = new_id("run")
    origin = {
        "role": "key",
        "created_by": f"key:{key_name}" if key_name else None,
        "created_by_key": key_id,
        "rerun_of": run_id,
        "rerun_from": start_from,
    }
    the_input = run_input if replaced else store.payloads.read(run.input)
    created, _ = store.runs.create_run(
        org_id,
        rerun_id,
        target.workflow,
        the_input,
        {k: v for k, v in origin.items() if v is not None},
    )
    expires_at = created.expires_at or 0
    for node in plan.kept.values():
        store.repairs.copy_node(org_id, rerun_id, node, expires_at)
    settled = {target.positions[ref] for ref in plan.kept}
    store.repairs.rebuild_progress(org_id, rerun_id, len(target.specs), settled, expires_at)
    store.repairs.add_rerun(org_id, run_id, rerun_id)
    try:
        run_queue.start_run_or_refuse(run_queue_url, org_id, rerun_id)
    except run_queue.StartRefused as exc:
        logger.exception("could not start the rerun's execution", extra={"run_id": rerun_id})
        store.run_state.fail_run_start(org_id, rerun_id, str(exc))
        raise ServiceUnavailable("the rerun could not be started; try again") from None
    metrics.count(metrics.Metric.RUNS_STARTED, org_id)
    logger.info("run rerun", extra={"run_id": run_id, "rerun_id": rerun_id})
    new_run, new_nodes = store.runs.get_run_with_nodes(org_id, rerun_id)
    return new_run, new_nodes, target.workflow
