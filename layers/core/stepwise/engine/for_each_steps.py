"""for_each nodes: one record per item; the items run as executions of the items machine, one
chunk of items each, a few lanes at a time, where each item has its own attempts; then the
node's output is collected in item order."""

from collections import OrderedDict
from dataclasses import replace
from datetime import datetime, timedelta
from threading import Lock
from typing import Any

from stepwise.actions.definitions import resolve_action
from stepwise.core import settings
from stepwise.core.clock import iso, now
from stepwise.core.errors import NotFound, QuotaExceeded
from stepwise.core.observability import logger
from stepwise.core.statuses import NODE_TERMINAL, RUN_EXECUTING, NodeKind, NodeStatus, RunStatus
from stepwise.engine import fan_out_plan
from stepwise.engine.action_steps import ActionSteps
from stepwise.engine.address import NodeAddress
from stepwise.engine.advance import Advance, RunView
from stepwise.engine.attempts import (
    Attempts,
    StepFamily,
    again_at,
    attempt_deadline,
    output_over_quota,
    rebased,
)
from stepwise.engine.expressions import TemplateError
from stepwise.engine.fan_out_plan import EXPRESS, STANDARD, FanOutPlan, choose, plan
from stepwise.engine.kept_items import keep_settled_items
from stepwise.engine.shared import DONE, EngineDeps, expression, run_wait_bound
from stepwise.infra import executions
from stepwise.runs.records import NodeRecord, RunRecord
from stepwise.workflows.machines import SYNC_DELIVERY_SECONDS
from stepwise.workflows.models import NodeSpec

# With retries, chunks keep every execution's history in bounds up to this many items: the quota
# ``for_each_items`` (core.settings) may lower it, never raise it.
MAX_FOR_EACH_ITEMS = settings.MAX_FOR_EACH_ITEMS
# An Express chunk is started again once this long has passed since its start without it being
# counted: Express ends every execution at 5 minutes, so by then no earlier one still runs.
EXPRESS_RESTART_SECONDS = fan_out_plan.EXPRESS_LIMIT_SECONDS + 60
CACHED_CONTEXTS = 8  # nodes whose items' context one engine process keeps


class ForEachSteps(StepFamily):
    """The fan-out, the items' start (``start_items``), each item's attempt (``item_attempt``,
    ``item_crashed``), each chunk's end (``chunk_done``, ``chunk_crashed``), then
    ``collect_items``. An action node's item attempt is a delivery: ``actions`` starts it, and
    the items machine's ItemDeliver state waits for it as the node machine's Deliver does."""

    def __init__(
        self, deps: EngineDeps, advance: Advance, attempts: Attempts, actions: ActionSteps
    ):
        super().__init__(deps, advance, attempts)
        self.actions = actions
        # What a node's items' templates see but item and index, by (org, run, generation,
        # node): its ancestors have all settled before it fans out, and settled nodes do not
        # change within a generation, so an engine process reads them once per node, not per
        # item. A redrive is a new generation (its input and version may differ).
        self._contexts: OrderedDict[tuple[str, str, int, str], dict[str, Any]] = OrderedDict()
        self._contexts_lock = Lock()  # the local stack runs steps on threads of one process

    def fan_out(
        self, address: NodeAddress, run: RunRecord, spec: NodeSpec, context: dict[str, Any]
    ) -> dict[str, Any]:
        """One record per item and the plan of their chunks; the machine then starts them."""
        org_id, run_id = address.org_id, address.run_id
        node = address  # the node has one attempt (per redrive): its items retry
        try:
            values = expression(spec.for_each or "", context)
        except TemplateError as exc:
            return self.attempts.fail(node, spec.kind, "ExpressionError", str(exc))
        if not isinstance(values, list):
            message = f"for_each gave {type(values).__name__}, not a list"
            return self.attempts.fail(node, spec.kind, "ExpressionError", message)
        limit = settings.quotas().for_each_items  # never above MAX_FOR_EACH_ITEMS
        if len(values) > limit:
            exceeded = QuotaExceeded("for_each_items", limit, f"for_each gave {len(values)} items")
            return self.attempts.fail(node, spec.kind, "QuotaExceeded", str(exceeded))
        if not values:
            succeeded = NodeStatus.SUCCEEDED
            self.store.nodes.settle_node(org_id, run_id, spec.ref, address.attempt, succeeded, [])
            self.advance.settled(org_id, run_id, [(spec.ref, NodeStatus.SUCCEEDED)])
            return DONE
        if address.base and keep_settled_items(self.store, address, values):
            return {"next": "map", "timeout_seconds": run_wait_bound(run)}  # a redrive
        chunks = self._plan(org_id, spec, len(values))
        chunking: dict[str, Any] = {
            "chunk_size": chunks.chunk_size,
            "chunk_lanes": chunks.lanes,
            "max_concurrency": chunks.max_concurrency,
            "chunk_machine": chunks.machine,
        }
        self.store.nodes.create_items(org_id, run_id, spec.ref, values, run.expires_at, chunking)
        # Nothing waits longer than the run: its timeout ends it first, and stops the items.
        return {"next": "map", "timeout_seconds": run_wait_bound(run)}

    def _plan(self, org_id: str, spec: NodeSpec, items: int) -> FanOutPlan:
        """Express chunks when an item's worst case fits (``fan_out_plan.choose``), else
        Standard ones. An action item's attempt is bounded by its destination's SLA, and runs
        in Express only without signaling (an ``ack`` would have to wait past 5 minutes)."""
        delivers = spec.kind == NodeKind.ACTION
        attempt_seconds = self._attempt_seconds(org_id, spec) if delivers else None
        if not delivers:
            attempt_seconds = fan_out_plan.TRANSFORM_ATTEMPT_SECONDS
        if attempt_seconds is None or not self.deps.items_express_state_machine_arn:
            return plan(items, spec.retry.max_attempts, spec.max_concurrency, delivers)
        return choose(items, spec.retry, spec.max_concurrency, attempt_seconds, delivers)

    def _attempt_seconds(self, org_id: str, spec: NodeSpec) -> float | None:
        """How long an action item's attempt may take in an Express chunk: its default
        destination's SLA plus a margin; None when it must run in Standard chunks."""
        if not fan_out_plan.EXPRESS_ACTION_ITEMS:
            return None
        try:
            definition = resolve_action(self.deps.definitions, org_id, spec.action or "")
        except NotFound:
            return None  # the attempt fails with ActionNotFound, in any machine
        link = next((d for d in definition.destinations if d.is_default), None)
        if link is None or link.destination is None:
            return None
        config = link.destination.config
        if config.signaling.enabled:
            return None
        seconds = config.response_time_sla_ms / 1000 + fan_out_plan.DELIVERY_MARGIN_SECONDS
        if seconds > SYNC_DELIVERY_SECONDS:
            return None  # one delivery must end within the dispatcher's synchronous invoke
        return seconds

    def start_items(self, address: NodeAddress, task_token: str) -> dict[str, Any]:
        """Keeps the FanOut task's token on the node, then starts each lane's first chunk that
        is not done. Resumes at once if every chunk is done already (a retried step)."""
        org_id, run_id, ref = address.org_id, address.run_id, address.ref
        node = self.store.nodes.store_items_token(org_id, run_id, ref, task_token)
        chunks = _plan_of(node)
        if node.status in NODE_TERMINAL or chunks is None or self._all_done(node, chunks):
            executions.resume_run(task_token, "items_done")
            return {}
        run = self.store.runs.get_run(org_id, run_id)
        if run.status != RunStatus.RUNNING or run.settle_requested_at:
            # Ending: finalize_run stops this execution. Paused: resume starts the chunks.
            return {}
        for chunk in chunks.running(node.chunks_done):
            self._start_chunk(address, chunks, chunk, node.generation or 0)
        return {}

    def chunk_done(self, address: NodeAddress, chunk: int) -> dict[str, Any]:
        """A chunk's items have ended: the chunk counts as done (once, however often this runs),
        the next chunk of its lane starts, and the last chunk resumes the node's FanOut."""
        org_id, run_id, ref = address.org_id, address.run_id, address.ref
        if not self._express_chunk_settled(address, chunk):
            return {}  # a second execution of the chunk still runs: it counts the chunk
        node = self.store.nodes.chunk_done(org_id, run_id, ref, chunk)
        chunks = _plan_of(node)
        assert chunks is not None, f"{ref} has no chunks"
        following = chunks.next_in_lane(chunk)
        if (
            following is not None
            and following not in node.chunks_done
            and node.status not in NODE_TERMINAL
        ):
            run = self.store.runs.get_run(org_id, run_id)
            if run.status == RunStatus.RUNNING and not run.settle_requested_at:
                self._start_chunk(address, chunks, following, node.generation or 0)
        if self._all_done(node, chunks) and node.items_token:
            executions.resume_run(node.items_token, "items_done")
        return {}

    def _express_chunk_settled(self, address: NodeAddress, chunk: int) -> bool:
        """False when an Express chunk still has an item that has not settled. Express runs a
        chunk at least once, maybe twice at a time: an execution whose item ended early (its
        delivery claimed by the other's) must not count the chunk while the other settles it.
        A Standard chunk (one execution per name) always counts."""
        org_id, run_id, ref = address.org_id, address.run_id, address.ref
        chunks = _plan_of(self.store.runs.get_node(org_id, run_id, ref))
        if chunks is None or not chunks.express:
            return True
        return not self.store.nodes.unfinished_items(org_id, run_id, ref, chunks.indices(chunk))

    def chunk_crashed(
        self, address: NodeAddress, chunk: int, error: str, cause: str
    ) -> dict[str, Any]:
        """ChunkDone kept failing: the chunk's unfinished items fail with its error, then the
        chunk counts as done, so that its lane goes on and the node never waits for ever."""
        org_id, run_id, ref = address.org_id, address.run_id, address.ref
        chunks = _plan_of(self.store.runs.get_node(org_id, run_id, ref))
        assert chunks is not None, f"{ref} has no chunks"
        for index in chunks.indices(chunk):
            item = self.store.nodes.get_item(org_id, run_id, ref, index)
            if item.status not in NODE_TERMINAL:
                at = replace(address, attempt=max(item.attempt, 1), index=index)
                self.attempts.record_crash(at, error, cause)
        return self.chunk_done(address, chunk)

    def heal_chunks(
        self, org_id: str, run_id: str, node: NodeRecord, at: datetime | None = None
    ) -> list[str]:
        """For the janitor, on a node whose FanOut has waited a while: a lane whose chunk never
        started (its start kept failing) starts it, and a chunk whose execution ended without
        counting its chunk ends as ChunkCrashed ends it. What was done, one line per chunk."""
        chunks = _plan_of(node)
        if chunks is None or node.status in NODE_TERMINAL:
            return []
        address = NodeAddress(org_id, run_id, node.ref)
        if chunks.express:
            return self._heal_express_chunks(address, node, chunks, at or now())
        done: list[str] = []
        for chunk in chunks.running(node.chunks_done):
            arn = self.deps.items_state_machine_arn
            generation = node.generation or 0
            execution = executions.describe_items(arn, run_id, node.ref, chunk, generation)
            if execution is None:
                self._start_chunk(address, chunks, chunk, generation)
                done.append(f"started chunk {chunk}")
            elif execution["status"] != "RUNNING":
                status = execution["status"]
                error = execution.get("error") or f"Execution{status.title()}"
                cause = execution.get("cause") or f"the chunk's execution ended {status}"
                self.chunk_crashed(address, chunk, error, cause)
                done.append(f"ended chunk {chunk}")
        return done

    def _heal_express_chunks(
        self, address: NodeAddress, node: NodeRecord, chunks: FanOutPlan, at: datetime
    ) -> list[str]:
        """Express executions cannot be described (on AWS only CloudWatch Logs sees them), so
        time decides: a lane's chunk that has no start, or whose last start is older than 5
        minutes and a margin and still does not count, starts again. Every item step and
        ChunkDone are idempotent, so a second run of a chunk only finishes what is left."""
        generation = node.generation or 0
        done: list[str] = []
        for chunk in chunks.running(node.chunks_done):
            started = node.chunk_starts.get(_start_key(generation, chunk))
            if self._start_express_chunk(address, chunks, chunk, generation, at):
                done.append(f"{'restarted' if started else 'started'} chunk {chunk}")
        return done

    def start_lanes(self, org_id: str, run_id: str, node: NodeRecord) -> None:
        """Starts the chunk each lane is on (a resumed run: chunks were held while it was
        paused). A chunk already running or ended is not started twice: names are fixed."""
        chunks = _plan_of(node)
        if chunks is None or node.status in NODE_TERMINAL or not node.items_token:
            return
        address = NodeAddress(org_id, run_id, node.ref)
        for chunk in chunks.running(node.chunks_done):
            self._start_chunk(address, chunks, chunk, node.generation or 0)

    def stop_chunks(self, node: NodeRecord, run_id: str, reason: str) -> None:
        """Stops the chunk each lane is on (the run is ending; its items are cancelled).
        StopExecution does not serve Express executions: an Express chunk's items see the run
        settling at their next step and end, and the chunk starts no further chunk."""
        chunks = _plan_of(node)
        if chunks is None or chunks.express:
            return
        for chunk in chunks.running(node.chunks_done):
            executions.stop_items(
                self.deps.items_state_machine_arn,
                run_id,
                node.ref,
                chunk,
                reason,
                node.generation or 0,
            )

    def _start_chunk(
        self, address: NodeAddress, chunks: FanOutPlan, chunk: int, generation: int = 0
    ) -> bool:
        """A chunk's execution, named for the redrive the node runs in (``generation``).
        Whether it was started (an Express chunk started less than 6 minutes ago is not)."""
        logger.info("items chunk starts", extra={"chunk": chunk, "chunks": chunks.chunks})
        if chunks.express:
            return self._start_express_chunk(address, chunks, chunk, generation)
        executions.start_items(
            self.deps.items_state_machine_arn,
            address.org_id,
            address.run_id,
            address.ref,
            chunk,
            chunks.indices(chunk),
            chunks.concurrency(chunk),
            generation,
        )
        return True

    def _start_express_chunk(
        self,
        address: NodeAddress,
        chunks: FanOutPlan,
        chunk: int,
        generation: int,
        at: datetime | None = None,
    ) -> bool:
        """Claims the chunk's start on the node (one of the steps that would start it wins),
        then starts it; a start that fails drops the claim, so that its retry starts it."""
        org_id, run_id, ref = address.org_id, address.run_id, address.ref
        at = at or now()
        started_at, stale = iso(at), iso(at - timedelta(seconds=EXPRESS_RESTART_SECONDS))
        key = _start_key(generation, chunk)
        if not self.store.nodes.claim_chunk_start(org_id, run_id, ref, key, started_at, stale):
            return False
        try:
            executions.start_items_express(
                self.deps.items_express_state_machine_arn,
                org_id,
                run_id,
                ref,
                chunk,
                chunks.indices(chunk),
                chunks.concurrency(chunk),
                started_at,
                generation,
            )
        except Exception:
            self.store.nodes.release_chunk_start(org_id, run_id, ref, key, started_at)
            raise
        return True

    @staticmethod
    def _all_done(node: NodeRecord, chunks: FanOutPlan) -> bool:
        return len(node.chunks_done) >= chunks.chunks

    def item_attempt(self, address: NodeAddress, owner: str | None = None) -> dict[str, Any]:
        """One attempt of one for_each item, with the node's retry policy. ``owner``: the id
        of the Express chunk execution the step runs in; an action item's attempt then delivers
        within this step (``ActionSteps.attempt_now``)."""
        org_id, run_id, ref, index = address.org_id, address.run_id, address.ref, address.index
        item = self.store.nodes.get_item(org_id, run_id, ref, index)
        if item.status in NODE_TERMINAL:
            return DONE
        address = rebased(address, item.attempt_base)
        tried = item.attempt_record(address.attempt)
        if tried is not None and tried.status == "retry_scheduled" and tried.available_at:
            # A replay of an attempt that already scheduled its retry: wait as it said.
            return again_at(address.attempt, tried.available_at)
        run = self.store.runs.get_run(org_id, run_id)
        # Items of a chunk that started before a pause go on; later chunks are held.
        if run.status not in RUN_EXECUTING or run.settle_requested_at:
            self.store.nodes.cancel_item(org_id, run_id, ref, index, "the run is settling")
            return DONE
        compiled = self.deps.workflow(org_id, run)
        spec = compiled.specs[ref]
        context = {
            **self._items_context(RunView(org_id, run_id, run, compiled), ref),
            "item": self.store.payloads.read(item.item),
            "index": index,
        }
        if spec.kind != NodeKind.ACTION:
            # A transform item's attempt starts and ends within this step: its end records it
            # whole, in one conditional write instead of a start and an end.
            return self.attempts.try_once(address, spec, context, opening=True) or DONE
        if owner is not None:
            return self.actions.attempt_now(address, spec, context, owner)
        if not self.store.nodes.start_attempt(
            org_id, run_id, ref, address.attempt, attempt_deadline(spec), index=index
        ):
            return DONE
        return self.actions.start(address, run, spec, context)

    def _items_context(self, view: RunView, ref: str) -> dict[str, Any]:
        """The run's input and the node's ancestors' outcomes, read once per process and node
        when every ancestor has settled (kept for the last few nodes only: outputs are large)."""
        key = (view.org_id, view.run_id, view.run.generation, ref)
        with self._contexts_lock:
            found = self._contexts.get(key)
            if found is not None:
                self._contexts.move_to_end(key)
                return found
        context = self.advance.context(view, ref)
        if all(r in view.known for r in view.compiled.ancestors(ref)):
            with self._contexts_lock:
                self._contexts[key] = context
                while len(self._contexts) > CACHED_CONTEXTS:
                    self._contexts.popitem(last=False)
        return context

    def item_crashed(self, address: NodeAddress, error: str, cause: str) -> dict[str, Any]:
        """An item's attempt step kept failing: the item fails (and so, later, the node)."""
        self.attempts.record_crash(address, error, cause)
        return DONE

    def collect_items(self, address: NodeAddress) -> dict[str, Any]:
        """After the Map: the node's output is the ordered list of item results."""
        org_id, run_id, ref = address.org_id, address.run_id, address.ref
        node = self.store.runs.get_node(org_id, run_id, ref)
        if node.status in NODE_TERMINAL:
            self.advance.settled(org_id, run_id, [(ref, node.status)])
            return DONE
        address = replace(address, attempt=max(node.attempt, 1))  # its one attempt (per redrive)
        records = self.store.nodes.list_items(org_id, run_id, ref)
        unfinished = [r for r in records if r.status != NodeStatus.SUCCEEDED]
        if unfinished:
            first = unfinished[0]
            error = first.error or {"type": "ItemFailed", "message": first.status}
            message = f"item {first.index}: {error.get('message', '')}"
            # Counted already: each item's attempts are the node's attempts.
            return self.attempts.fail(address, None, error.get("type", "ItemFailed"), message)
        outputs = [self.store.payloads.read(r.output) for r in records]
        over = output_over_quota(outputs)  # each item's output was within it; all together?
        if over is not None:
            return self.attempts.fail(address, None, "QuotaExceeded", over)
        attempt = address.attempt
        self.store.nodes.settle_node(org_id, run_id, ref, attempt, NodeStatus.SUCCEEDED, outputs)
        return self.advance.node_changed(address)


def _plan_of(node: NodeRecord) -> FanOutPlan | None:
    """The chunks the node's items run in, as fan_out planned them; None before it did."""
    if not node.item_count or not node.chunk_size or not node.chunk_lanes:
        return None
    machine = EXPRESS if node.chunk_machine == EXPRESS else STANDARD
    return FanOutPlan(
        node.item_count, node.chunk_size, node.chunk_lanes, node.max_concurrency or 1, machine
    )


def _start_key(generation: int, chunk: int) -> str:
    """Where the node keeps when a chunk of a redrive's generation last started."""
    return f"{generation}.{chunk}"
