"""How one attempt of a node (or of a for_each item) ends: it succeeds, is tried again after a
wait, or fails for good. Shared by every kind of node."""

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from stepwise.core.clock import iso, now
from stepwise.core.statuses import NODE_TERMINAL, NodeKind, NodeStatus
from stepwise.engine.address import NodeAddress
from stepwise.engine.advance import Advance
from stepwise.engine.executors import NodeFailure, execute, output_over_quota
from stepwise.engine.expressions import TemplateError
from stepwise.engine.retries import retry_delay
from stepwise.engine.shared import (
    EngineDeps,
    cause_message,
    count_attempt,
    expression,
    truthy,
)
from stepwise.runs.logs import LogLevel
from stepwise.runs.records import AttemptRecord, NodeRecord
from stepwise.workflows.models import NodeSpec


class AnswerNotSettled(Exception):
    """The write that would record a delivery's answer and end its attempt together did not
    land: the attempt has a callback or an answer already, or moved on."""


class Attempts:
    """Records how attempts end, and moves the run on when one ends the node."""

    def __init__(self, deps: EngineDeps, advance: Advance):
        self.deps = deps
        self.store = deps.store
        self.advance = advance

    def try_once(
        self,
        address: NodeAddress,
        spec: NodeSpec,
        context: dict[str, Any],
        opening: bool = False,
    ) -> dict[str, Any] | None:
        """Runs one attempt of a node (or of one item) and records it; an outcome if it retries.
        ``opening``: the attempt was not started by ``start_attempt``; its end records it whole
        (one write instead of two)."""
        try:
            output = execute(spec, context)
            _check_retry_until(spec, context, output, address.attempt - (address.base or 0))
        except NodeFailure as failure:
            return self.failed(address, spec, failure, opening=opening)
        self.succeeded(address, spec, output, opening=opening)
        return None

    def succeeded(
        self,
        address: NodeAddress,
        spec: NodeSpec,
        output: Any,
        opening: bool = False,
        answer: dict[str, Any] | None = None,
    ) -> bool:
        """Ends the attempt (of the node or of one item) with its output; an output over the
        quota ``node_output_bytes`` fails it instead (for good: the same attempt would give it
        again). ``answer``: the delivery's answer, recorded in the same write, or
        AnswerNotSettled. True when this write settled it succeeded."""
        over = output_over_quota(output)
        if over is not None:
            failure = NodeFailure("QuotaExceeded", over, retryable=False)
            self.failed(address, spec, failure, opening=opening, answer=answer)
            return False
        written = self.store.nodes.settle_node(
            address.org_id,
            address.run_id,
            spec.ref,
            address.attempt,
            NodeStatus.SUCCEEDED,
            output,
            index=address.index,
            opening=opening,
            **_with(answer),
        )
        if written:
            count_attempt(address.org_id, spec.kind, failed=False)
        elif answer is not None:
            raise AnswerNotSettled(spec.ref)
        return bool(written)

    def failed(
        self,
        address: NodeAddress,
        spec: NodeSpec,
        failure: NodeFailure,
        min_wait: int | None = None,
        opening: bool = False,
        answer: dict[str, Any] | None = None,
        scheduled: list[bool] | None = None,
    ) -> dict[str, Any] | None:
        """Schedules the next attempt (the outcome to return), or fails for good (None).

        ``min_wait`` (a destination's Retry-After) stretches the backoff, never shortens it.
        ``answer``: the delivery's answer, recorded in the same write, or AnswerNotSettled.
        ``scheduled``, when given, gets True appended if this call's write scheduled the retry
        (a replay's does not): the caller that starts the next attempt's execution itself.
        """
        org_id, run_id = address.org_id, address.run_id
        attempt, index = address.attempt, address.index
        retryable = failure.retryable and failure.type not in spec.retry.non_retryable_errors
        # A redrive gives the node its retry policy afresh: its attempts count from the redrive.
        delay = retry_delay(spec.retry, attempt - self._base(address)) if retryable else None
        if delay is not None and min_wait:
            delay = max(delay, min_wait)
        if delay is not None:
            available_at = iso(now() + timedelta(seconds=delay))
            if self.store.nodes.schedule_retry(
                org_id,
                run_id,
                spec.ref,
                attempt,
                failure.as_error(),
                available_at,
                index=index,
                opening=opening,
                **_with(answer),
            ):
                if scheduled is not None:
                    scheduled.append(True)
                count_attempt(org_id, spec.kind, failed=True)
                self.deps.log(
                    address,
                    LogLevel.WARNING,
                    f"{address.where}: attempt {attempt} failed ({failure.type}: "
                    f"{failure.message}); attempt {attempt + 1} at {available_at}",
                )
            elif answer is not None:
                raise AnswerNotSettled(spec.ref)
            return {"next": "again", "attempt": attempt + 1, "wait_seconds": delay}
        if self.store.nodes.settle_node(
            org_id,
            run_id,
            spec.ref,
            attempt,
            NodeStatus.FAILED,
            error=failure.as_error(),
            index=index,
            opening=opening,
            **_with(answer),
        ):
            count_attempt(org_id, spec.kind, failed=True)
            self.deps.log_failure(address, failure.type, failure.message)
        elif answer is not None:
            raise AnswerNotSettled(spec.ref)
        return None

    def _base(self, address: NodeAddress) -> int:
        """The attempts the node (or item) had before its redrive (read once, on a failure)."""
        if address.base is not None:
            return address.base
        if address.attempt == 1:
            return 0  # a redrive's first attempt is at least 2
        org_id, run_id, ref = address.org_id, address.run_id, address.ref
        if address.index is None:
            record = self.store.runs.get_node(org_id, run_id, ref)
        else:
            record = self.store.nodes.get_item(org_id, run_id, ref, address.index)
        return record.attempt_base or 0

    def fail(
        self, address: NodeAddress, kind: NodeKind | None, error_type: str, message: str
    ) -> dict[str, Any]:
        """Fails the node's running attempt for good and moves the run on. ``kind`` None: the
        attempt is not counted again (a for_each node, whose items' attempts were)."""
        if self.store.nodes.settle_node(
            address.org_id,
            address.run_id,
            address.ref,
            address.attempt,
            NodeStatus.FAILED,
            error={"type": error_type, "message": message},
        ):
            if kind is not None:
                count_attempt(address.org_id, kind, failed=True)
            self.deps.log_failure(address, error_type, message)
        return self.advance.node_changed(address)

    def record_crash(self, address: NodeAddress, error: str, cause: str) -> None:
        """The attempt step itself kept failing: the attempt (or item) fails with its cause."""
        message = cause_message({"cause": cause}) or error
        self.store.nodes.start_attempt(
            address.org_id, address.run_id, address.ref, address.attempt, None, index=address.index
        )
        if self.store.nodes.settle_node(
            address.org_id,
            address.run_id,
            address.ref,
            address.attempt,
            NodeStatus.FAILED,
            error={"type": error, "message": message},
            index=address.index,
        ):
            kind = self.store.runs.get_node(address.org_id, address.run_id, address.ref).kind
            if kind:
                count_attempt(address.org_id, NodeKind(kind), failed=True)


def _with(answer: dict[str, Any] | None) -> dict[str, Any]:
    """The store's ``answer`` argument, only when there is one to record."""
    return {} if answer is None else {"answer": answer}


def rebased(address: NodeAddress, base: int | None) -> NodeAddress:
    """The address with the attempts before a redrive counted: an execution starts at attempt 1,
    and a node (or item) a redrive runs again numbers its attempts on from ``base``."""
    base = base or 0
    if address.attempt <= base:
        return replace(address, attempt=address.attempt + base, base=base)
    return replace(address, base=base)


def again_at(attempt: int, available_at: str) -> dict[str, Any]:
    """The answer of a replayed attempt step whose attempt already scheduled its retry: wait
    (what is left of) the same backoff, then the next attempt, as the first answer said."""
    seconds = (datetime.fromisoformat(available_at) - now()).total_seconds()
    return {"next": "again", "attempt": attempt + 1, "wait_seconds": max(0, int(-(-seconds // 1)))}


def attempt_deadline(spec: NodeSpec) -> str | None:
    """When an attempt starting now times out, if its retry policy sets a timeout."""
    return iso(now() + timedelta(seconds=spec.retry.timeout)) if spec.retry.timeout else None


def _check_retry_until(spec: NodeSpec, context: dict[str, Any], output: Any, attempt: int) -> None:
    if spec.retry.retry_until is None:
        return
    scope = {**context, "result": output, "attempt": attempt}
    try:
        done = truthy(expression(spec.retry.retry_until, scope))
    except TemplateError as exc:
        raise NodeFailure("ExpressionError", str(exc), retryable=False) from None
    if not done:
        if attempt >= spec.retry.max_attempts:
            raise NodeFailure(
                "RetryUntilExhausted",
                f"retry_until was still false after {attempt} attempts",
                retryable=False,
            )
        raise NodeFailure("RetryUntilNotMet", "retry_until is false; trying again")


class StepFamily:
    """What a family of steps for one kind of attempt (action, approval, child run, for_each)
    shares: the engine's dependencies, how its attempts end, and how the run moves on."""

    def __init__(self, deps: EngineDeps, advance: Advance, attempts: Attempts):
        self.deps = deps
        self.store = deps.store
        self.advance = advance
        self.attempts = attempts

    def open_attempt(
        self, address: NodeAddress
    ) -> tuple[NodeRecord, NodeSpec, AttemptRecord | None] | None:
        """The node, its spec and the attempt a settling step ends; None when the node has
        ended already (a replay), for the step to move the run on instead."""
        node = self.store.runs.get_node(address.org_id, address.run_id, address.ref)
        if node.status in NODE_TERMINAL:
            return None
        run = self.store.runs.get_run(address.org_id, address.run_id)
        spec = self.deps.workflow(address.org_id, run).specs[address.ref]
        return node, spec, node.attempt_record(address.attempt)
