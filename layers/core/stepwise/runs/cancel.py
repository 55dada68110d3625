"""Run-level requests that any function may make: cancelling a run."""

from stepwise.core.errors import Conflict
from stepwise.core.statuses import RUN_TERMINAL
from stepwise.infra import executions
from stepwise.runs.records import RunRecord
from stepwise.store import Store


def cancel_run(store: Store, org_id: str, run_id: str, reason: str) -> RunRecord:
    """Marks the run for cancellation and resumes its execution, which then finalises it.

    A queued run has no token yet: its first step sees the request and finishes at once.
    Conflict if the run has ended or is already finishing for another reason.
    """
    run = store.run_state.request_cancel(org_id, run_id, reason)
    if run is None:
        current = store.runs.get_run(org_id, run_id)
        if current.kind == "external":
            raise Conflict("an external run is not executed here: report its phase with PUT")
        if current.status in RUN_TERMINAL:
            raise Conflict(f"the run has already ended ({current.status})")
        raise Conflict(f"the run is already finishing ({current.settle_reason})")
    if run.task_token:
        executions.resume_run(run.task_token, "cancelled")
    return run
