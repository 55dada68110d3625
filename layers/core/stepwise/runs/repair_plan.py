"""Which nodes of a run a repair keeps and which run again (pure): the rules of a redrive (the
same run, resumed) and of a rerun (a new run from one node on). docs/engine.md, "Repairing
runs", gives the reasoning."""

from dataclasses import dataclass, field
from typing import Any

from stepwise.core.errors import field_error
from stepwise.core.statuses import NodeStatus
from stepwise.engine.compiled import CompiledWorkflow
from stepwise.runs.records import NodeRecord
from stepwise.workflows.models import NodeSpec

RUN_IF_SKIP = "run_if was false"
# The fields of a node that decide its output (or its skip, or that its failure is handled): a
# kept outcome stands on a new version only if they are the same there.
OUTPUT_FIELDS = (
    "kind",
    "action",
    "args",
    "for_each",
    "run_if",
    "join_strategy",
    "depends_on",
    "fallback",
)


@dataclass
class RepairPlan:
    """What a repair does with each node of the target version (and with the old ones)."""

    kept: dict[str, NodeRecord] = field(default_factory=dict)  # outcome stands
    again: dict[str, NodeRecord] = field(default_factory=dict)  # existing, run again
    added: list[str] = field(default_factory=list)  # new in the target version
    dropped: list[str] = field(default_factory=list)  # gone from the target version
    errors: list[dict[str, Any]] = field(default_factory=list)  # kept outcomes that do not fit


def plan_repair(
    old: CompiledWorkflow,
    target: CompiledWorkflow,
    nodes: dict[str, NodeRecord],
    input_replaced: bool,
    forced: frozenset[str] = frozenset(),
) -> RepairPlan:
    """Which outcomes stand. A node's outcome stands if it succeeded, if it failed and that
    failure was handled (an error edge or fallback acted on it), or if it was skipped by a
    decision that still holds (every parent's outcome stands and, for ``run_if``, the input and
    every ancestor's too). Everything else (unhandled failures, cancelled and never-reached
    nodes, skips that depended on them, and the ``forced`` nodes of a rerun) runs again. On
    another version, a kept node whose output fields changed there (``OUTPUT_FIELDS``) is an
    error: its output would not be what that version computes."""
    plan = RepairPlan(dropped=[ref for ref in nodes if ref not in target.specs])
    for ref in topological(target):
        node = nodes.get(ref)
        if node is None:
            plan.added.append(ref)
            continue
        if ref not in forced and _stands(ref, node, old, target, plan.kept, input_replaced):
            changed = changed_fields(old.specs.get(ref), target.specs[ref])
            if node.status == NodeStatus.FAILED and ref not in target.handled:
                changed.append("error edge")
            if changed:
                plan.errors.append(_unfit(ref, changed, target.workflow.version))
            plan.kept[ref] = node
        else:
            plan.again[ref] = node
    return plan


def rerun_forced(target: CompiledWorkflow, start: str) -> frozenset[str]:
    """What a rerun from ``start`` runs whatever its outcome was: it and everything downstream."""
    return frozenset(descendants(target, start) | {start})


def _stands(
    ref: str,
    node: NodeRecord,
    old: CompiledWorkflow,
    target: CompiledWorkflow,
    kept: dict[str, NodeRecord],
    input_replaced: bool,
) -> bool:
    if node.status == NodeStatus.SUCCEEDED:
        return True
    if node.status == NodeStatus.FAILED:
        return ref in old.handled
    if node.status != NodeStatus.SKIPPED:
        return False
    if any(parent not in kept for parent in target.parents[ref]):
        return False
    if node.skip_reason == RUN_IF_SKIP:
        return not input_replaced and all(a in kept for a in target.ancestors(ref))
    return True


def changed_fields(before: NodeSpec | None, after: NodeSpec) -> list[str]:
    """The output fields of a node that differ between two versions (all, if it is new)."""
    if before is None:
        return ["ref"]
    return [name for name in OUTPUT_FIELDS if _field(before, name) != _field(after, name)]


def _field(spec: NodeSpec, name: str) -> Any:
    value = getattr(spec, name)
    if name == "depends_on":
        return sorted(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


def _unfit(ref: str, changed: list[str], version: int) -> dict[str, Any]:
    message = (
        f"node {ref!r} keeps its outcome, which no longer fits version {version}: its "
        f"{', '.join(changed)} changed there (rerun from {ref!r} to run it again)"
    )
    return field_error(["body", "workflow_version", ref], message, "redrive_unfit")


def topological(compiled: CompiledWorkflow) -> list[str]:
    """The nodes, every parent before its children (workflows are acyclic)."""
    order: list[str] = []
    placed: set[str] = set()
    remaining = list(compiled.specs)
    while remaining:
        ready = [r for r in remaining if all(p in placed for p in compiled.parents[r])]
        for ref in ready:
            order.append(ref)
            placed.add(ref)
        remaining = [r for r in remaining if r not in placed]
        if not ready:  # refused at save time; kept as a guard
            raise ValueError("the workflow's graph has a cycle")
    return order


def descendants(compiled: CompiledWorkflow, ref: str) -> set[str]:
    """Every node downstream of ``ref`` (by any edge)."""
    found: set[str] = set()
    stack = [child for child, _ in compiled.outgoing[ref]]
    while stack:
        child = stack.pop()
        if child not in found:
            found.add(child)
            stack.extend(c for c, _ in compiled.outgoing[child])
    return found
