"""for_each nodes: one record per item, a Map over their indices where each item has its own
attempts, then the node's output collected in item order."""

from dataclasses import replace
from typing import Any

from stepwise.core.statuses import NODE_TERMINAL, NodeStatus, RunStatus
from stepwise.engine.address import NodeAddress
from stepwise.engine.advance import RunView
from stepwise.engine.attempts import StepFamily, attempt_deadline
from stepwise.engine.expressions import TemplateError
from stepwise.engine.shared import DONE, expression
from stepwise.workflows.models import NodeSpec

MAX_FOR_EACH_ITEMS = 10_000  # keeps the Map's list of indices far below the 256 KB state limit


class ForEachSteps(StepFamily):
    """The fan-out, each item's attempt (``item_attempt``, ``item_crashed``), ``collect_items``."""

    def fan_out(
        self, address: NodeAddress, expires_at: int, spec: NodeSpec, context: dict[str, Any]
    ) -> dict[str, Any]:
        """One record per item, then a Map over their indices (references only)."""
        org_id, run_id = address.org_id, address.run_id
        node = replace(address, attempt=1)  # the node has one attempt: its items retry
        try:
            values = expression(spec.for_each or "", context)
        except TemplateError as exc:
            return self.attempts.fail(node, spec.kind, "ExpressionError", str(exc))
        if not isinstance(values, list):
            message = f"for_each gave {type(values).__name__}, not a list"
            return self.attempts.fail(node, spec.kind, "ExpressionError", message)
        if len(values) > MAX_FOR_EACH_ITEMS:
            message = f"for_each gave {len(values)} items; at most {MAX_FOR_EACH_ITEMS} are allowed"
            return self.attempts.fail(node, spec.kind, "TooManyItems", message)
        if not values:
            self.store.nodes.settle_node(org_id, run_id, spec.ref, 1, NodeStatus.SUCCEEDED, [])
            self.advance.settled(org_id, run_id, [(spec.ref, NodeStatus.SUCCEEDED)])
            return DONE
        self.store.nodes.create_items(org_id, run_id, spec.ref, values, expires_at)
        return {
            "next": "map",
            "indices": list(range(len(values))),
            "max_concurrency": spec.max_concurrency,
        }

    def item_attempt(self, address: NodeAddress) -> dict[str, Any]:
        """One attempt of one for_each item, with the node's retry policy."""
        org_id, run_id, ref, index = address.org_id, address.run_id, address.ref, address.index
        item = self.store.nodes.get_item(org_id, run_id, ref, index)
        if item.status in NODE_TERMINAL:
            return DONE
        run = self.store.runs.get_run(org_id, run_id)
        if run.status != RunStatus.RUNNING or run.settle_requested_at:
            self.store.nodes.cancel_item(org_id, run_id, ref, index, "the run is settling")
            return DONE
        compiled = self.deps.workflow(org_id, run)
        spec = compiled.specs[ref]
        context = self.advance.context(RunView(org_id, run_id, run, compiled), ref)
        context.update(item=self.store.payloads.read(item.item), index=index)
        if not self.store.nodes.start_attempt(
            org_id, run_id, ref, address.attempt, attempt_deadline(spec), index=index
        ):
            return DONE
        return self.attempts.try_once(address, spec, context) or DONE

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
        records = self.store.nodes.list_items(org_id, run_id, ref)
        unfinished = [r for r in records if r.status != NodeStatus.SUCCEEDED]
        if unfinished:
            first = unfinished[0]
            error = first.error or {"type": "ItemFailed", "message": first.status}
            message = f"item {first.index}: {error.get('message', '')}"
            # Counted already: each item's attempts are the node's attempts.
            return self.attempts.fail(address, None, error.get("type", "ItemFailed"), message)
        outputs = [self.store.payloads.read(r.output) for r in records]
        self.store.nodes.settle_node(org_id, run_id, ref, 1, NodeStatus.SUCCEEDED, outputs)
        return self.advance.node_changed(address)
