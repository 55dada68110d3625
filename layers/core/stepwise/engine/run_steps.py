"""A run's own steps, on RunQueue's messages: ``start_run`` (the roots, and the deadline
queued), ``deadline`` (the run's timeout) and ``finalize_run`` (the final status, what is left
cancelled, the lifecycle event), which the step that settles the run also runs inline."""

import time
from datetime import datetime, timedelta
from typing import Any

from stepwise.core import metrics
from stepwise.core.clock import iso, now
from stepwise.core.observability import logger
from stepwise.core.statuses import NODE_TERMINAL, RUN_TERMINAL, NodeStatus, RunStatus
from stepwise.engine.advance import Advance, RunView
from stepwise.engine.child_steps import ChildSteps
from stepwise.engine.compiled import CompiledWorkflow
from stepwise.engine.expressions import TemplateError, render
from stepwise.engine.failure_handlers import FailureHandlers
from stepwise.engine.for_each_steps import ForEachSteps
from stepwise.engine.partial_start import start_from_state
from stepwise.engine.shared import EngineDeps, cause_message
from stepwise.infra import executions
from stepwise.runs import lifecycle_events, run_queue
from stepwise.runs.records import NodeRecord, RunRecord


class RunSteps:
    """A run's first and last steps."""

    def __init__(
        self, deps: EngineDeps, advance: Advance, children: ChildSteps, for_each: ForEachSteps
    ):
        self.deps = deps
        self.store = deps.store
        self.advance = advance
        self.children = children
        self.for_each = for_each
        self.handlers = FailureHandlers(deps)

    def start_run(self, org_id: str, run_id: str) -> dict[str, Any]:
        """Marks the run running, queues its deadline, then starts the root nodes. A replay
        (a start delivered twice) starts nothing twice: every start is conditional."""
        read_at = time.monotonic()
        run = self.store.run_state.mark_started(org_id, run_id)
        if run is None:
            return {}  # already finalised
        if run.settle_requested_at:
            # Cancelled while queued, or a replay after the run settled: finish it.
            return self.finalize_run(org_id, run_id, {"reason": "settled"}, run)
        self._queue_deadline(run)
        view = RunView(org_id, run_id, run, self.deps.workflow(org_id, run), read_at=read_at)
        budget = self.advance.budget()
        if run.generation or run.rerun_of:  # some nodes have settled already
            start_from_state(self.advance, view, budget)
            return {}
        inlined = []
        for ref in view.compiled.roots:
            status = self.advance.start_ready(view, ref, budget)
            if status is not None:
                inlined.append((ref, status))
        if inlined:
            self.advance.settled(org_id, run_id, inlined, budget, view)
        return {}

    def deadline(
        self, org_id: str, run_id: str, due_at: str, run: RunRecord | None = None
    ) -> dict[str, Any]:
        """The run's timeout message: a run still open past ``due_at`` times out (a paused one
        too); one whose due time is still ahead waits again for the rest. ``run``: the run as
        the caller has just read it (strongly), not read again."""
        if run is None:
            run = self.store.runs.get_run(org_id, run_id)
        if run.status in RUN_TERMINAL:
            return {}
        if run.settle_requested_at:  # asked to settle already: finish it for that reason
            return self.finalize_run(org_id, run_id, {"reason": "settled"}, run)
        left = (datetime.fromisoformat(due_at) - now()).total_seconds()
        if left > 0:
            queue = self.deps.run_queue_url
            run_queue.queue_deadline(queue, org_id, run_id, run.generation, due_at, left)
            return {}
        return self.finalize_run(org_id, run_id, {"reason": "timed_out"}, run)

    def _queue_deadline(self, run: RunRecord) -> None:
        """Queues the run's timeout, counted from its start (a redrive's from the redrive)."""
        if not run.timeout:
            return
        started = datetime.fromisoformat(run.redriven_at or run.started_at or run.created_at)
        due = started + timedelta(seconds=run.timeout)
        left = (due - now()).total_seconds()
        org_id, run_id, queue = run.org_id, run.run_id, self.deps.run_queue_url
        run_queue.queue_deadline(queue, org_id, run_id, run.generation, iso(due), left)

    def finalize_run(
        self, org_id: str, run_id: str, settle: dict[str, Any], run: RunRecord | None = None
    ) -> dict[str, Any]:
        """Decides the final status from the nodes, cancels what is left, records it. ``run``:
        the run as the caller has just read or written it (strongly), not read again."""
        reason = settle.get("reason", "settled")
        if run is None:
            run = self.store.runs.get_run(org_id, run_id)
        if run.status in RUN_TERMINAL:
            self.handlers.after_finish(run)  # a replay: the handler may not be started yet
            self._announce(run)  # nor the event out
            if run.parent_token:  # nor the parent have heard
                executions.resume_run(run.parent_token, run.status)
            return {"status": run.status}
        # Stop new scheduling first, so that the node list read next is the final one. (The
        # step that settled the run asked already: a write whose condition fails still costs.)
        if not run.settle_requested_at:
            run = self.store.run_state.request_settle(org_id, run_id, reason)
        reason = (run.settle_reason or reason) if reason == "settled" else reason
        run, nodes = self.store.runs.get_run_with_nodes(org_id, run_id)
        for node in nodes:
            self._stop_node(org_id, run, node, reason)
        status, output, error = self._outcome(org_id, run, nodes, {**settle, "reason": reason})
        # The step that moves the run to its end claims the lifecycle event in that move.
        claim = bool(self.deps.event_bus_name)
        moved = self.store.run_state.finish_run(
            org_id, run_id, status, output, error, claim_event=claim
        )
        if moved:
            metrics.count(metrics.Metric.RUNS_SETTLED, org_id, Status=str(status))
            # The run as read above (after its settle request) with what the move set: no read.
            finished = run._replace(**moved)
        else:  # another step finished it, maybe otherwise: as it ended
            finished = self.store.runs.get_run(org_id, run_id)
        logger.info("run finished", extra={"status": str(status)})
        if moved and claim:
            self._publish(finished)
        # The nodes this step's outcome was decided from; another step's outcome reads its own.
        self.handlers.after_finish(finished, nodes if moved else None)
        if not (moved and claim):
            self._announce(finished)
        if run.parent_token:
            executions.resume_run(run.parent_token, str(status))
        return {"status": str(status)}

    def _stop_node(self, org_id: str, run: RunRecord, node: NodeRecord, reason: str) -> None:
        """A node the ending run leaves unfinished: its execution, child run and items stop."""
        run_id = run.run_id
        if node.status in (NodeStatus.SCHEDULED, NodeStatus.RUNNING):
            machine = self.deps.node_state_machine_arn
            executions.stop_node(machine, run_id, node.ref, reason, run.generation)
            if node.item_count:
                self.for_each.stop_chunks(node, run_id, reason)
        if node.status not in NODE_TERMINAL:
            self.store.nodes.cancel_node(org_id, run_id, node.ref, f"run ended ({reason})")
            if node.child_run_id:
                self.children.cancel_child(
                    org_id, node.child_run_id, f"parent run ended ({reason})"
                )
            if node.item_count:
                for item in self.store.nodes.list_items(org_id, run_id, node.ref):
                    if item.status not in NODE_TERMINAL:
                        index = item.index
                        self.store.nodes.cancel_item(org_id, run_id, node.ref, index, reason)

    def _announce(self, run: RunRecord) -> None:
        """The settled run's lifecycle event, unless it is out already."""
        if not self.deps.event_bus_name or run.event_published_at:
            return
        # Claimed first: two steps finishing the run at once must not both publish.
        if self.store.run_state.claim_event(run.org_id, run.run_id):
            self._publish(run)

    def _publish(self, run: RunRecord) -> None:
        """Publishes the event whose claim this step holds, and marks it out; a refused event
        gives its claim back before the step fails (its retry publishes it)."""
        try:
            lifecycle_events.publish(self.deps.event_bus_name, run)
        except lifecycle_events.PublishFailed:
            self.store.run_state.release_event(run.org_id, run.run_id)
            raise
        self.store.run_state.mark_event_published(run.org_id, run.run_id)

    def _outcome(
        self, org_id: str, run: RunRecord, nodes: list[dict[str, Any]], settle: dict[str, Any]
    ) -> tuple[RunStatus, Any, dict[str, Any] | None]:
        compiled = self.deps.workflow(org_id, run)
        reason = settle.get("reason")
        if reason == "cancelled":
            message = run.cancel_reason or "the run was cancelled"
            return RunStatus.CANCELLED, None, {"type": "Cancelled", "message": message}
        unhandled = sorted(
            (n for n in nodes if n.status == NodeStatus.FAILED and n.ref not in compiled.handled),
            key=lambda n: n.finished_at or "",
        )
        if unhandled:
            first = unhandled[0]
            error = dict(first.error or {"type": "NodeFailed", "message": ""})
            return RunStatus.FAILED, None, {**error, "node": first.ref}
        if reason == "timed_out":
            message = f"the run did not finish within {run.timeout} s"
            return RunStatus.TIMED_OUT, None, {"type": "RunTimedOut", "message": message}
        if reason == "crashed":
            message = cause_message(settle)
            error = {"type": settle.get("error", "States.Runtime"), "message": message}
            return RunStatus.FAILED, None, error
        finished = {NodeStatus.SUCCEEDED, NodeStatus.SKIPPED, NodeStatus.FAILED}
        if any(n.status not in finished for n in nodes):
            message = "the run settled before all nodes finished"
            return RunStatus.FAILED, None, {"type": "Incomplete", "message": message}
        outcomes = {
            n.ref: {"output": self.store.payloads.read(n.output), "error": n.error} for n in nodes
        }
        try:
            return RunStatus.SUCCEEDED, self._run_output(compiled, run, outcomes), None
        except TemplateError as exc:
            return RunStatus.FAILED, None, {"type": "ExpressionError", "message": str(exc)}

    def _run_output(
        self, compiled: CompiledWorkflow, run: RunRecord, outcomes: dict[str, Any]
    ) -> Any:
        returns = compiled.workflow.returns
        if returns is None:
            return {ref: outcomes[ref]["output"] for ref in compiled.leaves}
        context = {"input": self.store.payloads.read(run.input), "nodes": outcomes}
        return render(returns, context)
