"""Acknowledged attempts of Express nodes: they wait for their callback with no execution.

A Standard execution would bill 6 transitions to wait (Deliver's task token, then the settle).
Instead the Express execution that delivered the attempt ends once the ack is recorded; the
attempt keeps ``awaiting_since`` and its ``timeout_at`` (set when it was prepared, moved on by
each heartbeat: the same window as Deliver's HeartbeatSeconds), and a ``callback_timeout``
message on RunQueue (runs/run_queue.py) comes back when it is due, or after SQS's longest delay,
and is queued again for what is left while the deadline is ahead.

Exactly one of signal, timeout and cancel ends the attempt: the API records a signal only while
the attempt runs and has no ``timed_out_at``; the timer records ``timed_out_at`` only while the
attempt runs, has no signal and is past its ``timeout_at``; a cancel ends the node, which both
conditions require running. Whoever then settles (the signals function with the signal, the
timer with either) goes on as ActionSettled would: the node succeeds or fails and the run moves
on, or the next attempt starts on the node's Express execution (on its Standard one when its
backoff would not fit). Settling is conditional, so a duplicate signal, a timer delivered twice
or both at once settle it once, and only the write that scheduled a retry starts its execution.
"""

from datetime import datetime
from typing import TYPE_CHECKING, Any

from stepwise.core.clock import iso, now
from stepwise.core.errors import NotFound
from stepwise.core.observability import logger
from stepwise.core.statuses import NODE_TERMINAL
from stepwise.engine.address import NodeAddress
from stepwise.engine.attempts import StepFamily
from stepwise.engine.express import fitted
from stepwise.engine.shared import DONE
from stepwise.infra import executions
from stepwise.runs import run_queue
from stepwise.runs.records import AttemptRecord, NodeRecord, RunRecord

if TYPE_CHECKING:
    from stepwise.engine.action_steps import ActionSteps


class Callbacks(StepFamily):
    """Awaiting an acknowledged attempt's callback, and settling it, without an execution."""

    actions: "ActionSteps"  # set by the Engine (the attempt's settle is the action steps')

    def await_callback(self, address: NodeAddress, node: NodeRecord) -> dict[str, Any]:
        """The Express execution's last step after an ack: marks the attempt awaiting and
        queues its timer (once: a replayed step finds the mark and queues nothing). A signal
        recorded before the mark is settled here and now."""
        at = iso(now())
        org_id, run_id, ref, number = address.org_id, address.run_id, address.ref, address.attempt
        marked = self.store.attempts.mark_awaiting(org_id, run_id, ref, number, at)
        if marked is None:
            # The attempt ended meanwhile (a cancel, a settle): finish what is left.
            self.settle(address)
            return DONE
        tried = marked.attempt_record(number)
        if tried is not None and tried.signal is not None:
            # The signal came before the mark: the signals function found nothing awaiting
            # then and left it here.
            self.settle(address)
        elif tried is not None and tried.awaiting_since == at:
            self._queue_timer(address, node, tried)
        return DONE

    def signalled(self, org_id: str, run_id: str, ref: str, attempt: int) -> None:
        """The signals function: the signal recorded on an awaiting attempt settles it."""
        self.settle(NodeAddress(org_id, run_id, ref, attempt))

    def timer(self, org_id: str, run_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """A ``callback_timeout`` message: the attempt times out if its (heartbeat-moved)
        deadline has passed with no signal; a timer that came early is queued again."""
        ref, number = str(message["node_ref"]), int(message["attempt"])
        address = NodeAddress(org_id, run_id, ref, number)
        try:
            node = self.store.runs.get_node(org_id, run_id, ref)
        except NotFound:
            return {}
        tried = node.attempt_record(number)
        if node.status in NODE_TERMINAL and node.attempt == number and awaiting(tried):
            # Settled by its signal or timeout, perhaps not all the way (the settle failed
            # after the node's write): settle finishes the job, once more or for the first time.
            self.settle(address)
            return {}
        if not _still_awaiting(node, tried, number):
            return {}  # superseded, retried or cancelled: the timer has nothing to do
        assert tried is not None
        if tried.signal is None and tried.timed_out_at is None:
            left = _seconds_left(tried)
            if left > 0:
                self._queue_timer(address, node, tried)
                return {}
            self.store.attempts.mark_timed_out(org_id, run_id, ref, number, iso(now()))
        # The timeout, or a signal that won the race (its own settle may still be on the way:
        # whichever comes first settles, the other finds it settled).
        self.settle(address)
        return {}

    def overdue(self, node: NodeRecord, when: datetime) -> bool:
        """Whether an awaiting attempt is past its deadline at ``when`` (the janitor's test:
        its timer was lost if it is well past)."""
        tried = node.attempt_record(node.attempt)
        if not _still_awaiting(node, tried, node.attempt) or tried is None:
            return False
        if tried.signal is not None or tried.timed_out_at is not None:
            return True  # recorded, not yet settled
        return bool(tried.timeout_at) and datetime.fromisoformat(tried.timeout_at) < when

    def settle(self, address: NodeAddress) -> None:
        """Ends an awaiting attempt with its signal or its timeout, as ActionSettled would, and
        moves on: the run (the node settled) or the next attempt (a retry scheduled)."""
        org_id, run_id, ref = address.org_id, address.run_id, address.ref
        node = self.store.runs.get_node(org_id, run_id, ref)
        if node.status in NODE_TERMINAL:
            self.advance.node_changed(address)  # a replay: finish the job
            return
        tried = node.attempt_record(address.attempt)
        if not _still_awaiting(node, tried, address.attempt) or tried is None:
            return
        if tried.signal is None and tried.timed_out_at is None:
            return  # still waiting
        run = self.store.runs.get_run(org_id, run_id)
        spec = self.deps.workflow(org_id, run).specs[ref]
        scheduled: list[bool] = []
        outcome = self.actions.settle_attempt(address, node, spec, tried, scheduled)
        if outcome is None:
            self.advance.node_changed(address)
            return
        if scheduled:  # only the write that scheduled the retry starts its execution
            self._next_attempt(address, run, outcome, tried)

    def _next_attempt(
        self, address: NodeAddress, run: RunRecord, outcome: dict[str, Any], tried: AttemptRecord
    ) -> None:
        """The node's Express execution again at the failed attempt (it waits out the backoff,
        then tries the next), or its Standard one when the backoff and the next attempt would
        not fit in an Express execution starting now."""
        org_id, run_id, ref = address.org_id, address.run_id, address.ref
        fits = fitted(outcome, now(), tried.heartbeat_seconds)
        if fits.get("next") == "handoff":
            machine = self.deps.node_state_machine_arn
            executions.hand_off_node(
                machine, org_id, run_id, ref, address.attempt, True, run.generation
            )
            return
        self.deps.start_node(org_id, run_id, ref, run.generation, True, address.attempt)

    def _queue_timer(self, address: NodeAddress, node: NodeRecord, tried: AttemptRecord) -> None:
        """The attempt's timer, of the generation the node runs in (a redrive, which runs it
        again, records its own on the node), so no run read is needed."""
        left = _seconds_left(tried)
        run_queue.queue_callback_timeout(
            self.deps.run_queue_url,
            address.org_id,
            address.run_id,
            node.generation or 0,
            address.ref,
            address.attempt,
            left,
        )
        logger.info("attempt awaits its callback", extra={"attempt": address.attempt})


def awaiting(tried: AttemptRecord | None) -> bool:
    """An acknowledged attempt waiting for its callback with no execution (no task token)."""
    return tried is not None and bool(tried.awaiting_since) and tried.task_token is None


def still_awaiting(node: NodeRecord) -> bool:
    """The node's current attempt awaits its callback with no execution, and still runs."""
    return _still_awaiting(node, node.attempt_record(node.attempt), node.attempt)


def _still_awaiting(node: NodeRecord, tried: AttemptRecord | None, number: int) -> bool:
    return (
        node.status not in NODE_TERMINAL
        and node.attempt == number
        and awaiting(tried)
        and tried is not None
        and tried.status == "running"
    )


def _seconds_left(tried: AttemptRecord) -> float:
    if not tried.timeout_at:
        return 0.0
    return (datetime.fromisoformat(tried.timeout_at) - now()).total_seconds()
