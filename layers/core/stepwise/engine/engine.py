"""What each state-machine step decides. Every step tolerates being run twice.

RunQueue (a run has no execution of its own): ``start`` (the roots, the deadline queued),
``deadline`` (the run's timeout), ``finalize`` and ``callback_timeout`` (an acknowledged
attempt awaiting its callback with no execution, engine/callbacks.py); the step that settles a
run finalises it inline (``finalize_run``), in the engine function.
NodeStateMachine: ``attempt`` in a loop (prepare: run_if and delays; then attempts with retries);
``node_crashed`` when the attempt step itself keeps failing; for_each: ``start_items``, then
``collect_items``; ``await_signal`` for an ack an Express execution handed over.
NodeExpressStateMachine: ``attempt`` and ``action_settled`` told the Express execution's start,
``hand_off`` to the node's Standard execution. ItemsStateMachine (one chunk of a for_each
node's items): ``item_attempt`` (``item_crashed``) per item, ``item_action_settled`` after an
action item's delivery, then ``chunk_done`` (``chunk_crashed``).

The steps live in one family per concern (run_steps, node_steps, action_steps, approval_steps,
child_steps, for_each_steps), over attempts (how an attempt ends) and advance (how the run
moves on); the Engine builds them once and routes each step event to its family.
"""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stepwise.actions.definitions import ActionDefinitions
from stepwise.core.errors import NotFound
from stepwise.core.observability import logger
from stepwise.engine import express
from stepwise.engine.action_steps import ActionSteps
from stepwise.engine.address import NodeAddress, event_field
from stepwise.engine.advance import INLINE_NODES_PER_STEP, NODE_START_RATE, Advance
from stepwise.engine.approval_steps import ApprovalSteps
from stepwise.engine.attempts import Attempts
from stepwise.engine.callbacks import Callbacks
from stepwise.engine.child_steps import ChildSteps
from stepwise.engine.for_each_steps import ForEachSteps
from stepwise.engine.node_steps import NodeSteps
from stepwise.engine.run_steps import RunSteps
from stepwise.engine.shared import EngineDeps
from stepwise.runs import run_queue
from stepwise.runs.logs import RunLogs
from stepwise.store import Store

if TYPE_CHECKING:
    from stepwise.actions.dispatcher import Dispatcher

Event = dict[str, Any]
RUN_MESSAGE_TRIES = 3  # a RunQueue message's tries within one invocation
Step = Callable[[Event], dict[str, Any]]


class Engine:
    """The engine function's entry: a step event in, the step's answer for the machine out."""

    # Fixed attributes, so that setting one the Engine no longer has (``inline_limit`` lives on
    # ``advance`` now) fails loudly instead of silently changing nothing.
    __slots__ = (
        "_steps",
        "actions",
        "advance",
        "approvals",
        "callbacks",
        "children",
        "for_each",
        "node_state_machine_arn",
        "nodes",
        "runs",
    )

    def __init__(
        self,
        store: Store,
        node_state_machine_arn: str,
        run_queue_url: str,
        definitions: ActionDefinitions,
        inline_limit: int = INLINE_NODES_PER_STEP,
        logs: RunLogs | None = None,
        event_bus_name: str | None = None,
        node_start_rate: float = NODE_START_RATE,
        items_state_machine_arn: str = "",
        items_express_state_machine_arn: str = "",
        node_express_state_machine_arn: str = "",
        deliverer: "Callable[[], Dispatcher] | None" = None,
    ):
        deps = EngineDeps(
            store,
            definitions,
            node_state_machine_arn,
            run_queue_url,
            logs,
            event_bus_name,
            items_state_machine_arn,
            items_express_state_machine_arn,
            node_express_state_machine_arn,
        )
        self.node_state_machine_arn = node_state_machine_arn  # the janitor restarts nodes
        self.advance = Advance(deps, inline_limit, node_start_rate)
        attempts = Attempts(deps, self.advance)
        self.children = ChildSteps(deps, self.advance, attempts)
        self.actions = ActionSteps(deps, self.advance, attempts)
        self.actions.deliverer = deliverer  # an Express execution's attempts deliver inline
        self.callbacks = Callbacks(deps, self.advance, attempts)
        self.actions.callbacks, self.callbacks.actions = self.callbacks, self.actions
        self.approvals = ApprovalSteps(deps, self.advance, attempts)
        self.for_each = ForEachSteps(deps, self.advance, attempts, self.actions)
        self.nodes = NodeSteps(
            deps, self.advance, attempts, self.for_each, self.children, self.actions, self.approvals
        )
        self.runs = RunSteps(deps, self.advance, self.children, self.for_each)
        self.advance.finalize = self.runs.finalize_run  # the step that settles a run ends it
        self._steps = self._step_table()

    def handle(self, event: Event) -> dict[str, Any]:
        """Dispatches a state-machine step event to its family."""
        step = event.get("step")
        logger.append_keys(
            org_id=event.get("org_id"),
            run_id=event.get("run_id"),
            node_ref=event.get("node_ref"),
            step=step,
        )
        handler = self._steps.get(step) if isinstance(step, str) else None
        if handler is None:
            raise ValueError(f"unknown engine step {step!r}")
        return handler(event)

    def run_message(self, message: Event) -> dict[str, Any]:
        """One RunQueue message (start, deadline, finalize); one of an earlier generation of
        the run (before a redrive) or of a run that is gone changes nothing.

        A failure (a transaction conflict, a throttled call) is tried again here, after 1 s and
        2 s, as Step Functions' Retry did for the run's steps: a message SQS gives back waits
        out its visibility timeout (six minutes). Every kind is idempotent, so a retry is safe;
        one that still fails, or a slow one, goes back to the queue (and, at last, its DLQ)."""
        kind = message.get("kind")
        org_id, run_id = _run(message)
        logger.append_keys(org_id=org_id, run_id=run_id, step=f"run:{kind}")
        if kind not in ("start", "deadline", "finalize", run_queue.CALLBACK_TIMEOUT):
            raise ValueError(f"unknown run message {kind!r}")
        for attempt in range(RUN_MESSAGE_TRIES - 1):
            began = time.monotonic()
            try:
                return self._run_message(kind, org_id, run_id, message)
            except Exception:
                if time.monotonic() - began > 10:  # slow: no time for another try
                    raise
                logger.warning("run message failed; trying it again", exc_info=True)
                time.sleep(2**attempt)
        return self._run_message(kind, org_id, run_id, message)

    def _run_message(self, kind: str, org_id: str, run_id: str, message: Event) -> dict[str, Any]:
        try:
            run = self.runs.store.runs.get_run(org_id, run_id)
        except NotFound:
            return {}
        if run.generation != int(message.get("generation") or 0):
            logger.info("run message of an earlier generation dropped")
            return {}
        if kind == "start":
            return self.runs.start_run(org_id, run_id)
        if kind == "deadline":  # the run read above is passed on, not read again
            return self.runs.deadline(org_id, run_id, event_field(message, "due_at"), run)
        if kind == run_queue.CALLBACK_TIMEOUT:
            return self.callbacks.timer(org_id, run_id, message)
        return self.runs.finalize_run(org_id, run_id, {"reason": "settled"}, run)

    def steps(self) -> frozenset[str]:
        """The step names this engine answers (every step the state machines send)."""
        return frozenset(self._steps)

    def _step_table(self) -> dict[str, Step]:
        """Step name -> how its event's fields reach the family method, built once."""
        nodes, for_each = self.nodes, self.for_each
        children, actions, approvals = self.children, self.actions, self.approvals
        attempt, item = NodeAddress.of_attempt, NodeAddress.of_item
        return {
            "attempt": lambda e: nodes.attempt(
                attempt(e), bool(e.get("prepared", False)), express.started_at(e), e.get("owner")
            ),
            "hand_off": lambda e: nodes.hand_off(attempt(e), bool(e.get("prepared", True))),
            "node_crashed": lambda e: nodes.node_crashed(attempt(e), *_crash(e)),
            "item_attempt": lambda e: for_each.item_attempt(item(e), e.get("owner")),
            "item_crashed": lambda e: for_each.item_crashed(item(e), *_crash(e)),
            "item_action_settled": lambda e: actions.action_settled(
                item(e), e.get("delivery") or {}
            ),
            "start_items": lambda e: for_each.start_items(
                NodeAddress.of_node(e), event_field(e, "task_token")
            ),
            "chunk_done": lambda e: for_each.chunk_done(
                NodeAddress.of_node(e), int(event_field(e, "chunk"))
            ),
            "chunk_crashed": lambda e: for_each.chunk_crashed(
                NodeAddress.of_node(e), int(event_field(e, "chunk")), *_crash(e)
            ),
            "collect_items": lambda e: for_each.collect_items(NodeAddress.of_node(e)),
            "await_child": lambda e: children.await_child(
                *_run(e), event_field(e, "child_run_id"), event_field(e, "task_token")
            ),
            "child_settled": lambda e: children.child_settled(
                attempt(e), event_field(e, "child_run_id"), bool(e.get("timed_out"))
            ),
            "action_settled": lambda e: actions.action_settled(
                attempt(e), e.get("delivery") or {}, express.started_at(e)
            ),
            "await_signal": lambda e: actions.await_signal(
                attempt(e), event_field(e, "task_token")
            ),
            "await_review": lambda e: approvals.await_review(
                attempt(e), event_field(e, "task_token")
            ),
            "review_settled": lambda e: approvals.review_settled(attempt(e)),
        }


def _run(event: Event) -> tuple[str, str]:
    """The org and run a run-level step names."""
    return event_field(event, "org_id"), event_field(event, "run_id")


def _crash(event: Event) -> tuple[str, str]:
    """The error and cause Step Functions caught from the crashed step."""
    return event.get("error") or "States.Runtime", event.get("cause") or ""
