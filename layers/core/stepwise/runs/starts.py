"""Starting a workflow run: its items, then its execution; used by the API and the trigger."""

from typing import Any

from stepwise.core import metrics
from stepwise.core.errors import ServiceUnavailable
from stepwise.core.observability import logger
from stepwise.runs import run_queue
from stepwise.store import Store
from stepwise.workflows.models import Workflow


def start_workflow_run(
    store: Store,
    run_queue_url: str,
    org_id: str,
    run_id: str,
    workflow: Workflow,
    run_input: Any,
    origin: dict[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Creates the run (queued) and queues its start; the run and node items as written.

    If the start cannot be queued the run ends failed, never stays queued, and the caller
    gets ServiceUnavailable (safe to retry)."""
    run, nodes = store.runs.create_run(org_id, run_id, workflow, run_input, origin)
    try:
        run_queue.start_run_or_refuse(run_queue_url, org_id, run_id)
    except run_queue.StartRefused as exc:
        logger.exception("could not queue the run's start", extra={"run_id": run_id})
        store.run_state.fail_run_start(org_id, run_id, str(exc))
        metrics.count(metrics.Metric.RUNS_SETTLED, org_id, Status="failed")
        raise ServiceUnavailable("the run could not be started; try again") from None
    metrics.count(metrics.Metric.RUNS_STARTED, org_id)
    return run, nodes
