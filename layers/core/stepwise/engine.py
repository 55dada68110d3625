"""What each state-machine step decides. Every step tolerates being run twice.

RunStateMachine: ``start_run`` (stores the resume token, starts the roots) then ``finalize_run``.
NodeStateMachine: ``attempt`` (runs the node, records the outcome, starts ready successors) in a
retry loop; ``node_crashed`` when the attempt step itself keeps failing.
"""

import json
from datetime import timedelta
from functools import lru_cache
from typing import Any

from stepwise import executions, graph
from stepwise.clock import iso, now
from stepwise.executors import NodeFailure, execute
from stepwise.expressions import TemplateError, render
from stepwise.models import NodeSpec, Workflow
from stepwise.observability import logger
from stepwise.retries import retry_delay
from stepwise.statuses import NODE_TERMINAL, RUN_TERMINAL, NodeStatus, RunStatus
from stepwise.store import Store

DONE = {"next": "done"}


class CompiledWorkflow:
    """A workflow version with its graph worked out once (versions are immutable, so cacheable)."""

    def __init__(self, workflow: Workflow):
        self.workflow = workflow
        self.specs: dict[str, NodeSpec] = {node.ref: node for node in workflow.nodes}
        self.parents = {node.ref: list(dict.fromkeys(node.depends_on)) for node in workflow.nodes}
        self.roots = graph.roots(self.parents)
        self.leaves = graph.leaves(self.parents)

    def ancestors(self, ref: str) -> list[str]:
        seen: dict[str, None] = {}
        stack = list(self.parents[ref])
        while stack:
            parent = stack.pop()
            if parent not in seen:
                seen[parent] = None
                stack.extend(self.parents[parent])
        return list(seen)


class Engine:
    def __init__(self, store: Store, node_state_machine_arn: str):
        self.store = store
        self.node_state_machine_arn = node_state_machine_arn
        self._compiled = lru_cache(maxsize=256)(self._compile)

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """Dispatches a state-machine step event to its method."""
        step = event.get("step")
        org_id, run_id = event["org_id"], event["run_id"]
        logger.append_keys(org_id=org_id, run_id=run_id, node_ref=event.get("node_ref"), step=step)
        if step == "start_run":
            return self.start_run(org_id, run_id, event["task_token"])
        if step == "attempt":
            return self.attempt(org_id, run_id, event["node_ref"], int(event["attempt"]))
        if step == "node_crashed":
            return self.node_crashed(
                org_id,
                run_id,
                event["node_ref"],
                int(event["attempt"]),
                event.get("error") or "States.Runtime",
                event.get("cause") or "",
            )
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
        for ref in self._workflow(org_id, run).roots:
            self._schedule(org_id, run_id, ref)
        return {}

    def finalize_run(self, org_id: str, run_id: str, settle: dict[str, Any]) -> dict[str, Any]:
        """Decides the final status from the nodes, cancels what is left, records it."""
        reason = settle.get("reason", "settled")
        run = self.store.get_run(org_id, run_id)
        if run["status"] in RUN_TERMINAL:
            return {"status": run["status"]}
        # Stop new scheduling first, so that the node list read next is the final one.
        self.store.request_settle(org_id, run_id, reason)
        run, nodes = self.store.get_run_with_nodes(org_id, run_id)
        for node in nodes:
            if node["status"] in (NodeStatus.SCHEDULED, NodeStatus.RUNNING):
                executions.stop_node(self.node_state_machine_arn, run_id, node["ref"], reason)
            if node["status"] not in NODE_TERMINAL:
                self.store.cancel_node(org_id, run_id, node["ref"], f"run ended ({reason})")
        status, output, error = self._outcome(org_id, run, nodes, settle)
        self.store.finish_run(org_id, run_id, status, output, error)
        logger.info("run finished", extra={"status": str(status)})
        return {"status": str(status)}

    def _outcome(
        self, org_id: str, run: dict[str, Any], nodes: list[dict[str, Any]], settle: dict[str, Any]
    ) -> tuple[RunStatus, Any, dict[str, Any] | None]:
        failed = sorted(
            (n for n in nodes if n["status"] == NodeStatus.FAILED),
            key=lambda n: n.get("finished_at", ""),
        )
        if failed:
            first = failed[0]
            error = dict(first.get("error") or {"type": "NodeFailed", "message": ""})
            return RunStatus.FAILED, None, {**error, "node": first["ref"]}
        reason = settle.get("reason")
        if reason == "timed_out":
            message = f"the run did not finish within {int(run['timeout'])} s"
            return RunStatus.TIMED_OUT, None, {"type": "RunTimedOut", "message": message}
        if reason == "crashed":
            error = {"type": settle.get("error", "States.Runtime"), "message": _cause(settle)}
            return RunStatus.FAILED, None, error
        if any(n["status"] != NodeStatus.SUCCEEDED for n in nodes):
            message = "the run settled before all nodes succeeded"
            return RunStatus.FAILED, None, {"type": "Incomplete", "message": message}
        compiled = self._workflow(org_id, run)
        outputs = {n["ref"]: self.store.payloads.load(n, "output") for n in nodes}
        try:
            return RunStatus.SUCCEEDED, self._run_output(compiled, run, outputs), None
        except TemplateError as exc:
            return RunStatus.FAILED, None, {"type": "ExpressionError", "message": str(exc)}

    def _run_output(
        self, compiled: CompiledWorkflow, run: dict[str, Any], outputs: dict[str, Any]
    ) -> Any:
        returns = compiled.workflow.returns
        if returns is None:
            return {ref: outputs[ref] for ref in compiled.leaves}
        context = {
            "input": self.store.payloads.load(run, "input"),
            "nodes": {ref: {"output": value} for ref, value in outputs.items()},
        }
        return render(returns, context)

    # -- the node machine -----------------------------------------------------------------------

    def attempt(self, org_id: str, run_id: str, ref: str, attempt: int) -> dict[str, Any]:
        """Runs one attempt of a node and records what follows from it."""
        node = self.store.get_node(org_id, run_id, ref)
        if node["status"] in NODE_TERMINAL:
            self._after_settle(org_id, run_id, node)  # a replay: finish what may not have happened
            return DONE
        if not self.store.start_attempt(org_id, run_id, ref, attempt):
            logger.info("stale attempt ignored", extra={"attempt": attempt})
            return DONE
        run = self.store.get_run(org_id, run_id)
        if run["status"] != RunStatus.RUNNING or run.get("settle_requested_at"):
            self.store.cancel_node(org_id, run_id, ref, "the run is settling")
            self._after_settle(org_id, run_id, self.store.get_node(org_id, run_id, ref))
            return DONE
        compiled = self._workflow(org_id, run)
        spec = compiled.specs[ref]
        try:
            output = execute(spec, self._context(org_id, run_id, run, compiled, ref))
        except NodeFailure as failure:
            delay = retry_delay(spec.retry, attempt) if failure.retryable else None
            if delay is not None:
                available_at = iso(now() + timedelta(seconds=delay))
                self.store.schedule_retry(
                    org_id, run_id, ref, attempt, failure.as_error(), available_at
                )
                return {"next": "retry", "attempt": attempt + 1, "wait_seconds": delay}
            self.store.settle_node(
                org_id, run_id, ref, attempt, NodeStatus.FAILED, error=failure.as_error()
            )
        else:
            self.store.settle_node(org_id, run_id, ref, attempt, NodeStatus.SUCCEEDED, output)
        self._after_settle(org_id, run_id, self.store.get_node(org_id, run_id, ref))
        return DONE

    def node_crashed(
        self, org_id: str, run_id: str, ref: str, attempt: int, error: str, cause: str
    ) -> dict[str, Any]:
        """The attempt step kept failing: the node fails so that the run does not hang."""
        message = _cause({"cause": cause}) or error
        self.store.start_attempt(org_id, run_id, ref, attempt)
        self.store.settle_node(
            org_id,
            run_id,
            ref,
            attempt,
            NodeStatus.FAILED,
            error={"type": error, "message": message},
        )
        node = self.store.get_node(org_id, run_id, ref)
        if node["status"] in NODE_TERMINAL:
            self._after_settle(org_id, run_id, node)
        return DONE

    # -- shared steps ---------------------------------------------------------------------------

    def _after_settle(self, org_id: str, run_id: str, node: dict[str, Any]) -> None:
        """Starts the successors a settled node made ready, then tells the run (idempotent)."""
        ref, status = node["ref"], node["status"]
        if status == NodeStatus.SUCCEEDED:
            for child in node.get("children", []):
                item = self.store.record_parent_outcome(
                    org_id, run_id, child, ref, NodeStatus.SUCCEEDED
                )
                if set(item.get("parents", [])) <= set(item.get("succeeded_parents", set())):
                    self._schedule(org_id, run_id, child)
        # Children are scheduled before this node counts as settled, so the run cannot settle
        # in between.
        run = self.store.record_node_settled(org_id, run_id, ref)
        if status == NodeStatus.FAILED:
            self._settle_run(org_id, run_id, "node_failed")
        elif len(run.get("settled_nodes", ())) >= int(run["node_count"]):
            self._settle_run(org_id, run_id, "all_nodes_settled")

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
    ) -> dict[str, Any]:
        """What a node's templates see: the run input and its ancestors' outcomes."""
        ancestors = self.store.get_nodes(org_id, run_id, compiled.ancestors(ref))
        nodes = {
            item["ref"]: {
                "output": self.store.payloads.load(item, "output"),
                "error": item.get("error"),
            }
            for item in ancestors
        }
        return {"input": self.store.payloads.load(run, "input"), "nodes": nodes}

    def _workflow(self, org_id: str, run: dict[str, Any]) -> CompiledWorkflow:
        return self._compiled(org_id, run["workflow_id"], int(run["workflow_version"]))

    def _compile(self, org_id: str, workflow_id: str, version: int) -> CompiledWorkflow:
        return CompiledWorkflow(self.store.get_workflow(org_id, workflow_id, version))


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
