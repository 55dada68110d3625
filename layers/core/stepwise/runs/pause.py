"""Pausing and resuming a run: running nodes finish, nothing new starts until it is resumed.

The pause is the run's status (``paused``), moved with its status index and counters in one
conditional write, and recorded in the run's ``pauses`` (who, when, why; resume adds who and
when), which the history shows as ``RUN_PAUSED`` and ``RUN_RESUMED``. Resume moves the run back
to ``running``, then has what the pause held started (``engine/held_nodes.py``) by ``release``:
the API queues that on the bulk queue, the bulk function does it at once.

Repeats answer as an on-call engineer expects: pausing a paused run, or resuming a run whose
last pause was already resumed, changes nothing and is not an error (the second resume queues
the release again, which is harmless and heals a release that was lost). Everything else that
cannot be paused or resumed is a Conflict that says why.
"""

from collections.abc import Callable

from stepwise.core.clock import now_iso
from stepwise.core.errors import Conflict
from stepwise.core.statuses import RUN_TERMINAL, RunStatus
from stepwise.runs.records import RunRecord
from stepwise.store import Store

Release = Callable[[str, str], object]  # (org_id, run_id): start what the pause held


def pause_run(store: Store, org_id: str, run_id: str, by: str, reason: str | None) -> bool:
    """Pauses a queued or running run; whether this call paused it (False: paused already)."""
    pause = {"paused_at": now_iso(), "paused_by": by, "reason": reason or "paused"}
    for _ in range(3):  # again if it moved from queued to running in between
        current = store.runs.get_run(org_id, run_id)
        # An external run may report a paused phase: _refuse answers it.
        repeat = current.status == RunStatus.PAUSED and current.kind != "external"
        if repeat and not current.settle_requested_at:
            return False
        _refuse(current, "paused")
        # One transaction from the status just read: a failed one costs as much as a write.
        if store.run_state.pause(org_id, run_id, pause, RunStatus(current.status)):
            return True
    raise Conflict("the run changed while it was being paused: try again")


def resume_run(store: Store, org_id: str, run_id: str, by: str, release: Release) -> bool:
    """Resumes a paused run and releases what it held; whether this call resumed it (False: a
    repeat, whose release is queued again)."""
    current = store.runs.get_run(org_id, run_id)
    if current.status == RunStatus.PAUSED and not current.settle_requested_at and current.pauses:
        if store.run_state.resume(org_id, run_id, len(current.pauses) - 1, by):
            release(org_id, run_id)
            return True
        current = store.runs.get_run(org_id, run_id)
    if resumed_already(current):
        release(org_id, run_id)  # harmless, and heals a release that never went out
        return False
    _refuse(current, "resumed")
    raise Conflict(f"the run is {current.status}, not paused")


def resumed_already(run: RunRecord) -> bool:
    """A running run whose last pause has been resumed (a repeated resume)."""
    return (
        run.status == RunStatus.RUNNING
        and not run.settle_requested_at
        and bool(run.pauses)
        and bool(run.pauses[-1].get("resumed_at"))
    )


def _refuse(run: RunRecord, what: str) -> None:
    """The Conflict that says why the run cannot be paused or resumed, if it is one of those."""
    if run.kind == "external":
        raise Conflict(f"an external run is not executed here: it cannot be {what}")
    if run.status in RUN_TERMINAL:
        raise Conflict(f"the run has already ended ({run.status})")
    if run.settle_requested_at:
        raise Conflict(f"the run is already finishing ({run.settle_reason})")
    if what == "resumed" and run.status != RunStatus.PAUSED:
        raise Conflict(f"the run is {run.status}, not paused")
    if what == "paused" and run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
        raise Conflict(f"the run is {run.status}")
