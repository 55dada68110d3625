"""NodeStateMachine's own steps: ``attempt`` in a loop (prepare: run_if and delays; then
attempts with retries), and ``node_crashed`` when the attempt step itself keeps failing."""

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from stepwise.core.clock import iso, now
from stepwise.core.observability import logger
from stepwise.core.statuses import NODE_TERMINAL, RUN_EXECUTING, NodeKind, NodeStatus
from stepwise.engine.action_steps import ActionSteps, acknowledged
from stepwise.engine.address import NodeAddress
from stepwise.engine.advance import Advance, RunView
from stepwise.engine.approval_steps import ApprovalSteps
from stepwise.engine.attempts import Attempts, again_at, attempt_deadline, rebased
from stepwise.engine.child_steps import ChildSteps
from stepwise.engine.express import fitted, hand_off
from stepwise.engine.expressions import TemplateError, single_expression
from stepwise.engine.for_each_steps import ForEachSteps
from stepwise.engine.shared import DONE, EngineDeps, expression, truthy
from stepwise.infra import executions
from stepwise.runs.records import RunRecord
from stepwise.workflows.models import NodeSpec

# How an attempt that waits for something outside this step begins, for each kind of node
# that has one: (address, run, spec, context) -> the outcome for the state machine.
StartAttempt = Callable[[NodeAddress, RunRecord, NodeSpec, dict[str, Any]], dict[str, Any]]


class NodeSteps:
    """The attempt loop of every node, handing waits to the family of the node's kind."""

    def __init__(
        self,
        deps: EngineDeps,
        advance: Advance,
        attempts: Attempts,
        for_each: ForEachSteps,
        children: ChildSteps,
        actions: ActionSteps,
        approvals: ApprovalSteps,
    ):
        self.deps = deps
        self.store = deps.store
        self.advance = advance
        self.attempts = attempts
        self.for_each = for_each
        self.actions = actions
        self._starts: dict[NodeKind, StartAttempt] = {
            NodeKind.WORKFLOW: children.start,
            NodeKind.ACTION: actions.start,
            NodeKind.APPROVAL: approvals.start,
        }

    def attempt(
        self,
        address: NodeAddress,
        prepared: bool = False,
        express: datetime | None = None,
        owner: str | None = None,
    ) -> dict[str, Any]:
        """Prepares the node (run_if, delays) on its first call, then runs one attempt.

        ``express``: the start of the Express execution the step runs in (engine/express.py):
        an outcome that would not fit in it hands the node to its Standard execution.
        ``owner``: that execution's id; an action attempt then delivers within this step
        (``ActionSteps.attempt_now``), its lease held by the execution."""
        outcome = self._attempt(address, prepared, express, owner)
        if express is None:
            return outcome
        return fitted(outcome, express, self._next_attempt_seconds(address, outcome))

    def _next_attempt_seconds(self, address: NodeAddress, outcome: dict[str, Any]) -> int | None:
        """How long the node's next attempt may take: the failed attempt's own wait, if it
        recorded one (a delivery), else its retry policy's timeout."""
        if outcome.get("next") != "again":
            return None
        node = self.store.runs.get_node(address.org_id, address.run_id, address.ref)
        tried = node.attempt_record(int(outcome["attempt"]) - 1)
        return tried.heartbeat_seconds if tried is not None else None

    def _attempt(
        self, address: NodeAddress, prepared: bool, express: datetime | None, owner: str | None
    ) -> dict[str, Any]:
        org_id, run_id, ref = address.org_id, address.run_id, address.ref
        node = self.store.runs.get_node(org_id, run_id, ref)
        if node.status in NODE_TERMINAL:
            # A replay: finish the job.
            self.advance.settled(org_id, run_id, [(ref, node.status)])
            return DONE
        address = rebased(address, node.attempt_base)  # a redrive numbers attempts on
        attempt = address.attempt
        tried = node.attempt_record(attempt)
        if tried is not None and tried.status == "retry_scheduled" and tried.available_at:
            # A replay of an attempt that already scheduled its retry: wait as it said.
            return again_at(attempt, tried.available_at)
        read_at = time.monotonic()
        run = self.store.runs.get_run(org_id, run_id)
        # A paused run's nodes that have an execution go on (delays and retries included).
        if run.status not in RUN_EXECUTING or run.settle_requested_at:
            self.store.nodes.cancel_node(org_id, run_id, ref, "the run is settling")
            return self.advance.node_changed(address)
        if tried is not None and tried.status == "running" and acknowledged(tried):
            if express is not None:
                # A replayed Express execution: the attempt awaits its callback with no
                # execution (engine/callbacks.py; marked and timed once).
                return self.actions.callbacks.await_callback(address, node)
            # An Express execution handed this acknowledged attempt over: wait for its callback.
            return self.actions.await_callback(address, run, tried)
        compiled = self.deps.workflow(org_id, run)
        spec = compiled.specs[ref]
        delayed = spec.start_delay or spec.wait_until is not None
        if express is not None and delayed and attempt == address.base + 1 and not prepared:
            return hand_off(attempt, prepared=False)  # a delay does not fit Express: Standard
        view = RunView(org_id, run_id, run, compiled, read_at=read_at)
        context = self.advance.context(view, ref)
        if attempt == address.base + 1 and not prepared and node.status == NodeStatus.SCHEDULED:
            prepared_outcome = self._prepare(address, spec, context)
            if prepared_outcome is not None:
                return prepared_outcome
        if owner is not None and spec.kind == NodeKind.ACTION and spec.for_each is None:
            return self.actions.attempt_now(address, spec, context, owner, express, view)
        if not self.store.nodes.start_attempt(org_id, run_id, ref, attempt, attempt_deadline(spec)):
            logger.info("stale attempt ignored", extra={"attempt": attempt})
            return DONE
        if spec.for_each is not None:
            return self.for_each.fan_out(address, run, spec, context)
        start = self._starts.get(spec.kind)
        if start is not None:
            return start(address, run, spec, context)
        outcome = self.attempts.try_once(address, spec, context)
        if outcome is not None:
            return outcome
        return self.advance.node_changed(address)

    def hand_off(self, address: NodeAddress, prepared: bool) -> dict[str, Any]:
        """Starts the node's Standard execution at ``address.attempt`` (engine/express.py)."""
        run = self.store.runs.get_run(address.org_id, address.run_id)
        executions.hand_off_node(
            self.deps.node_state_machine_arn,
            address.org_id,
            address.run_id,
            address.ref,
            address.attempt,
            prepared,
            run.generation,
        )
        return {}

    def node_crashed(self, address: NodeAddress, error: str, cause: str) -> dict[str, Any]:
        """The attempt step kept failing: the node fails so that the run does not hang."""
        self.attempts.record_crash(address, error, cause)
        return self.advance.node_changed(address)

    def _prepare(
        self, address: NodeAddress, spec: NodeSpec, context: dict[str, Any]
    ) -> dict[str, Any] | None:
        """run_if and the start delay; an outcome for the state machine, or None to go on."""
        org_id, run_id = address.org_id, address.run_id
        try:
            if spec.run_if is not None and not truthy(expression(spec.run_if, context)):
                if self.store.nodes.skip_node(org_id, run_id, spec.ref, "run_if was false"):
                    self.advance.settled(org_id, run_id, [(spec.ref, NodeStatus.SKIPPED)])
                return DONE
            delay = _delay_seconds(spec, context)
        except TemplateError as exc:
            # Recorded as a first attempt that failed for good (expressions are not retried).
            self.store.nodes.start_attempt(org_id, run_id, spec.ref, address.attempt, None)
            return self.attempts.fail(address, spec.kind, "ExpressionError", str(exc))
        if delay <= 0:
            return None
        self.store.nodes.delay_node(org_id, run_id, spec.ref, iso(now() + timedelta(seconds=delay)))
        return {"next": "again", "attempt": address.attempt, "wait_seconds": delay}


def _delay_seconds(spec: NodeSpec, context: dict[str, Any]) -> int:
    """Whole seconds until the later of start_delay and wait_until (0 when both are past)."""
    delay = float(spec.start_delay)
    if spec.wait_until is not None:
        text = spec.wait_until
        if single_expression(text) is not None:
            text = expression(text, context)
        until = _parse_time(text, spec.wait_until)
        delay = max(delay, (until - now()).total_seconds())
    return max(0, int(-(-delay // 1)))


def _parse_time(value: Any, source: str) -> datetime:
    if not isinstance(value, str):
        raise TemplateError(source, f"wait_until gave {value!r}, not an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise TemplateError(source, f"wait_until gave {value!r}, not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise TemplateError(source, f"wait_until gave {value!r}, which has no UTC offset")
    return moment
