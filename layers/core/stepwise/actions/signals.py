"""Signals and reviews: what settles (or keeps alive) an attempt that waits on someone else.

The API records a signal on its attempt once, as a conditional write: that record is what the engine
reads. Then it queues a resume on SignalQueue, and the signals function resumes the waiting task,
or, for an Express node's attempt that awaits its callback with no execution, settles it there
(engine/callbacks.py). A duplicate changes nothing; a signal for an attempt that ended otherwise
(timed out, superseded, its run over) is refused. A target with an ``index`` is one item of a
for_each action node: the item's own record holds its attempts, signal and token.
"""

from collections.abc import Callable
from typing import Any

from stepwise.actions import approvals
from stepwise.actions.signal_models import (
    ReviewCreate,
    SignalBody,
    SignalError,
    SignalReceipt,
    SignalStatus,
)
from stepwise.actions.webhooks.responses import Signal
from stepwise.actions.webhooks.signal_tokens import SignalTarget
from stepwise.core import metrics
from stepwise.core.clock import now_iso
from stepwise.core.errors import Conflict, NotFound
from stepwise.core.observability import logger
from stepwise.core.statuses import NodeKind, NodeStatus
from stepwise.infra import executions, queues
from stepwise.runs.records import AttemptRecord, NodeRecord
from stepwise.store import Store

DEFAULT_HEARTBEAT_SECONDS = 60
_SETTLING = frozenset({Signal.SUCCESS, Signal.FAILURE})


class Signals:
    def __init__(self, store: Store, queue_url: str):
        self.store = store
        self.queue_url = queue_url

    def accept(self, target: SignalTarget, body: SignalBody) -> SignalReceipt:
        """Records a destination's callback for ``target``; Conflict when it comes too late."""
        t = target
        if body.signal in _SETTLING:
            updated = self.store.attempts.record_signal(
                t.org_id,
                t.run_id,
                t.node_ref,
                t.attempt,
                _signal_record(body),
                body.result if body.signal == Signal.SUCCESS else None,
                index=t.index,
            )
        else:
            node = self._node(t)
            seconds = _attempt(node, t.attempt).heartbeat_seconds
            updated = self.store.attempts.record_heartbeat(
                t.org_id,
                t.run_id,
                t.node_ref,
                t.attempt,
                int(seconds or DEFAULT_HEARTBEAT_SECONDS),
                index=t.index,
            )
        if updated is None:
            return self._not_waiting(t, body.signal)
        settles = body.signal in _SETTLING
        if settles or not _awaiting_inline(updated, t.attempt):
            # A heartbeat of an attempt awaiting with no execution only moves its deadline.
            self._queue(t, "settle" if settles else "heartbeat")
        count_signal(t.org_id, "accepted")
        logger.info(
            "signal accepted",
            extra={"attempt": t.attempt, "index": t.index, "signal": body.signal.value},
        )
        return _receipt(t, body.signal, SignalStatus.ACCEPTED, "the signal was accepted")

    def review(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        decision: ReviewCreate,
        reviewer: str,
        reviewer_key: str | None = None,
    ) -> NodeRecord:
        """Records an approval node's review, with the reviewing key's id; the node. Conflict
        unless it is waiting, or when the same key reviewed this attempt before.

        The attempt counts its reviews (``approvals.py``): a rejection, or the approval that
        makes ``required_approvals`` distinct keys, settles it and queues the resume; an
        approval short of that is recorded and the node keeps waiting."""
        node = self.store.runs.get_node(org_id, run_id, ref)
        if node.kind != NodeKind.APPROVAL:
            raise Conflict(f"node {ref!r} is a {node.kind} node; only approval nodes are reviewed")
        required = self._required_approvals(org_id, run_id, ref)
        review = {
            "kind": "review",
            "decision": decision.decision.value,
            "reviewed_by": reviewer,
            **({"reviewed_by_key": reviewer_key} if reviewer_key else {}),
            "reviewed_at": now_iso(),
            **({"comment": decision.comment} if decision.comment is not None else {}),
        }
        reviewer_id = reviewer_key or reviewer
        # Each round reads the attempt and writes on condition that no other review landed in
        # between; one that did makes the next round count it. Every round that fails saw one
        # more review, so the bound (the most reviews an attempt can take) is never reached.
        for _ in range(approvals.MAX_ROUNDS):
            number = node.attempt
            current = _attempt(node, number)
            earlier = approvals.by_reviewer(current, reviewer_id)
            if earlier is not None:
                count_signal(org_id, "duplicate")
                raise Conflict(
                    f"node {ref!r} was already reviewed ({approvals.describe(earlier)}): "
                    "a key reviews an attempt once"
                )
            if current.signal:
                count_signal(org_id, "duplicate")
                raise Conflict(
                    f"node {ref!r} was already reviewed ({approvals.describe(current.signal)})"
                )
            if current.status != "running" or node.status != NodeStatus.RUNNING:
                count_signal(org_id, "late")
                raise Conflict(f"node {ref!r} is {node.status}; it is not waiting for a review")
            seen = approvals.reviews_of(current)
            settles = approvals.settles(review, seen, required)
            updated = self.store.attempts.record_review(
                org_id, run_id, ref, number, review, len(seen), required, settles
            )
            if updated is not None:
                break
            node = self.store.runs.get_node(org_id, run_id, ref)
        else:
            raise Conflict(f"node {ref!r} is taking too many reviews at once; try again")
        self.store.run_state.record_review(org_id, run_id, review)
        if settles:
            self._queue(SignalTarget(org_id, run_id, ref, number), "settle")
        count_signal(org_id, "accepted")
        logger.info(
            "review recorded",
            extra={"decision": review["decision"], "approvals": len(seen) + 1, "settles": settles},
        )
        return updated

    def _required_approvals(self, org_id: str, run_id: str, ref: str) -> int:
        """How many distinct keys must approve the node, from the run's workflow version."""
        run = self.store.runs.get_run(org_id, run_id)
        workflow = self.store.workflows.get_workflow(org_id, run.workflow_id, run.workflow_version)
        spec = next((n for n in workflow.nodes if n.ref == ref), None)
        return approvals.required(spec)

    def _not_waiting(self, t: SignalTarget, signal: Signal) -> SignalReceipt:
        """Why a signal was not recorded: a repeat (200) or too late (Conflict, 409)."""
        node = self._node(t)
        attempt = _attempt(node, t.attempt)
        delivery = attempt.delivery or {}
        if attempt.signal or delivery.get("kind") in _SETTLING:
            if attempt.signal and attempt.status == "running":
                # Recorded, not yet acted on: the first resume may have been lost; resuming is
                # idempotent, so queue it again.
                self._queue(t, "settle")
            count_signal(t.org_id, "duplicate")
            return _receipt(
                t, signal, SignalStatus.ALREADY_SETTLED, "the attempt was already settled"
            )
        current = node.attempt
        if current > t.attempt:
            reason = f"attempt {t.attempt} was superseded by attempt {current}"
        elif (attempt.error or {}).get("type") == "Timeout" or attempt.timed_out_at:
            reason = f"attempt {t.attempt} timed out"
        else:
            reason = f"attempt {t.attempt} is no longer waiting (node {node.status})"
        count_signal(t.org_id, "late")
        raise Conflict(f"{reason}; the signal changed nothing")

    def _node(self, t: SignalTarget) -> NodeRecord:
        """The record the target's attempts are on: the node's, or its item's."""
        try:
            return _record_of(self.store, t.org_id, t.run_id, t.node_ref, t.index)
        except NotFound:
            # The token was genuine, so the run existed: it has expired since.
            raise Conflict("the run of this signal no longer exists") from None

    def _queue(self, t: SignalTarget, action: str) -> None:
        message = {
            "org_id": t.org_id,
            "run_id": t.run_id,
            "node_ref": t.node_ref,
            "attempt": t.attempt,
            "action": action,
        }
        if t.index is not None:
            message["index"] = t.index
        queues.send(self.queue_url, message)


# Settles an awaiting attempt inline (engine/callbacks.py ``Callbacks.signalled``):
# (org_id, run_id, node_ref, attempt).
SettleInline = Callable[[str, str, str, int], None]


def resume(store: Store, message: dict[str, Any], settle: SettleInline | None = None) -> None:
    """The signals function: resumes (or heartbeats) the task waiting on a signalled attempt.

    An acknowledged attempt of an Express node awaits its callback with no execution (no task
    token, ``awaiting_since``): ``settle`` ends it here and moves the run on. Its heartbeat
    needs nothing more than the deadline the API moved (its timer reads that)."""
    org_id, run_id, ref = message["org_id"], message["run_id"], message["node_ref"]
    number = int(message["attempt"])
    index = None if message.get("index") is None else int(message["index"])
    try:
        node = _record_of(store, org_id, run_id, ref, index)
    except NotFound:
        logger.info("signal for a run that no longer exists")
        return
    attempt = _attempt(node, number)
    token = attempt.task_token
    if token is None and attempt.awaiting_since and index is None:
        # Settled inline, also when the node has settled already: a redelivered message of a
        # settle that failed after the node's write finishes the job (settle is idempotent).
        if message["action"] != "heartbeat" and settle is not None:
            settle(org_id, run_id, ref, number)
        return
    if node.status != NodeStatus.RUNNING or attempt.status != "running":
        return  # the attempt has ended: nothing waits on it any more
    if token is None:
        # The waiting step has not stored its token yet; it reads the signal when it does.
        logger.info("no task waits on the attempt yet", extra={"attempt": number})
        return
    if message["action"] == "heartbeat":
        executions.heartbeat(token)
    else:
        executions.resume_run(token, "signalled")


def _awaiting_inline(node: NodeRecord, number: int) -> bool:
    """The attempt awaits its callback with no execution (engine/callbacks.py)."""
    attempt = _attempt(node, number)
    return bool(attempt.awaiting_since) and attempt.task_token is None and node.index is None


def _record_of(store: Store, org_id: str, run_id: str, ref: str, index: int | None) -> NodeRecord:
    """A node's record, or one for_each item's when ``index`` is given."""
    if index is None:
        return store.runs.get_node(org_id, run_id, ref)
    return store.nodes.get_item(org_id, run_id, ref, index)


def count_signal(org_id: str | None, outcome: str) -> None:
    """A callback or review: accepted, a duplicate, too late, or with an invalid token."""
    metrics.count(metrics.Metric.SIGNALS, org_id, Outcome=outcome)


def _attempt(node: NodeRecord, number: int) -> AttemptRecord:
    """Attempt ``number`` as recorded; one with no status if it never started."""
    return node.attempt_record(number) or AttemptRecord(attempt=number, status="")


def _signal_record(body: SignalBody) -> dict[str, Any]:
    record: dict[str, Any] = {"kind": body.signal.value, "received_at": now_iso()}
    if body.signal == Signal.FAILURE:
        error = body.error if body.error is not None else SignalError()
        if isinstance(error, str):
            error = SignalError(message=error)
        record["error"] = {
            "type": error.type,
            "message": error.message or "the destination signalled failure",
        }
        record["retryable"] = body.retryable
    return record


def _receipt(t: SignalTarget, signal: Signal, status: SignalStatus, message: str) -> SignalReceipt:
    return SignalReceipt(
        status=status, record=t.record_id, attempt=t.attempt, signal=signal, message=message
    )
