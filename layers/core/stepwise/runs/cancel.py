"""Run-level requests that any function may make: cancelling a run."""

from stepwise.core.errors import Conflict
from stepwise.core.statuses import RUN_TERMINAL
from stepwise.runs import run_queue
from stepwise.runs.records import RunRecord
from stepwise.store import Store


def cancel_run(
    store: Store, run_queue_url: str, org_id: str, run_id: str, reason: str
) -> RunRecord:
    """Marks the run for cancellation and queues its finalisation (the engine's: it stops the
    run's node executions, which the caller may not be allowed to do).

    A queued run is finished by whichever comes first, that message or its start (which sees
    the request); the other then finds it ended.
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
    run_queue.queue_finalize(run_queue_url, org_id, run_id, run.generation)
    return run
