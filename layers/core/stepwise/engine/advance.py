"""How a run moves on once nodes settle: their edges resolved, their children started, skipped
or run inline, their events written, and the run told when it is done."""

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stepwise.core.ids import event_id
from stepwise.core.statuses import NODE_TERMINAL, RUN_EXECUTING, NodeKind, NodeStatus, RunStatus
from stepwise.engine.address import NodeAddress
from stepwise.engine.compiled import CompiledWorkflow
from stepwise.engine.executors import NodeFailure, execute
from stepwise.engine.expressions import TemplateError
from stepwise.engine.joins import Decision, Edge, edge_outcome, join_decision
from stepwise.engine.retries import retry_delay
from stepwise.engine.shared import DONE, EngineDeps, count_attempt, expression, truthy
from stepwise.engine.start_pace import StartPace
from stepwise.runs import run_queue
from stepwise.runs.node_events import NodeEvents
from stepwise.runs.records import NodeRecord, RunRecord
from stepwise.workflows.models import NodeSpec

# Nodes one step runs inline at most (a workflow's node limit), and the time it may spend on
# them (the engine function's timeout is 60 s); the rest get executions of their own.
INLINE_NODES_PER_STEP = 500
INLINE_SECONDS_PER_STEP = 20.0
# How stale a step's view of the run may get while it works through settled nodes: once the
# run is settling, nothing more is started (finalize_run cancels what is left).
RUN_REREAD_SECONDS = 0.5
# Node executions one engine process starts a second at most (template: NodeStartRate).
NODE_START_RATE = 50.0


class InlineBudget:
    """How many more nodes this step may run inline, and until when."""

    def __init__(self, limit: int, seconds: float = INLINE_SECONDS_PER_STEP):
        self.left = limit
        self.until = time.monotonic() + seconds

    def take(self) -> bool:
        if self.left <= 0 or time.monotonic() > self.until:
            return False
        self.left -= 1
        return True


@dataclass
class RunView:
    """A run as one step sees it: the run item as last read, its graph, and ``known``, the node
    items this step has read or written (settled nodes never change, so are not read again)."""

    org_id: str
    run_id: str
    run: RunRecord
    compiled: CompiledWorkflow
    known: dict[str, NodeRecord] = field(default_factory=dict)
    read_at: float = field(default_factory=time.monotonic)  # when ``run`` was read


class Advance:
    """Moves a run on from the nodes that settled; every step family ends here."""

    def __init__(
        self,
        deps: EngineDeps,
        inline_limit: int = INLINE_NODES_PER_STEP,
        node_start_rate: float = NODE_START_RATE,
    ):
        self.deps = deps
        self.store = deps.store
        self.events = NodeEvents(self.store.table, self.store.payloads)
        self.inline_limit = inline_limit
        self.starts = StartPace(node_start_rate)  # one per process: see start_pace.py
        # RunSteps.finalize_run: the Engine sets it once both are built.
        self.finalize: Callable[[str, str, dict[str, Any], RunRecord | None], Any] | None = None

    def budget(self) -> InlineBudget:
        """What one step may run inline."""
        return InlineBudget(self.inline_limit)

    def node_changed(self, address: NodeAddress) -> dict[str, Any]:
        """Moves the run on from the node's recorded state, if it has settled."""
        status = self.store.runs.get_node(address.org_id, address.run_id, address.ref).status
        if status in NODE_TERMINAL:
            self.settled(address.org_id, address.run_id, [(address.ref, status)])
        return DONE

    def settled(
        self,
        org_id: str,
        run_id: str,
        settled: list[tuple[str, str]],
        budget: InlineBudget | None = None,
        view: RunView | None = None,
    ) -> None:
        """Resolves the edges of settled nodes, starts or skips their children, tells the run.

        Children that need no execution run inline and join the work list. Idempotent: edge
        sets only grow, transitions are conditional and starts are named. Once the run is
        settling, nothing more starts or skips: what has not run is cancelled.

        ``view``: the run as this step read it, used while it is fresh (RUN_REREAD_SECONDS).
        """
        budget = budget or self.budget()
        if view is None or time.monotonic() - view.read_at > RUN_REREAD_SECONDS:
            read_at = time.monotonic()
            run = self.store.runs.get_run(org_id, run_id)
            view = RunView(org_id, run_id, run, self.deps.workflow(org_id, run), read_at=read_at)
        compiled = view.compiled
        work = deque(settled)
        while work:
            ref, status = work.popleft()
            if time.monotonic() - view.read_at > RUN_REREAD_SECONDS:
                # A fresh look: is it settling now?
                view.run = self.store.runs.get_run(org_id, run_id)
                view.read_at = time.monotonic()
            run = view.run
            # A paused run still resolves edges (resume starts what they made ready).
            settling = run.status not in RUN_EXECUTING or bool(run.settle_requested_at)
            unhandled = status == NodeStatus.FAILED and ref not in compiled.handled
            # An unhandled failure fails the run: its children stay pending and are cancelled.
            for child, edge in [] if unhandled or settling else compiled.outgoing[ref]:
                child_status = self._follow(view, child, edge, status, budget)
                if child_status is not None:
                    work.append((child, child_status))
            if status == NodeStatus.SUCCEEDED and compiled.specs[ref].emit_event:
                self._emit_event(view, ref)
            # Children are resolved (and the event written) before this node counts as
            # settled, so the run cannot settle in between.
            everything = self.store.run_state.record_node_settled(
                org_id, run_id, compiled.positions[ref]
            )
            if unhandled:
                self._settle_run(org_id, run_id, "node_failed")
            elif everything:
                self._settle_run(org_id, run_id, "all_nodes_settled")

    def _follow(
        self, view: RunView, child: str, edge: Edge, status: str, budget: InlineBudget
    ) -> str | None:
        """Resolves one edge of a settled node: the child's terminal status when it settled in
        this step (for the work list), else None."""
        compiled = view.compiled
        outcome = edge_outcome(edge.kind, status)
        if not _held(view) and _single_edge_runs(compiled, child, edge, outcome):
            # Its only edge decides that it runs: inline, edge and outcome in one write; else
            # edge and schedule in one write.
            if _inlinable(compiled.specs[child]) and budget.take():
                return self._run_inline(view, compiled.specs[child], (outcome, edge.key))
            self._schedule(
                view.org_id, view.run_id, child, view.run.generation, compiled, (outcome, edge.key)
            )
            return None
        item = self.store.nodes.record_edge(view.org_id, view.run_id, child, edge.key, outcome)
        decision = join_decision(
            compiled.specs[child].join_strategy,
            compiled.edge_keys[child],
            item.satisfied_edges,
            item.failed_edges,
            item.skipped_edges,
        )
        if decision == Decision.RUN:
            return self.start_ready(view, child, budget)
        if decision == Decision.SKIP:
            reason = _skip_reason(item, compiled.edge_keys[child])
            skipped = self.store.nodes.skip_node(view.org_id, view.run_id, child, reason)
            if skipped or item.status == NodeStatus.SKIPPED:
                return NodeStatus.SKIPPED
        return None

    def _emit_event(self, view: RunView, ref: str) -> None:
        """The event of a node that succeeded (seed 003). Every settled node passes here, on
        replays too, and the event's id follows from the node's finish: written at least once,
        and never twice."""
        org_id, run_id, known = view.org_id, view.run_id, view.known
        sources = view.compiled.event_sources(ref)
        missing = [r for r in (ref, *sources) if r not in known]
        for item in self.store.runs.get_nodes(org_id, run_id, missing) if missing else []:
            if item.status in NODE_TERMINAL:
                known[item.ref] = item
        node = known[ref]
        previous = [
            event_id(org_id, run_id, source, known[source].finished_at)
            for source in sources
            if source in known and known[source].status == NodeStatus.SUCCEEDED
        ]
        self.events.record(
            org_id, view.run, node, event_id(org_id, run_id, ref, node.finished_at), previous
        )

    def start_ready(self, view: RunView, ref: str, budget: InlineBudget) -> str | None:
        """Starts a node whose join allows it: inline when it needs no execution (its terminal
        status, for the work list), else as an execution of its own (None)."""
        spec = view.compiled.specs[ref]
        if _inlinable(spec) and not _held(view) and budget.take():
            return self._run_inline(view, spec)
        # Paused (as last read): the schedule's transaction checks the run is running, so the
        # node is held pending until resume (engine/held_nodes.py) starts it.
        self._schedule(view.org_id, view.run_id, ref, view.run.generation, view.compiled)
        return None

    def _run_inline(
        self, view: RunView, spec: NodeSpec, edge: tuple[str, str] | None = None
    ) -> str | None:
        """Runs a transform that needs no waiting in this step, recorded in one write."""
        org_id, run_id = view.org_id, view.run_id
        context = self.context(view, spec.ref)
        status, output, error, reason = NodeStatus.SUCCEEDED, None, None, None
        try:
            if spec.run_if is not None and not truthy(expression(spec.run_if, context)):
                status, reason = NodeStatus.SKIPPED, "run_if was false"
            else:
                output = execute(spec, context)
        except TemplateError as exc:
            status, error = NodeStatus.FAILED, {"type": "ExpressionError", "message": str(exc)}
        except NodeFailure as failure:
            if failure.retryable and retry_delay(spec.retry, 1) is not None:
                # Retries wait, so it needs an execution after all.
                self._schedule(org_id, run_id, spec.ref, view.run.generation, view.compiled, edge)
                return None
            status, error = NodeStatus.FAILED, failure.as_error()
        # A redrive numbers the attempts of a node it runs again on (one read, in a redrive only).
        attempt = 1
        if view.run.generation:
            attempt = self.store.runs.get_node(org_id, run_id, spec.ref).attempt + 1
        item = self.store.nodes.settle_pending(
            org_id, run_id, spec.ref, status, output, error, reason, edge, attempt
        )
        if item is not None:
            view.known[spec.ref] = item
            if status != NodeStatus.SKIPPED:
                count_attempt(org_id, spec.kind, failed=status == NodeStatus.FAILED)
            if error is not None:
                address = NodeAddress(org_id, run_id, spec.ref, attempt)
                self.deps.log_failure(address, error["type"], error["message"])
            return status
        # Not pending any more: a replay (it ran already) or cancelled; go on from what it is.
        recorded = self.store.runs.get_node(org_id, run_id, spec.ref).status
        return recorded if recorded in NODE_TERMINAL else None

    def _settle_run(self, org_id: str, run_id: str, reason: str) -> None:
        run = self.store.run_state.request_settle(org_id, run_id, reason)
        if run.status in RUN_EXECUTING:  # a queued run is finished by its start
            self.finish(org_id, run_id, run.generation, run)

    def finish(
        self, org_id: str, run_id: str, generation: int, run: RunRecord | None = None
    ) -> None:
        """Finishes a run asked to settle, here and now (``finalize``: the Engine sets it), or
        by a RunQueue message when this Advance was built without the run's steps. ``run``: the
        run as its settle request just wrote (or read) it."""
        if self.finalize is not None:
            self.finalize(org_id, run_id, {"reason": "settled"}, run)
        else:
            run_queue.queue_finalize(self.deps.run_queue_url, org_id, run_id, generation)

    def _schedule(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        generation: int,
        compiled: CompiledWorkflow,
        edge: tuple[str, str] | None = None,
    ) -> None:
        """pending -> scheduled, then start its execution (named for the run's generation: a
        redrive starts it anew); a replay re-sends a Standard start (the name makes it harmless).
        An Express start is sent only by the step whose write scheduled the node: Express does
        not deduplicate names, and a lost start is the janitor's (ops/janitor.py).

        ``edge`` (outcome, key): the incoming edge that made it ready, written with the schedule;
        when the schedule is refused (a replay, or the run paused or settling since it was read)
        it is recorded alone, so resume and redrive still see it, and the schedule is tried once
        more: a resume between the refusal and the edge's write found no edge to release."""
        express = self.deps.runs_express(compiled, ref)
        scheduled = self.store.nodes.schedule_node(org_id, run_id, ref, edge)
        if not scheduled and edge is not None:
            self.store.nodes.record_edge(org_id, run_id, ref, edge[1], edge[0])
            scheduled = self.store.nodes.schedule_node(org_id, run_id, ref)
        if not scheduled:
            node = self.store.runs.get_node(org_id, run_id, ref)
            if node.status != NodeStatus.SCHEDULED or express:
                return
        self.starts.take()
        self.deps.start_node(org_id, run_id, ref, generation, express)

    def context(self, view: RunView, ref: str) -> dict[str, Any]:
        """What a node's templates see: the run input and its ancestors' outcomes (the settled
        ones read once per view)."""
        known = view.known
        wanted = view.compiled.ancestors(ref)
        missing = [r for r in wanted if r not in known]
        fetched = self.store.runs.get_nodes(view.org_id, view.run_id, missing) if missing else []
        for item in fetched:
            if item.status in NODE_TERMINAL:
                known[item.ref] = item
        ancestors = [known[r] for r in wanted if r in known] + [
            item for item in fetched if item.status not in NODE_TERMINAL
        ]
        nodes = {
            item.ref: {
                "output": self.store.payloads.read(item.output),
                "error": item.error,
                "status": item.status,
            }
            for item in ancestors
        }
        return {"input": self.store.payloads.read(view.run.input), "nodes": nodes}


def _held(view: RunView) -> bool:
    """The run was paused when last read: nothing runs inline, every start goes through the
    schedule transaction, which holds the node while the run is paused."""
    return view.run.status == RunStatus.PAUSED


def _single_edge_runs(compiled: CompiledWorkflow, child: str, edge: Edge, outcome: str) -> bool:
    """The child has this one incoming edge, and the edge lets it run."""
    spec = compiled.specs[child]
    if compiled.edge_keys[child] != {edge.key}:
        return False
    satisfied = {edge.key} if outcome == "satisfied" else set()
    failed = {edge.key} if outcome == "failed" else set()
    skipped = {edge.key} if outcome == "skipped" else set()
    decision = join_decision(spec.join_strategy, {edge.key}, satisfied, failed, skipped)
    return decision == Decision.RUN


def _inlinable(spec: NodeSpec) -> bool:
    """A transform that can never wait (no delay, no items, no retry) needs no execution."""
    return (
        spec.kind == NodeKind.TRANSFORM
        and not spec.start_delay
        and spec.wait_until is None
        and spec.for_each is None
        and spec.retry.retry_until is None
    )


def _skip_reason(item: NodeRecord, edges: set[str]) -> str:
    failed = sorted(item.failed_edges & edges)
    if failed:
        return f"dependency {failed[0].rsplit('.', 1)[0]} failed"
    return "no incoming edge was satisfied"
