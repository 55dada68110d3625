"""A workflow version with its graph worked out once: what the engine's steps look up."""

from stepwise.engine.joins import Edge, EdgeKind
from stepwise.workflows import graph
from stepwise.workflows.models import NodeSpec, Workflow


class CompiledWorkflow:
    """A workflow version with its graph worked out once (versions are immutable, so cacheable)."""

    def __init__(self, workflow: Workflow):
        self.workflow = workflow
        self.specs: dict[str, NodeSpec] = {node.ref: node for node in workflow.nodes}
        self.positions = {node.ref: position for position, node in enumerate(workflow.nodes)}
        self.incoming: dict[str, list[Edge]] = graph.incoming_edges(workflow.nodes)
        self.edge_keys = {ref: {e.key for e in edges} for ref, edges in self.incoming.items()}
        self.outgoing: dict[str, list[tuple[str, Edge]]] = {ref: [] for ref in self.specs}
        for child, edges in self.incoming.items():
            for edge in edges:
                self.outgoing[edge.parent].append((child, edge))
        self.handled = {
            ref
            for ref, out in self.outgoing.items()
            if any(edge.kind == EdgeKind.ERROR for _, edge in out)
        }
        self.parents = {ref: [e.parent for e in edges] for ref, edges in self.incoming.items()}
        self.roots = graph.roots(self.parents)
        self.express_nodes = workflow.express_nodes  # workflows/machines.py
        self.leaves = graph.leaves(self.parents)

    def event_sources(self, ref: str) -> list[str]:
        """The nearest upstream nodes that emit events, through those that do not: whose
        events a node's event comes from (seed 003's previous_event_ids)."""
        found: dict[str, None] = {}
        seen: set[str] = set()
        stack = list(self.parents[ref])
        while stack:
            parent = stack.pop()
            if parent in seen:
                continue
            seen.add(parent)
            if self.specs[parent].emit_event:
                found[parent] = None
            else:
                stack.extend(self.parents[parent])
        return list(found)

    def ancestors(self, ref: str) -> list[str]:
        seen: dict[str, None] = {}
        stack = list(self.parents[ref])
        while stack:
            parent = stack.pop()
            if parent not in seen:
                seen[parent] = None
                stack.extend(self.parents[parent])
        return list(seen)
