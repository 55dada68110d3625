"""What the engine's step families share: their dependencies, the answer that ends a node's
execution, and small helpers for expressions, waits and errors."""

import json
from functools import lru_cache
from typing import Any

from stepwise.actions.definitions import ActionDefinitions
from stepwise.core import metrics
from stepwise.core.statuses import NodeKind
from stepwise.engine.address import NodeAddress
from stepwise.engine.compiled import CompiledWorkflow
from stepwise.engine.expressions import TemplateError, evaluate, single_expression
from stepwise.infra import executions
from stepwise.runs.logs import LogLevel, RunLogs
from stepwise.runs.records import RunRecord
from stepwise.store import Store

DONE = {"next": "done"}
CHILD_TIMEOUT_MARGIN_SECONDS = 60  # the child's own timeout fires first and reports why


class EngineDeps:
    """The store, the settings and the compiled-workflow cache that every step family uses."""

    def __init__(
        self,
        store: Store,
        definitions: ActionDefinitions,
        node_state_machine_arn: str,
        run_queue_url: str,
        logs: RunLogs | None = None,
        event_bus_name: str | None = None,
        items_state_machine_arn: str = "",
        items_express_state_machine_arn: str = "",
        node_express_state_machine_arn: str = "",
    ):
        self.store = store
        self.definitions = definitions
        self.node_state_machine_arn = node_state_machine_arn
        self.run_queue_url = run_queue_url
        self.items_state_machine_arn = items_state_machine_arn  # for_each chunks
        # for_each chunks that fit in 5 minutes ("" keeps every chunk Standard)
        self.items_express_state_machine_arn = items_express_state_machine_arn
        self.node_express_state_machine_arn = node_express_state_machine_arn
        self.logs = logs
        self.event_bus_name = event_bus_name
        self._compiled = lru_cache(maxsize=256)(self._compile)

    def workflow(self, org_id: str, run: RunRecord) -> CompiledWorkflow:
        return self._compiled(org_id, run.workflow_id, run.workflow_version)

    def _compile(self, org_id: str, workflow_id: str, version: int) -> CompiledWorkflow:
        return CompiledWorkflow(self.store.workflows.get_workflow(org_id, workflow_id, version))

    def runs_express(self, compiled: CompiledWorkflow, ref: str) -> bool:
        """Whether the node runs as an Express execution (chosen when its version was saved)."""
        return bool(self.node_express_state_machine_arn) and ref in compiled.express_nodes

    def start_node(
        self, org_id: str, run_id: str, ref: str, generation: int, express: bool, attempt: int = 1
    ) -> None:
        """Starts the node's execution on its machine (``attempt``: where a restart goes on)."""
        if express:
            executions.start_express_node(
                self.node_express_state_machine_arn, org_id, run_id, ref, generation, attempt
            )
        else:
            executions.start_node(self.node_state_machine_arn, org_id, run_id, ref, generation)

    def log(self, address: NodeAddress, level: LogLevel, message: str) -> None:
        """A line in the run's log, for what a caller would look for (never the happy path)."""
        if self.logs is not None:
            self.logs.write(address.org_id, address.run_id, level, message, address.ref, "engine")

    def log_failure(self, address: NodeAddress, kind: str, message: str) -> None:
        text = f"{address.where}: attempt {address.attempt} failed for good ({kind}: {message})"
        self.log(address, LogLevel.ERROR, text)


def count_attempt(org_id: str, kind: NodeKind, failed: bool) -> None:
    """An attempt ended (exactly once: its conditional write won); a failure if it failed,
    whether it is tried again or not."""
    metrics.count(metrics.Metric.NODE_ATTEMPTS, org_id, Kind=str(kind))
    if failed:
        metrics.count(metrics.Metric.NODE_FAILURES, org_id, Kind=str(kind))


def run_wait_bound(run: RunRecord) -> int:
    """The longest any task of the run may wait: the run's own timeout fires first."""
    return run.timeout + CHILD_TIMEOUT_MARGIN_SECONDS


def expression(template: str, context: dict[str, Any]) -> Any:
    found = single_expression(template)
    if found is None:  # refused at save time; kept as a guard
        raise TemplateError(template, "must be one expression in the form '{{ expr }}'")
    return evaluate(found, context)


def truthy(value: Any) -> bool:
    """JMESPath truthiness: false, null, "", [] and {} are false."""
    return value not in (False, None, "", [], {})


def cause_message(settle: dict[str, Any]) -> str:
    """The readable message inside a Step Functions error cause (often a Lambda error JSON)."""
    cause = settle.get("cause") or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict):
        return str(parsed.get("errorMessage") or parsed.get("message") or cause)
    return cause
