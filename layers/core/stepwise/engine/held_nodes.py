"""What a paused run held, started once it is resumed.

While a run is paused its settled nodes still resolve their edges (``advance.py``), but what
those edges make ready is not started: the schedule and skip transitions check, in the same
transaction, that the run is running (``node_state.py``), so such a node stays ``pending`` with
its resolved edges, and nothing runs inline. A for_each node's next chunks are not started
either. Resume recomputes from the nodes' recorded state, so nothing needs to be remembered
apart and a replay finds the same work:

- a pending root (it has no edge: the run was paused before it started) starts;
- a pending node whose join decides RUN starts, and one whose join decides SKIP is skipped;
  what settles here moves the run on as any settle does (``Advance.settled``);
- a running for_each node starts the chunk each of its lanes is on.

Every start is a conditional write plus a named execution, so a release racing with a node
that settles at the same moment, or run twice, starts each node once.
"""

from stepwise.core.statuses import NodeStatus, RunStatus
from stepwise.engine.advance import Advance, RunView
from stepwise.engine.for_each_steps import ForEachSteps
from stepwise.engine.joins import Decision, join_decision


class HeldNodes:
    def __init__(self, advance: Advance, for_each: ForEachSteps):
        self.advance = advance
        self.for_each = for_each
        self.store = advance.store

    def release(self, org_id: str, run_id: str) -> list[str]:
        """Starts (or skips) what the run held while it was paused; the refs it started or
        skipped. Nothing when the run is not running (paused again, or settling)."""
        run, nodes = self.store.runs.get_run_with_nodes(org_id, run_id)
        if run.status != RunStatus.RUNNING or run.settle_requested_at:
            return []
        view = RunView(org_id, run_id, run, self.advance.deps.workflow(org_id, run))
        compiled = view.compiled
        budget = self.advance.budget()
        released: list[str] = []
        settled: list[tuple[str, str]] = []
        for node in nodes:
            ref = node.ref
            if node.status == NodeStatus.RUNNING and node.item_count:
                self.for_each.start_lanes(org_id, run_id, node)
                continue
            if node.status != NodeStatus.PENDING or ref not in compiled.specs:
                continue
            edges = compiled.edge_keys[ref]
            decision = (
                join_decision(
                    compiled.specs[ref].join_strategy,
                    edges,
                    node.satisfied_edges,
                    node.failed_edges,
                    node.skipped_edges,
                )
                if edges
                else Decision.RUN  # a root
            )
            if decision == Decision.RUN:
                released.append(ref)
                status = self.advance.start_ready(view, ref, budget)
                if status is not None:
                    settled.append((ref, status))
            elif decision == Decision.SKIP:
                released.append(ref)
                reason = "no incoming edge was satisfied"
                failed = sorted(node.failed_edges & edges)
                if failed:
                    reason = f"dependency {failed[0].rsplit('.', 1)[0]} failed"
                if self.store.nodes.skip_node(org_id, run_id, ref, reason):
                    settled.append((ref, NodeStatus.SKIPPED))
        if settled:
            self.advance.settled(org_id, run_id, settled, budget)
        return released
