"""Workflow nodes: an attempt starts a child run, waits for it, and ends as the child ended."""

import contextlib
from typing import Any

from stepwise.core import metrics
from stepwise.core.errors import Conflict, NotFound, QuotaExceeded, ValidationFailed
from stepwise.core.ids import child_run_id
from stepwise.core.statuses import NODE_TERMINAL, RUN_TERMINAL, RunStatus
from stepwise.engine.address import NodeAddress
from stepwise.engine.attempts import StepFamily
from stepwise.engine.executors import NodeFailure
from stepwise.engine.expressions import TemplateError, render
from stepwise.engine.shared import CHILD_TIMEOUT_MARGIN_SECONDS, DONE
from stepwise.infra import executions
from stepwise.runs import cancel, quotas, redrive, run_queue
from stepwise.runs.records import RunRecord
from stepwise.workflows.models import NodeSpec

MAX_CHILD_DEPTH = 10  # a workflow that starts itself must not recurse without end


class ChildSteps(StepFamily):
    """A workflow attempt's start, its wait (``await_child``) and its end (``child_settled``)."""

    def start(
        self, address: NodeAddress, run: RunRecord, spec: NodeSpec, context: dict[str, Any]
    ) -> dict[str, Any]:
        """Creates the attempt's child run; the machine then waits for it (AwaitChild)."""
        org_id, run_id, attempt = address.org_id, address.run_id, address.attempt
        try:
            args = render(spec.args, context)
        except TemplateError as exc:
            return self.attempts.fail(address, spec.kind, "ExpressionError", str(exc))
        workflow_id = args.get("workflow_id") if isinstance(args, dict) else None
        if not isinstance(workflow_id, str):
            message = "args.workflow_id must give the child workflow's id"
            return self.attempts.fail(address, spec.kind, "InvalidArgs", message)
        depth = int(run.depth or 0) + 1
        if depth > MAX_CHILD_DEPTH:
            message = f"child runs nest deeper than {MAX_CHILD_DEPTH} levels"
            return self.attempts.fail(address, spec.kind, "MaxDepthExceeded", message)
        try:
            workflow = self.store.workflows.get_workflow(org_id, workflow_id, args.get("version"))
        except NotFound as exc:
            return self.attempts.fail(address, spec.kind, "WorkflowNotFound", str(exc))
        child_id = self._redriven_child(address) or child_run_id(run_id, spec.ref, attempt)
        if not self.store.runs.run_exists(org_id, child_id):
            parent = {
                "parent_run_id": run_id,
                "parent_node_ref": spec.ref,
                "depth": depth,
                "root_run_id": run.root_run_id or run_id,
                "role": "parent",
                "created_by": f"run:{run_id}",
            }
            try:
                quotas.check_run_input(args.get("input"))
                # Child runs are open runs too: without this, every root an org may have open
                # could start descendants_per_run more, far past the org's quota.
                quotas.check_open_runs(self.store, org_id)
                self.store.runs.create_run(org_id, child_id, workflow, args.get("input"), parent)
            except QuotaExceeded as exc:
                return self.attempts.fail(address, spec.kind, "QuotaExceeded", str(exc))
            metrics.count(metrics.Metric.RUNS_STARTED, org_id)
        self.store.nodes.set_child_run(org_id, run_id, spec.ref, attempt, child_id)
        timeout = spec.retry.timeout or workflow.timeout + CHILD_TIMEOUT_MARGIN_SECONDS
        return {
            "next": "child",
            "attempt": attempt,
            "child_run_id": child_id,
            "timeout_seconds": timeout,
        }

    def _redriven_child(self, address: NodeAddress) -> str | None:
        """On the first attempt of a redrive, the node's failed child run, redriven (its
        succeeded nodes are not run again); None to start a fresh child."""
        if not address.base or address.attempt != address.base + 1:
            return None
        org_id, run_id = address.org_id, address.run_id
        child_id = self.store.runs.get_node(org_id, run_id, address.ref).redrive_child
        if child_id is None:
            return None
        try:
            redrive.redrive_run(
                self.store,
                org_id,
                child_id,
                run_queue_url=None,  # AwaitChild starts it
                actor=f"run:{run_id}",
                reason=f"its parent run {run_id} was redriven",
            )
        except Conflict:
            pass  # a replay: redriven already (AwaitChild starts it, or hears it has ended)
        except (NotFound, ValidationFailed):
            return None
        return child_id

    def await_child(
        self, org_id: str, run_id: str, child_id: str, task_token: str
    ) -> dict[str, Any]:
        """Stores the parent's token on the child run, then starts the child's execution."""
        child = self.store.run_state.store_parent_token(org_id, child_id, task_token)
        if child.status in RUN_TERMINAL:
            executions.resume_run(task_token, child.status)
            return {}
        run_queue.start_run(self.deps.run_queue_url, org_id, child_id, child.generation)
        return {}

    def child_settled(
        self, address: NodeAddress, child_id: str, timed_out: bool = False
    ) -> dict[str, Any]:
        """The child run ended (or the attempt timed out): the node's attempt ends with it."""
        org_id, run_id, ref = address.org_id, address.run_id, address.ref
        node = self.store.runs.get_node(org_id, run_id, ref)
        if node.status in NODE_TERMINAL:
            self.advance.settled(org_id, run_id, [(ref, node.status)])
            return DONE
        run = self.store.runs.get_run(org_id, run_id)
        spec = self.deps.workflow(org_id, run).specs[ref]
        child = self.store.runs.get_run(org_id, child_id)
        if child.status == RunStatus.SUCCEEDED:
            output = self.store.payloads.read(child.output)
            self.attempts.succeeded(address, spec, output)
        else:
            if timed_out and child.status not in RUN_TERMINAL:
                self.cancel_child(org_id, child_id, "the parent's attempt timed out")
                failure = NodeFailure("Timeout", f"child run {child_id} did not finish in time")
            else:
                error = child.error or {}
                message = f"child run {child_id} {child.status}: {error.get('message', '')}"
                failure = NodeFailure("ChildRunFailed", message)
            outcome = self.attempts.failed(address, spec, failure)
            if outcome is not None:
                return outcome
        return self.advance.node_changed(address)

    def cancel_child(self, org_id: str, child_id: str, reason: str) -> None:
        # Already ended or finishing, or never created: nothing to stop.
        with contextlib.suppress(Conflict, NotFound):
            cancel.cancel_run(self.store, self.deps.run_queue_url, org_id, child_id, reason)
