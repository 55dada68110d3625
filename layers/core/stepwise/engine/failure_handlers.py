"""Failure handlers: when a run of a workflow with ``on_failure`` ends ``failed`` or
``timed_out``, ``finalize_run`` calls ``FailureHandlers.after_finish`` and a run of the handler
workflow starts with the failed run in its input (docs/engine.md, "Failure handlers").

- Its id is ``{failed run}-handler-{failure}``: deterministic, so a replayed finalize finds the
  run it started instead of starting a second. ``failure`` is the failed run's redrive count
  plus one (a run redriven and failing again is its next failure); ``-`` after the run's id can
  be neither a child run's ``.{ref}.{attempt}`` nor a batch run's ``.{index}``, and no run id
  the service makes holds ``-handler-`` before its last ``.``.
- It has role ``handler`` and ``handles_run_id``; the failed run lists it in
  ``handler_run_ids``. A handler run's own failure starts nothing (no handler of a handler).
- It counts as a descendant of the failed run's root run (``descendants_per_run``), so a
  handler workflow whose child runs fail and start handlers in turn ends at that quota. It does
  not check ``open_runs_per_org``: the failed run has just left the open runs, and a handler
  refused because the org is busy would be lost exactly when it matters.
- Starting it never fails the finalize: what went wrong is kept on the failed run as
  ``handler_error`` and logged.
"""

from typing import Any

from stepwise.batches.store import RunExists, new_run
from stepwise.core.errors import NotFound, QuotaExceeded, ServiceUnavailable
from stepwise.core.observability import logger
from stepwise.core.statuses import NodeStatus, RunStatus
from stepwise.engine.compiled import CompiledWorkflow
from stepwise.engine.expressions import TemplateError, render
from stepwise.engine.shared import EngineDeps
from stepwise.runs import quotas, run_queue, starts
from stepwise.runs.records import NodeRecord, RunRecord
from stepwise.workflows.models import OnFailure

HANDLER_ROLE = "handler"
HANDLED_STATUSES = (RunStatus.FAILED, RunStatus.TIMED_OUT)  # not cancelled: a person chose it


def handler_run_id(run_id: str, failure: int) -> str:
    """The handler run of the run's ``failure``-th failure (1 for the first)."""
    return f"{run_id}-handler-{failure}"


def failure_number(run: RunRecord) -> int:
    """Which failure of the run this is: one more than its redrives (each redrive of a failed
    run can end in a failure of its own)."""
    return (run.redrive_count or 0) + 1


def failure_context(
    run: RunRecord, nodes: list[NodeRecord], compiled: CompiledWorkflow
) -> dict[str, Any]:
    """What ``on_failure.input`` renders over, and the handler's input when it has none. The
    failed nodes are those that failed the run (no error edge or fallback took their failure),
    in the order they failed."""
    failed = sorted(
        (n for n in nodes if n.status == NodeStatus.FAILED and n.ref not in compiled.handled),
        key=lambda n: n.finished_at or "",
    )
    return {
        "run": {
            "id": run.run_id,
            "status": run.status,
            "workflow_id": run.workflow_id,
            "version": run.workflow_version,
            "error": run.error,
            "failed_nodes": [{"ref": n.ref, "error": n.error} for n in failed],
            "tags": dict(run.tags),
        }
    }


class HandlerNotStarted(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class FailureHandlers:
    def __init__(self, deps: EngineDeps):
        self.deps = deps
        self.store = deps.store

    def after_finish(self, run: RunRecord, nodes: list[NodeRecord] | None = None) -> str | None:
        """Starts the handler of the run's failure if it has one and it is not started yet; its
        id, or None. Never raises: a handler that cannot start is recorded on the run.
        ``nodes``: the run's nodes as the step that finished it read them (else read here)."""
        if run.status not in HANDLED_STATUSES or run.role == HANDLER_ROLE:
            return None
        on_failure = self.deps.workflow(run.org_id, run).workflow.on_failure
        if on_failure is None:
            return None
        handler_id = handler_run_id(run.run_id, failure_number(run))
        try:
            self._start(run, on_failure, handler_id, nodes)
        except HandlerNotStarted as exc:
            self._not_started(run, handler_id, exc.kind, str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 (the finalize goes on; the error is on the run)
            logger.exception("failure handler not started", extra={"handler_run_id": handler_id})
            self._not_started(run, handler_id, type(exc).__name__, str(exc))
            return None
        return handler_id

    def _start(
        self,
        run: RunRecord,
        on_failure: OnFailure,
        handler_id: str,
        nodes: list[NodeRecord] | None,
    ) -> None:
        org_id = run.org_id
        try:
            existing = self.store.runs.get_run(org_id, handler_id)
        except NotFound:
            existing = self._create(run, on_failure, handler_id, nodes)
        if existing is not None and existing.status == RunStatus.QUEUED:
            # Created by a finalize that stopped before starting it: started by name, once.
            run_queue.start_run(self.deps.run_queue_url, org_id, handler_id)
        if handler_id not in run.handler_run_ids:
            self.store.run_state.link_handler(org_id, run.run_id, handler_id)
        logger.info("failure handler started", extra={"handler_run_id": handler_id})

    def _create(
        self,
        run: RunRecord,
        on_failure: OnFailure,
        handler_id: str,
        nodes: list[NodeRecord] | None,
    ) -> None:
        """Creates and starts the handler run (None: nothing is left to start)."""
        org_id = run.org_id
        try:
            workflow = self.store.workflows.get_workflow(org_id, on_failure.workflow_id)
        except NotFound as exc:
            raise HandlerNotStarted("WorkflowNotFound", str(exc)) from None
        compiled = self.deps.workflow(org_id, run)
        if nodes is None:
            _, nodes = self.store.runs.get_run_with_nodes(org_id, run.run_id)
        context = failure_context(run, nodes, compiled)
        try:
            handler_input = (
                context if on_failure.input is None else render(on_failure.input, context)
            )
        except TemplateError as exc:
            raise HandlerNotStarted("ExpressionError", str(exc)) from None
        origin = {
            "role": HANDLER_ROLE,
            "handles_run_id": run.run_id,
            "created_by": f"run:{run.run_id}",
            "root_run_id": run.root_run_id or run.run_id,
        }
        if run.created_by_key:  # the key that may not review the failed run's approvals
            origin["created_by_key"] = run.created_by_key
        try:
            quotas.check_run_input(handler_input)
            with new_run():
                starts.start_workflow_run(
                    self.store,
                    self.deps.run_queue_url,
                    org_id,
                    handler_id,
                    workflow,
                    handler_input,
                    origin,
                )
        except QuotaExceeded as exc:
            raise HandlerNotStarted("QuotaExceeded", str(exc)) from None
        except ServiceUnavailable:
            # The handler run exists and ended failed (RunStartFailed): linked, so it is seen.
            self.store.run_state.link_handler(org_id, run.run_id, handler_id)
            message = f"handler run {handler_id} could not be started"
            raise HandlerNotStarted("RunStartFailed", message) from None
        except RunExists:  # another finalize of the same run created it meanwhile
            pass

    def _not_started(self, run: RunRecord, handler_id: str, kind: str, message: str) -> None:
        logger.error(
            "failure handler not started",
            extra={"handler_run_id": handler_id, "error": kind, "reason": message},
        )
        error = {"type": kind, "message": message, "handler_run_id": handler_id}
        try:
            self.store.run_state.record_handler_error(run.org_id, run.run_id, error)
        except Exception:  # noqa: BLE001 (logged; the finalize goes on)
            logger.exception("could not record the failure handler's error")
