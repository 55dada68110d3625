"""What each state-machine step decides. Every step tolerates being run twice.

RunStateMachine: ``start_run`` (stores the resume token, starts the roots) then ``finalize_run``.
NodeStateMachine: ``attempt`` in a loop (prepare: run_if and delays; then attempts with retries);
``node_crashed`` when the attempt step itself keeps failing.
"""

import contextlib
import json
import time
from collections import deque
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from stepwise.actions.definitions import (
    ActionDefinitions,
    InputRejected,
    check_input,
    resolve_action,
)
from stepwise.core.clock import iso, now
from stepwise.core.errors import Conflict, NotFound
from stepwise.core.ids import child_run_id, event_id
from stepwise.core.observability import logger
from stepwise.core.statuses import NODE_TERMINAL, RUN_TERMINAL, NodeKind, NodeStatus, RunStatus
from stepwise.engine.compiled import CompiledWorkflow
from stepwise.engine.executors import NodeFailure, execute
from stepwise.engine.expressions import TemplateError, evaluate, render, single_expression
from stepwise.engine.joins import Decision, Edge, edge_outcome, join_decision
from stepwise.engine.retries import retry_delay
from stepwise.infra import executions
from stepwise.runs import cancel, lifecycle_events
from stepwise.runs.logs import LogLevel, RunLogs
from stepwise.runs.node_events import NodeEvents
from stepwise.store import Store
from stepwise.workflows.models import NodeSpec

DONE = {"next": "done"}
MAX_CHILD_DEPTH = 10  # a workflow that starts itself must not recurse without end
CHILD_TIMEOUT_MARGIN_SECONDS = 60  # the child's own timeout fires first and reports why
DELIVERY_TIMEOUT_MARGIN_SECONDS = 30  # queueing and dispatch on top of the destination's SLA
MAX_FOR_EACH_ITEMS = 10_000  # keeps the Map's list of indices far below the 256 KB state limit
# Nodes one step runs inline at most (a workflow's node limit), and the time it may spend on
# them (the engine function's timeout is 60 s); the rest get executions of their own.
INLINE_NODES_PER_STEP = 500
INLINE_SECONDS_PER_STEP = 20.0
# How stale a step's view of the run may get while it works through settled nodes: once the
# run is settling, nothing more is started (finalize_run cancels what is left).
RUN_REREAD_SECONDS = 0.5


class Engine:
    def __init__(
        self,
        store: Store,
        node_state_machine_arn: str,
        run_state_machine_arn: str,
        definitions: ActionDefinitions,
        inline_limit: int = INLINE_NODES_PER_STEP,
        logs: RunLogs | None = None,
        event_bus_name: str | None = None,
    ):
        self.store = store
        self.events = NodeEvents(store.table, store.payloads)
        self.logs = logs
        self.event_bus_name = event_bus_name
        self.definitions = definitions
        self.inline_limit = inline_limit
        self.node_state_machine_arn = node_state_machine_arn
        self.run_state_machine_arn = run_state_machine_arn
        self._compiled = lru_cache(maxsize=256)(self._compile)

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """Dispatches a state-machine step event to its method."""
        step = event.get("step")
        org_id, run_id = event["org_id"], event["run_id"]
        logger.append_keys(org_id=org_id, run_id=run_id, node_ref=event.get("node_ref"), step=step)
        if step == "start_run":
            return self.start_run(org_id, run_id, event["task_token"])
        if step == "attempt":
            return self.attempt(
                org_id,
                run_id,
                event["node_ref"],
                int(event["attempt"]),
                prepared=bool(event.get("prepared", False)),
            )
        if step == "node_crashed":
            return self.node_crashed(
                org_id,
                run_id,
                event["node_ref"],
                int(event["attempt"]),
                event.get("error") or "States.Runtime",
                event.get("cause") or "",
            )
        if step == "item_attempt":
            return self.item_attempt(
                org_id, run_id, event["node_ref"], int(event["index"]), int(event["attempt"])
            )
        if step == "item_crashed":
            return self.item_crashed(
                org_id,
                run_id,
                event["node_ref"],
                int(event["index"]),
                int(event["attempt"]),
                event.get("error") or "States.Runtime",
                event.get("cause") or "",
            )
        if step == "collect_items":
            return self.collect_items(org_id, run_id, event["node_ref"])
        if step == "await_child":
            return self.await_child(org_id, run_id, event["child_run_id"], event["task_token"])
        if step == "child_settled":
            return self.child_settled(
                org_id,
                run_id,
                event["node_ref"],
                int(event["attempt"]),
                event["child_run_id"],
                timed_out=bool(event.get("timed_out")),
            )
        if step == "action_settled":
            return self.action_settled(
                org_id,
                run_id,
                event["node_ref"],
                int(event["attempt"]),
                event.get("delivery") or {},
            )
        if step == "await_review":
            return self.await_review(
                org_id, run_id, event["node_ref"], int(event["attempt"]), event["task_token"]
            )
        if step == "review_settled":
            return self.review_settled(org_id, run_id, event["node_ref"], int(event["attempt"]))
        if step == "finalize_run":
            return self.finalize_run(org_id, run_id, event.get("settle") or {})
        raise ValueError(f"unknown engine step {step!r}")

    # -- the run machine ------------------------------------------------------------------------

    def start_run(self, org_id: str, run_id: str, task_token: str) -> dict[str, Any]:
        """Stores the token the run waits on, then starts the root nodes."""
        run = self.store.store_run_token(org_id, run_id, task_token)
        if run is None:
            # Already finalised (a replay): let the execution move on to its no-op finalisation.
            executions.resume_run(task_token, "already_settled")
            return {}
        if run.get("settle_requested_at"):
            # Settled while the token was being replaced (a retried step): resume with this one.
            executions.resume_run(task_token, run.get("settle_reason", "settled"))
            return {}
        compiled = self._workflow(org_id, run)
        budget = _InlineBudget(self.inline_limit)
        inlined = []
        for ref in compiled.roots:
            status = self._start_ready(org_id, run_id, run, compiled, ref, budget)
            if status is not None:
                inlined.append((ref, status))
        if inlined:
            self._settled(org_id, run_id, inlined, budget)
        return {}

    def finalize_run(self, org_id: str, run_id: str, settle: dict[str, Any]) -> dict[str, Any]:
        """Decides the final status from the nodes, cancels what is left, records it."""
        reason = settle.get("reason", "settled")
        run = self.store.get_run(org_id, run_id)
        if run["status"] in RUN_TERMINAL:
            self._announce(run)  # a replay: the event may not be out yet
            if run.get("parent_token"):  # nor the parent have heard
                executions.resume_run(run["parent_token"], run["status"])
            return {"status": run["status"]}
        # Stop new scheduling first, so that the node list read next is the final one.
        run = self.store.request_settle(org_id, run_id, reason)
        reason = run.get("settle_reason", reason) if reason == "settled" else reason
        run, nodes = self.store.get_run_with_nodes(org_id, run_id)
        for node in nodes:
            if node["status"] in (NodeStatus.SCHEDULED, NodeStatus.RUNNING):
                executions.stop_node(self.node_state_machine_arn, run_id, node["ref"], reason)
            if node["status"] not in NODE_TERMINAL:
                self.store.cancel_node(org_id, run_id, node["ref"], f"run ended ({reason})")
                if node.get("child_run_id"):
                    self._cancel_child(org_id, node["child_run_id"], f"parent run ended ({reason})")
                if node.get("item_count"):
                    for item in self.store.list_items(org_id, run_id, node["ref"]):
                        if item["status"] not in NODE_TERMINAL:
                            index = int(item["index"])
                            self.store.cancel_item(org_id, run_id, node["ref"], index, reason)
        status, output, error = self._outcome(org_id, run, nodes, {**settle, "reason": reason})
        self.store.finish_run(org_id, run_id, status, output, error)
        logger.info("run finished", extra={"status": str(status)})
        self._announce(self.store.get_run(org_id, run_id))
        if run.get("parent_token"):
            executions.resume_run(run["parent_token"], str(status))
        return {"status": str(status)}

    def _announce(self, run: dict[str, Any]) -> None:
        """The settled run's lifecycle event, unless it is out already."""
        if self.event_bus_name and not run.get("event_published_at"):
            lifecycle_events.publish(self.event_bus_name, run)
            self.store.mark_event_published(run["org_id"], run["run_id"])

    def _outcome(
        self, org_id: str, run: dict[str, Any], nodes: list[dict[str, Any]], settle: dict[str, Any]
    ) -> tuple[RunStatus, Any, dict[str, Any] | None]:
        compiled = self._workflow(org_id, run)
        reason = settle.get("reason")
        if reason == "cancelled":
            message = run.get("cancel_reason") or "the run was cancelled"
            return RunStatus.CANCELLED, None, {"type": "Cancelled", "message": message}
        unhandled = sorted(
            (
                n
                for n in nodes
                if n["status"] == NodeStatus.FAILED and n["ref"] not in compiled.handled
            ),
            key=lambda n: n.get("finished_at", ""),
        )
        if unhandled:
            first = unhandled[0]
            error = dict(first.get("error") or {"type": "NodeFailed", "message": ""})
            return RunStatus.FAILED, None, {**error, "node": first["ref"]}
        if reason == "timed_out":
            message = f"the run did not finish within {int(run['timeout'])} s"
            return RunStatus.TIMED_OUT, None, {"type": "RunTimedOut", "message": message}
        if reason == "crashed":
            error = {"type": settle.get("error", "States.Runtime"), "message": _cause(settle)}
            return RunStatus.FAILED, None, error
        finished = {NodeStatus.SUCCEEDED, NodeStatus.SKIPPED, NodeStatus.FAILED}
        if any(n["status"] not in finished for n in nodes):
            message = "the run settled before all nodes finished"
            return RunStatus.FAILED, None, {"type": "Incomplete", "message": message}
        outcomes = {
            n["ref"]: {"output": self.store.payloads.load(n, "output"), "error": n.get("error")}
            for n in nodes
        }
        try:
            return RunStatus.SUCCEEDED, self._run_output(compiled, run, outcomes), None
        except TemplateError as exc:
            return RunStatus.FAILED, None, {"type": "ExpressionError", "message": str(exc)}

    def _run_output(
        self, compiled: CompiledWorkflow, run: dict[str, Any], outcomes: dict[str, Any]
    ) -> Any:
        returns = compiled.workflow.returns
        if returns is None:
            return {ref: outcomes[ref]["output"] for ref in compiled.leaves}
        context = {"input": self.store.payloads.load(run, "input"), "nodes": outcomes}
        return render(returns, context)

    # -- the node machine -----------------------------------------------------------------------

    def attempt(
        self, org_id: str, run_id: str, ref: str, attempt: int, prepared: bool = False
    ) -> dict[str, Any]:
        """Prepares the node (run_if, delays) on its first call, then runs one attempt."""
        node = self.store.get_node(org_id, run_id, ref)
        if node["status"] in NODE_TERMINAL:
            self._settled(org_id, run_id, [(ref, node["status"])])  # a replay: finish the job
            return DONE
        tried = node.get("attempts", {}).get(str(attempt), {})
        if tried.get("status") == "retry_scheduled":
            # A replay of an attempt that already scheduled its retry: wait as it said.
            return _again(attempt, tried["available_at"])
        run = self.store.get_run(org_id, run_id)
        if run["status"] != RunStatus.RUNNING or run.get("settle_requested_at"):
            self.store.cancel_node(org_id, run_id, ref, "the run is settling")
            return self._node_changed(org_id, run_id, ref)
        compiled = self._workflow(org_id, run)
        spec = compiled.specs[ref]
        context = self._context(org_id, run_id, run, compiled, ref)
        if attempt == 1 and not prepared and node["status"] == NodeStatus.SCHEDULED:
            prepared_outcome = self._prepare(org_id, run_id, spec, context)
            if prepared_outcome is not None:
                return prepared_outcome
        timeout_at = (
            iso(now() + timedelta(seconds=spec.retry.timeout)) if spec.retry.timeout else None
        )
        if not self.store.start_attempt(org_id, run_id, ref, attempt, timeout_at):
            logger.info("stale attempt ignored", extra={"attempt": attempt})
            return DONE
        if spec.for_each is not None:
            return self._fan_out(org_id, run_id, int(run["expires_at"]), spec, context)
        if spec.kind == NodeKind.WORKFLOW:
            return self._start_child(org_id, run_id, run, spec, context, attempt)
        if spec.kind == NodeKind.ACTION:
            return self._prepare_delivery(org_id, run_id, run, spec, context, attempt)
        if spec.kind == NodeKind.APPROVAL:
            return self._await_review(org_id, run_id, run, spec, attempt)
        outcome = self._try(org_id, run_id, spec, context, attempt)
        if outcome is not None:
            return outcome
        return self._node_changed(org_id, run_id, ref)

    def _try(
        self,
        org_id: str,
        run_id: str,
        spec: NodeSpec,
        context: dict[str, Any],
        attempt: int,
        index: int | None = None,
    ) -> dict[str, Any] | None:
        """Runs one attempt of a node (or of one item) and records it; an outcome if it retries."""
        try:
            output = execute(spec, context)
            self._check_retry_until(spec, context, output, attempt)
        except NodeFailure as failure:
            return self._attempt_failed(org_id, run_id, spec, attempt, failure, index)
        self.store.settle_node(
            org_id, run_id, spec.ref, attempt, NodeStatus.SUCCEEDED, output, index=index
        )
        return None

    def _attempt_failed(
        self,
        org_id: str,
        run_id: str,
        spec: NodeSpec,
        attempt: int,
        failure: NodeFailure,
        index: int | None = None,
        min_wait: int | None = None,
    ) -> dict[str, Any] | None:
        """Schedules the next attempt (the outcome to return), or fails for good (None).

        ``min_wait`` (a destination's Retry-After) stretches the backoff, never shortens it.
        """
        retryable = failure.retryable and failure.type not in spec.retry.non_retryable_errors
        delay = retry_delay(spec.retry, attempt) if retryable else None
        if delay is not None and min_wait:
            delay = max(delay, min_wait)
        where = spec.ref if index is None else f"{spec.ref}[{index}]"
        if delay is not None:
            available_at = iso(now() + timedelta(seconds=delay))
            if self.store.schedule_retry(
                org_id, run_id, spec.ref, attempt, failure.as_error(), available_at, index=index
            ):
                self._log(
                    org_id,
                    run_id,
                    spec.ref,
                    LogLevel.WARNING,
                    f"{where}: attempt {attempt} failed ({failure.type}: {failure.message}); "
                    f"attempt {attempt + 1} at {available_at}",
                )
            return {"next": "again", "attempt": attempt + 1, "wait_seconds": delay}
        if self.store.settle_node(
            org_id,
            run_id,
            spec.ref,
            attempt,
            NodeStatus.FAILED,
            error=failure.as_error(),
            index=index,
        ):
            self._log_failure(org_id, run_id, where, attempt, failure.type, failure.message)
        return None

    def _log_failure(
        self, org_id: str, run_id: str, where: str, attempt: int, kind: str, message: str
    ) -> None:
        ref = where.split("[", 1)[0]
        text = f"{where}: attempt {attempt} failed for good ({kind}: {message})"
        self._log(org_id, run_id, ref, LogLevel.ERROR, text)

    def _log(self, org_id: str, run_id: str, ref: str, level: LogLevel, message: str) -> None:
        """A line in the run's log, for what a caller would look for (never the happy path)."""
        if self.logs is not None:
            self.logs.write(org_id, run_id, level, message, ref, "engine")

    # -- action nodes (webhooks) ----------------------------------------------------------------

    def _prepare_delivery(
        self,
        org_id: str,
        run_id: str,
        run: dict[str, Any],
        spec: NodeSpec,
        context: dict[str, Any],
        attempt: int,
    ) -> dict[str, Any]:
        """Resolves the definition and checks the input, then hands the attempt to the queue.

        The attempt waits ``heartbeat_seconds`` (``retry.timeout``, else the SLA plus a margin)
        for an answer; each heartbeat signal restarts that wait, up to the run's own timeout.
        """
        try:
            definition = resolve_action(self.definitions, org_id, spec.action or "")
            action_input = render(spec.args, context)
            check_input(definition, action_input)
        except NotFound as exc:
            return self._fail(org_id, run_id, spec.ref, attempt, "ActionNotFound", str(exc))
        except TemplateError as exc:
            return self._fail(org_id, run_id, spec.ref, attempt, "ExpressionError", str(exc))
        except InputRejected as exc:
            return self._fail(org_id, run_id, spec.ref, attempt, "InputRejected", str(exc))
        if definition.deleted_at is not None:
            message = f"action definition {definition.name!r} was deleted"
            return self._fail(org_id, run_id, spec.ref, attempt, "ActionNotFound", message)
        self.store.prepare_delivery(org_id, run_id, spec.ref, attempt, action_input)
        sla = max(
            (
                d.destination.config.response_time_sla_ms
                for d in definition.destinations
                if d.is_default and d.destination
            ),
            default=10_000,
        )
        heartbeat = spec.retry.timeout or int(sla / 1000) + DELIVERY_TIMEOUT_MARGIN_SECONDS
        self.store.set_attempt_wait(
            org_id, run_id, spec.ref, attempt, iso(now() + timedelta(seconds=heartbeat)), heartbeat
        )
        return {
            "next": "deliver",
            "attempt": attempt,
            "heartbeat_seconds": heartbeat,
            "timeout_seconds": max(heartbeat + 1, _run_wait_bound(run)),
        }

    def action_settled(
        self, org_id: str, run_id: str, ref: str, attempt: int, delivery: dict[str, Any]
    ) -> dict[str, Any]:
        """Ends an action attempt with what the dispatcher recorded (or with its timeout)."""
        node = self.store.get_node(org_id, run_id, ref)
        if node["status"] in NODE_TERMINAL:
            return self._node_changed(org_id, run_id, ref)
        run = self.store.get_run(org_id, run_id)
        spec = self._workflow(org_id, run).specs[ref]
        tried = node.get("attempts", {}).get(str(attempt), {})
        record, signal = tried.get("delivery"), tried.get("signal")
        if signal is not None:
            outcome = self._signalled(org_id, run_id, node, spec, attempt, signal)
        elif record is None:
            if delivery.get("outcome") == "timeout":
                failure = NodeFailure("Timeout", "the destination did not answer in time")
            else:
                failure = NodeFailure("DeliveryLost", "no answer was recorded for the delivery")
            outcome = self._attempt_failed(org_id, run_id, spec, attempt, failure)
        elif record["kind"] == "success":
            result = self.store.payloads.load(node, "delivery_result")
            self.store.settle_node(org_id, run_id, ref, attempt, NodeStatus.SUCCEEDED, result)
            outcome = None
        elif record["kind"] == "ack":
            # Acknowledged, then no success or failure signal before the wait ran out.
            seconds = tried.get("heartbeat_seconds")
            failure = NodeFailure(
                "Timeout", f"the destination acknowledged but sent no signal within {seconds} s"
            )
            outcome = self._attempt_failed(org_id, run_id, spec, attempt, failure)
        else:
            failure = NodeFailure(
                record.get("error_type") or "DeliveryFailed",
                record.get("message") or "",
                retryable=bool(record.get("retryable")),
            )
            retry_after = record.get("retry_after")
            outcome = self._attempt_failed(
                org_id,
                run_id,
                spec,
                attempt,
                failure,
                min_wait=int(retry_after) if retry_after is not None else None,
            )
        return outcome or self._node_changed(org_id, run_id, ref)

    def _signalled(
        self,
        org_id: str,
        run_id: str,
        node: dict[str, Any],
        spec: NodeSpec,
        attempt: int,
        signal: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Ends an action attempt with the destination's callback."""
        if signal["kind"] == "success":
            result = self.store.payloads.load(node, "signal_result")
            self.store.settle_node(org_id, run_id, spec.ref, attempt, NodeStatus.SUCCEEDED, result)
            return None
        error = signal.get("error") or {}
        failure = NodeFailure(
            error.get("type") or "DestinationFailure",
            error.get("message") or "the destination signalled failure",
            retryable=bool(signal.get("retryable")),
        )
        return self._attempt_failed(org_id, run_id, spec, attempt, failure)

    # -- approval nodes -------------------------------------------------------------------------

    def _await_review(
        self, org_id: str, run_id: str, run: dict[str, Any], spec: NodeSpec, attempt: int
    ) -> dict[str, Any]:
        """An approval attempt waits for a review, up to ``retry.timeout`` (else the run's)."""
        wait = spec.retry.timeout or _run_wait_bound(run)
        return {"next": "review", "attempt": attempt, "timeout_seconds": wait}

    def await_review(
        self, org_id: str, run_id: str, ref: str, attempt: int, task_token: str
    ) -> dict[str, Any]:
        """Keeps the waiting task's token on the attempt; resumes at once if a review (or the
        attempt's end) came first."""
        node = self.store.store_attempt_token(org_id, run_id, ref, attempt, task_token)
        tried = (node or {}).get("attempts", {}).get(str(attempt), {})
        if node is None or tried.get("signal") or tried.get("status") != "running":
            executions.resume_run(task_token, "reviewed")
        return {}

    def review_settled(self, org_id: str, run_id: str, ref: str, attempt: int) -> dict[str, Any]:
        """Ends an approval attempt: approve succeeds, reject fails, no review retries or fails."""
        node = self.store.get_node(org_id, run_id, ref)
        if node["status"] in NODE_TERMINAL:
            return self._node_changed(org_id, run_id, ref)
        run = self.store.get_run(org_id, run_id)
        spec = self._workflow(org_id, run).specs[ref]
        review = node.get("attempts", {}).get(str(attempt), {}).get("signal")
        outcome = None
        if review is None:
            failure = NodeFailure("Timeout", "no review came before the approval timed out")
            outcome = self._attempt_failed(org_id, run_id, spec, attempt, failure)
        elif review["decision"] == "approve":
            fields = ("decision", "comment", "reviewed_by", "reviewed_at")
            output = {k: review.get(k) for k in fields}
            self.store.settle_node(org_id, run_id, ref, attempt, NodeStatus.SUCCEEDED, output)
        else:
            message = f"rejected by {review['reviewed_by']}"
            if review.get("comment"):
                message += f": {review['comment']}"
            return self._fail(org_id, run_id, ref, attempt, "Rejected", message)
        return outcome or self._node_changed(org_id, run_id, ref)

    # -- child runs -----------------------------------------------------------------------------

    def _start_child(
        self,
        org_id: str,
        run_id: str,
        run: dict[str, Any],
        spec: NodeSpec,
        context: dict[str, Any],
        attempt: int,
    ) -> dict[str, Any]:
        """Creates the attempt's child run; the machine then waits for it (AwaitChild)."""
        try:
            args = render(spec.args, context)
        except TemplateError as exc:
            return self._fail(org_id, run_id, spec.ref, attempt, "ExpressionError", str(exc))
        workflow_id = args.get("workflow_id") if isinstance(args, dict) else None
        if not isinstance(workflow_id, str):
            message = "args.workflow_id must give the child workflow's id"
            return self._fail(org_id, run_id, spec.ref, attempt, "InvalidArgs", message)
        depth = int(run.get("depth", 0)) + 1
        if depth > MAX_CHILD_DEPTH:
            message = f"child runs nest deeper than {MAX_CHILD_DEPTH} levels"
            return self._fail(org_id, run_id, spec.ref, attempt, "MaxDepthExceeded", message)
        try:
            workflow = self.store.get_workflow(org_id, workflow_id, args.get("version"))
        except NotFound as exc:
            return self._fail(org_id, run_id, spec.ref, attempt, "WorkflowNotFound", str(exc))
        child_id = child_run_id(run_id, spec.ref, attempt)
        if not self.store.run_exists(org_id, child_id):
            parent = {
                "parent_run_id": run_id,
                "parent_node_ref": spec.ref,
                "depth": depth,
                "role": "parent",
                "created_by": f"run:{run_id}",
            }
            self.store.create_run(org_id, child_id, workflow, args.get("input"), parent)
        self.store.set_child_run(org_id, run_id, spec.ref, attempt, child_id)
        timeout = spec.retry.timeout or workflow.timeout + CHILD_TIMEOUT_MARGIN_SECONDS
        return {
            "next": "child",
            "attempt": attempt,
            "child_run_id": child_id,
            "timeout_seconds": timeout,
        }

    def await_child(
        self, org_id: str, run_id: str, child_id: str, task_token: str
    ) -> dict[str, Any]:
        """Stores the parent's token on the child run, then starts the child's execution."""
        child = self.store.store_parent_token(org_id, child_id, task_token)
        if child["status"] in RUN_TERMINAL:
            executions.resume_run(task_token, child["status"])
            return {}
        executions.start_run(self.run_state_machine_arn, org_id, child_id, int(child["timeout"]))
        return {}

    def child_settled(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        child_id: str,
        timed_out: bool = False,
    ) -> dict[str, Any]:
        """The child run ended (or the attempt timed out): the node's attempt ends with it."""
        node = self.store.get_node(org_id, run_id, ref)
        if node["status"] in NODE_TERMINAL:
            self._settled(org_id, run_id, [(ref, node["status"])])
            return DONE
        run = self.store.get_run(org_id, run_id)
        spec = self._workflow(org_id, run).specs[ref]
        child = self.store.get_run(org_id, child_id)
        if child["status"] == RunStatus.SUCCEEDED:
            output = self.store.payloads.load(child, "output")
            self.store.settle_node(org_id, run_id, ref, attempt, NodeStatus.SUCCEEDED, output)
        else:
            if timed_out and child["status"] not in RUN_TERMINAL:
                self._cancel_child(org_id, child_id, "the parent's attempt timed out")
                failure = NodeFailure("Timeout", f"child run {child_id} did not finish in time")
            else:
                error = child.get("error") or {}
                message = f"child run {child_id} {child['status']}: {error.get('message', '')}"
                failure = NodeFailure("ChildRunFailed", message)
            outcome = self._attempt_failed(org_id, run_id, spec, attempt, failure)
            if outcome is not None:
                return outcome
        return self._node_changed(org_id, run_id, ref)

    def _cancel_child(self, org_id: str, child_id: str, reason: str) -> None:
        # Already ended or finishing, or never created: nothing to stop.
        with contextlib.suppress(Conflict, NotFound):
            cancel.cancel_run(self.store, org_id, child_id, reason)

    # -- for_each -------------------------------------------------------------------------------

    def _fan_out(
        self,
        org_id: str,
        run_id: str,
        expires_at: int,
        spec: NodeSpec,
        context: dict[str, Any],
    ) -> dict[str, Any]:
        """One record per item, then a Map over their indices (references only)."""
        try:
            values = _expression(spec.for_each or "", context)
        except TemplateError as exc:
            return self._fail(org_id, run_id, spec.ref, 1, "ExpressionError", str(exc))
        if not isinstance(values, list):
            message = f"for_each gave {type(values).__name__}, not a list"
            return self._fail(org_id, run_id, spec.ref, 1, "ExpressionError", message)
        if len(values) > MAX_FOR_EACH_ITEMS:
            message = f"for_each gave {len(values)} items; at most {MAX_FOR_EACH_ITEMS} are allowed"
            return self._fail(org_id, run_id, spec.ref, 1, "TooManyItems", message)
        if not values:
            self.store.settle_node(org_id, run_id, spec.ref, 1, NodeStatus.SUCCEEDED, [])
            self._settled(org_id, run_id, [(spec.ref, NodeStatus.SUCCEEDED)])
            return DONE
        self.store.create_items(org_id, run_id, spec.ref, values, expires_at)
        return {
            "next": "map",
            "indices": list(range(len(values))),
            "max_concurrency": spec.max_concurrency,
        }

    def item_attempt(
        self, org_id: str, run_id: str, ref: str, index: int, attempt: int
    ) -> dict[str, Any]:
        """One attempt of one for_each item, with the node's retry policy."""
        item = self.store.get_item(org_id, run_id, ref, index)
        if item["status"] in NODE_TERMINAL:
            return DONE
        run = self.store.get_run(org_id, run_id)
        if run["status"] != RunStatus.RUNNING or run.get("settle_requested_at"):
            self.store.cancel_item(org_id, run_id, ref, index, "the run is settling")
            return DONE
        compiled = self._workflow(org_id, run)
        spec = compiled.specs[ref]
        context = self._context(org_id, run_id, run, compiled, ref)
        context.update(item=self.store.payloads.load(item, "item"), index=index)
        timeout_at = (
            iso(now() + timedelta(seconds=spec.retry.timeout)) if spec.retry.timeout else None
        )
        if not self.store.start_attempt(org_id, run_id, ref, attempt, timeout_at, index=index):
            return DONE
        return self._try(org_id, run_id, spec, context, attempt, index=index) or DONE

    def item_crashed(
        self, org_id: str, run_id: str, ref: str, index: int, attempt: int, error: str, cause: str
    ) -> dict[str, Any]:
        """An item's attempt step kept failing: the item fails (and so, later, the node)."""
        self._record_crash(org_id, run_id, ref, attempt, error, cause, index)
        return DONE

    def collect_items(self, org_id: str, run_id: str, ref: str) -> dict[str, Any]:
        """After the Map: the node's output is the ordered list of item results."""
        node = self.store.get_node(org_id, run_id, ref)
        if node["status"] in NODE_TERMINAL:
            self._settled(org_id, run_id, [(ref, node["status"])])
            return DONE
        records = self.store.list_items(org_id, run_id, ref)
        unfinished = [r for r in records if r["status"] != NodeStatus.SUCCEEDED]
        if unfinished:
            first = unfinished[0]
            error = first.get("error") or {"type": "ItemFailed", "message": first["status"]}
            message = f"item {int(first['index'])}: {error.get('message', '')}"
            return self._fail(org_id, run_id, ref, 1, error.get("type", "ItemFailed"), message)
        outputs = [self.store.payloads.load(r, "output") for r in records]
        self.store.settle_node(org_id, run_id, ref, 1, NodeStatus.SUCCEEDED, outputs)
        return self._node_changed(org_id, run_id, ref)

    def _fail(
        self, org_id: str, run_id: str, ref: str, attempt: int, error_type: str, message: str
    ) -> dict[str, Any]:
        """Fails the node's running attempt for good and moves the run on."""
        if self.store.settle_node(
            org_id,
            run_id,
            ref,
            attempt,
            NodeStatus.FAILED,
            error={"type": error_type, "message": message},
        ):
            self._log_failure(org_id, run_id, ref, attempt, error_type, message)
        return self._node_changed(org_id, run_id, ref)

    def _prepare(
        self, org_id: str, run_id: str, spec: NodeSpec, context: dict[str, Any]
    ) -> dict[str, Any] | None:
        """run_if and the start delay; an outcome for the state machine, or None to go on."""
        try:
            if spec.run_if is not None and not _truthy(_expression(spec.run_if, context)):
                if self.store.skip_node(org_id, run_id, spec.ref, "run_if was false"):
                    self._settled(org_id, run_id, [(spec.ref, NodeStatus.SKIPPED)])
                return DONE
            delay = self._delay_seconds(spec, context)
        except TemplateError as exc:
            # Recorded as a first attempt that failed for good (expressions are not retried).
            self.store.start_attempt(org_id, run_id, spec.ref, 1, None)
            return self._fail(org_id, run_id, spec.ref, 1, "ExpressionError", str(exc))
        if delay <= 0:
            return None
        self.store.delay_node(org_id, run_id, spec.ref, iso(now() + timedelta(seconds=delay)))
        return {"next": "again", "attempt": 1, "wait_seconds": delay}

    @staticmethod
    def _delay_seconds(spec: NodeSpec, context: dict[str, Any]) -> int:
        """Whole seconds until the later of start_delay and wait_until (0 when both are past)."""
        delay = float(spec.start_delay)
        if spec.wait_until is not None:
            text = spec.wait_until
            if single_expression(text) is not None:
                text = _expression(text, context)
            until = _parse_time(text, spec.wait_until)
            delay = max(delay, (until - now()).total_seconds())
        return max(0, int(-(-delay // 1)))

    @staticmethod
    def _check_retry_until(
        spec: NodeSpec, context: dict[str, Any], output: Any, attempt: int
    ) -> None:
        if spec.retry.retry_until is None:
            return
        scope = {**context, "result": output, "attempt": attempt}
        try:
            done = _truthy(_expression(spec.retry.retry_until, scope))
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

    def node_crashed(
        self, org_id: str, run_id: str, ref: str, attempt: int, error: str, cause: str
    ) -> dict[str, Any]:
        """The attempt step kept failing: the node fails so that the run does not hang."""
        self._record_crash(org_id, run_id, ref, attempt, error, cause)
        return self._node_changed(org_id, run_id, ref)

    def _record_crash(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        error: str,
        cause: str,
        index: int | None = None,
    ) -> None:
        message = _cause({"cause": cause}) or error
        self.store.start_attempt(org_id, run_id, ref, attempt, None, index=index)
        self.store.settle_node(
            org_id,
            run_id,
            ref,
            attempt,
            NodeStatus.FAILED,
            error={"type": error, "message": message},
            index=index,
        )

    def _node_changed(self, org_id: str, run_id: str, ref: str) -> dict[str, Any]:
        """Moves the run on from the node's recorded state, if it has settled."""
        status = self.store.get_node(org_id, run_id, ref)["status"]
        if status in NODE_TERMINAL:
            self._settled(org_id, run_id, [(ref, status)])
        return DONE

    # -- shared steps ---------------------------------------------------------------------------

    def _settled(
        self,
        org_id: str,
        run_id: str,
        settled: list[tuple[str, str]],
        budget: "_InlineBudget | None" = None,
    ) -> None:
        """Resolves the edges of settled nodes, starts or skips their children, tells the run.

        Children that need no execution run inline and join the work list. Idempotent: edge
        sets only grow, transitions are conditional and starts are named. Once the run is
        settling, nothing more starts or skips: what has not run is cancelled.
        """
        budget = budget or _InlineBudget(self.inline_limit)
        run = self.store.get_run(org_id, run_id)
        read_at = time.monotonic()
        compiled = self._workflow(org_id, run)
        known: dict[str, dict[str, Any]] = {}
        work = deque(settled)
        while work:
            ref, status = work.popleft()
            if time.monotonic() - read_at > RUN_REREAD_SECONDS:
                run = self.store.get_run(org_id, run_id)  # a fresh look: is it settling now?
                read_at = time.monotonic()
            settling = run["status"] != RunStatus.RUNNING or bool(run.get("settle_requested_at"))
            unhandled = status == NodeStatus.FAILED and ref not in compiled.handled
            # An unhandled failure fails the run: its children stay pending and are cancelled.
            for child, edge in [] if unhandled or settling else compiled.outgoing[ref]:
                outcome = edge_outcome(edge.kind, status)
                if self._single_edge_inline(compiled, child, edge, outcome, budget):
                    # Its only edge decides, and it runs inline: edge and outcome in one write.
                    child_status = self._run_inline(
                        org_id,
                        run_id,
                        run,
                        compiled,
                        compiled.specs[child],
                        (outcome, edge.key),
                        known,
                    )
                    if child_status is not None:
                        work.append((child, child_status))
                    continue
                item = self.store.record_edge(org_id, run_id, child, edge.key, outcome)
                decision = join_decision(
                    compiled.specs[child].join_strategy,
                    compiled.edge_keys[child],
                    set(item.get("satisfied_edges", ())),
                    set(item.get("failed_edges", ())),
                    set(item.get("skipped_edges", ())),
                )
                if decision == Decision.RUN:
                    child_status = self._start_ready(
                        org_id, run_id, run, compiled, child, budget, known
                    )
                    if child_status is not None:
                        work.append((child, child_status))
                elif decision == Decision.SKIP:
                    reason = _skip_reason(item, compiled.edge_keys[child])
                    skipped = self.store.skip_node(org_id, run_id, child, reason)
                    if skipped or item["status"] == NodeStatus.SKIPPED:
                        work.append((child, NodeStatus.SKIPPED))
            if status == NodeStatus.SUCCEEDED and compiled.specs[ref].emit_event:
                self._emit_event(org_id, run_id, run, compiled, ref, known)
            # Children are resolved (and the event written) before this node counts as
            # settled, so the run cannot settle in between.
            everything = self.store.record_node_settled(org_id, run_id, compiled.positions[ref])
            if unhandled:
                self._settle_run(org_id, run_id, "node_failed")
            elif everything:
                self._settle_run(org_id, run_id, "all_nodes_settled")

    def _emit_event(
        self,
        org_id: str,
        run_id: str,
        run: dict[str, Any],
        compiled: CompiledWorkflow,
        ref: str,
        known: dict[str, dict[str, Any]],
    ) -> None:
        """The event of a node that succeeded (seed 003). Every settled node passes here, on
        replays too, and the event's id follows from the node's finish: written at least once,
        and never twice."""
        sources = compiled.event_sources(ref)
        missing = [r for r in (ref, *sources) if r not in known]
        for item in self.store.get_nodes(org_id, run_id, missing) if missing else []:
            if item["status"] in NODE_TERMINAL:
                known[item["ref"]] = item
        node = known[ref]
        previous = [
            event_id(org_id, run_id, source, known[source]["finished_at"])
            for source in sources
            if known.get(source, {}).get("status") == NodeStatus.SUCCEEDED
        ]
        self.events.record(
            org_id, run, node, event_id(org_id, run_id, ref, node["finished_at"]), previous
        )

    def _start_ready(
        self,
        org_id: str,
        run_id: str,
        run: dict[str, Any],
        compiled: CompiledWorkflow,
        ref: str,
        budget: "_InlineBudget",
        known: dict[str, dict[str, Any]] | None = None,
    ) -> str | None:
        """Starts a node whose join allows it: inline when it needs no execution (its terminal
        status, for the work list), else as an execution of its own (None)."""
        spec = compiled.specs[ref]
        if _inlinable(spec) and budget.take():
            return self._run_inline(org_id, run_id, run, compiled, spec, known=known)
        self._schedule(org_id, run_id, ref)
        return None

    @staticmethod
    def _single_edge_inline(
        compiled: CompiledWorkflow,
        child: str,
        edge: Edge,
        outcome: str,
        budget: "_InlineBudget",
    ) -> bool:
        """The child has this one incoming edge, the edge lets it run, and it can run inline."""
        spec = compiled.specs[child]
        if compiled.edge_keys[child] != {edge.key} or not _inlinable(spec):
            return False
        satisfied = {edge.key} if outcome == "satisfied" else set()
        failed = {edge.key} if outcome == "failed" else set()
        skipped = {edge.key} if outcome == "skipped" else set()
        decision = join_decision(spec.join_strategy, {edge.key}, satisfied, failed, skipped)
        return decision == Decision.RUN and budget.take()

    def _run_inline(
        self,
        org_id: str,
        run_id: str,
        run: dict[str, Any],
        compiled: CompiledWorkflow,
        spec: NodeSpec,
        edge: tuple[str, str] | None = None,
        known: dict[str, dict[str, Any]] | None = None,
    ) -> str | None:
        """Runs a transform that needs no waiting in this step, recorded in one write."""
        context = self._context(org_id, run_id, run, compiled, spec.ref, known)
        status, output, error, reason = NodeStatus.SUCCEEDED, None, None, None
        try:
            if spec.run_if is not None and not _truthy(_expression(spec.run_if, context)):
                status, reason = NodeStatus.SKIPPED, "run_if was false"
            else:
                output = execute(spec, context)
        except TemplateError as exc:
            status, error = NodeStatus.FAILED, {"type": "ExpressionError", "message": str(exc)}
        except NodeFailure as failure:
            if failure.retryable and retry_delay(spec.retry, 1) is not None:
                # Retries wait, so it needs an execution after all.
                if edge is not None:
                    self.store.record_edge(org_id, run_id, spec.ref, edge[1], edge[0])
                self._schedule(org_id, run_id, spec.ref)
                return None
            status, error = NodeStatus.FAILED, failure.as_error()
        item = self.store.settle_pending(
            org_id, run_id, spec.ref, status, output, error, reason, edge
        )
        if item is not None:
            if known is not None:
                known[spec.ref] = item
            if error is not None:
                self._log_failure(org_id, run_id, spec.ref, 1, error["type"], error["message"])
            return status
        # Not pending any more: a replay (it ran already) or cancelled; go on from what it is.
        recorded = self.store.get_node(org_id, run_id, spec.ref)["status"]
        return recorded if recorded in NODE_TERMINAL else None

    def _settle_run(self, org_id: str, run_id: str, reason: str) -> None:
        run = self.store.request_settle(org_id, run_id, reason)
        if run["status"] == RunStatus.RUNNING and run.get("task_token"):
            executions.resume_run(run["task_token"], run.get("settle_reason", reason))

    def _schedule(self, org_id: str, run_id: str, ref: str) -> None:
        """pending -> scheduled, then start its execution; a replay re-sends the start."""
        if not self.store.schedule_node(org_id, run_id, ref):
            node = self.store.get_node(org_id, run_id, ref)
            if node["status"] != NodeStatus.SCHEDULED:
                return
        executions.start_node(self.node_state_machine_arn, org_id, run_id, ref)

    def _context(
        self,
        org_id: str,
        run_id: str,
        run: dict[str, Any],
        compiled: CompiledWorkflow,
        ref: str,
        known: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """What a node's templates see: the run input and its ancestors' outcomes.

        ``known`` holds node items this step has read or written: settled nodes never change,
        so they are not read again."""
        known = {} if known is None else known
        wanted = compiled.ancestors(ref)
        missing = [r for r in wanted if r not in known]
        fetched = self.store.get_nodes(org_id, run_id, missing) if missing else []
        for item in fetched:
            if item["status"] in NODE_TERMINAL:
                known[item["ref"]] = item
        ancestors = [known[r] for r in wanted if r in known] + [
            item for item in fetched if item["status"] not in NODE_TERMINAL
        ]
        nodes = {
            item["ref"]: {
                "output": self.store.payloads.load(item, "output"),
                "error": item.get("error"),
                "status": item["status"],
            }
            for item in ancestors
        }
        return {"input": self.store.payloads.load(run, "input"), "nodes": nodes}

    def _workflow(self, org_id: str, run: dict[str, Any]) -> CompiledWorkflow:
        return self._compiled(org_id, run["workflow_id"], int(run["workflow_version"]))

    def _compile(self, org_id: str, workflow_id: str, version: int) -> CompiledWorkflow:
        return CompiledWorkflow(self.store.get_workflow(org_id, workflow_id, version))


def _again(attempt: int, available_at: str) -> dict[str, Any]:
    seconds = (datetime.fromisoformat(available_at) - now()).total_seconds()
    return {"next": "again", "attempt": attempt + 1, "wait_seconds": max(0, int(-(-seconds // 1)))}


class _InlineBudget:
    """How many more nodes this step may run inline, and until when."""

    def __init__(self, limit: int, seconds: float = INLINE_SECONDS_PER_STEP):
        self.left = limit
        self.until = time.monotonic() + seconds

    def take(self) -> bool:
        if self.left <= 0 or time.monotonic() > self.until:
            return False
        self.left -= 1
        return True


def _inlinable(spec: NodeSpec) -> bool:
    """A transform that can never wait (no delay, no items, no retry) needs no execution."""
    return (
        spec.kind == NodeKind.TRANSFORM
        and not spec.start_delay
        and spec.wait_until is None
        and spec.for_each is None
        and spec.retry.retry_until is None
    )


def _run_wait_bound(run: dict[str, Any]) -> int:
    """The longest any task of the run may wait: the run's own timeout fires first."""
    return int(run["timeout"]) + CHILD_TIMEOUT_MARGIN_SECONDS


def _expression(template: str, context: dict[str, Any]) -> Any:
    expression = single_expression(template)
    if expression is None:  # refused at save time; kept as a guard
        raise TemplateError(template, "must be one expression in the form '{{ expr }}'")
    return evaluate(expression, context)


def _truthy(value: Any) -> bool:
    """JMESPath truthiness: false, null, "", [] and {} are false."""
    return value not in (False, None, "", [], {})


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


def _skip_reason(item: dict[str, Any], edges: set[str]) -> str:
    failed = sorted(set(item.get("failed_edges", ())) & edges)
    if failed:
        return f"dependency {failed[0].rsplit('.', 1)[0]} failed"
    return "no incoming edge was satisfied"


def _cause(settle: dict[str, Any]) -> str:
    """The readable message inside a Step Functions error cause (often a Lambda error JSON)."""
    cause = settle.get("cause") or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict):
        return str(parsed.get("errorMessage") or parsed.get("message") or cause)
    return cause
