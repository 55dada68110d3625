"""Starting a run whose nodes are partly settled already (a redrive, a rerun): every node whose
join the settled nodes decide starts or is skipped, and a run with nothing left finishes at
once. A fresh run needs none of this: its roots are all that can start."""

from stepwise.core.statuses import NODE_TERMINAL, NodeStatus
from stepwise.engine.advance import Advance, InlineBudget, RunView
from stepwise.engine.joins import Decision, edge_outcome, join_decision


def start_from_state(advance: Advance, view: RunView, budget: InlineBudget) -> None:
    """Resolves the edges of settled nodes into the nodes still to run, starts those whose join
    allows it and skips those it rules out, then moves the run on from what settled here.
    Idempotent, as a replayed ``start_run`` needs: edges are set additions, starts are
    conditional and named."""
    store, compiled = advance.store, view.compiled
    org_id, run_id = view.org_id, view.run_id
    _, nodes = store.runs.get_run_with_nodes(org_id, run_id)
    status = {node.ref: node.status for node in nodes}
    settled_here: list[tuple[str, str]] = []
    for ref in compiled.specs:
        if status.get(ref) not in (NodeStatus.PENDING, NodeStatus.SCHEDULED):
            continue
        edges = compiled.incoming[ref]
        decided = [(e, status[e.parent]) for e in edges if status.get(e.parent) in NODE_TERMINAL]
        if edges and not decided:
            continue  # its parents run first; the last to settle decides it
        decision = Decision.RUN
        if edges:
            for edge, parent_status in decided:
                outcome = edge_outcome(edge.kind, parent_status)
                item = store.nodes.record_edge(org_id, run_id, ref, edge.key, outcome)
            decision = join_decision(
                compiled.specs[ref].join_strategy,
                compiled.edge_keys[ref],
                item.satisfied_edges,
                item.failed_edges,
                item.skipped_edges,
            )
        if decision == Decision.RUN:
            ended = advance.start_ready(view, ref, budget)
            if ended is not None:
                settled_here.append((ref, ended))
        elif decision == Decision.SKIP:
            failed = sorted(item.failed_edges & compiled.edge_keys[ref])
            reason = "no incoming edge was satisfied"
            if failed:
                reason = f"dependency {failed[0].rsplit('.', 1)[0]} failed"
            if store.nodes.skip_node(org_id, run_id, ref, reason) or (
                store.runs.get_node(org_id, run_id, ref).status == NodeStatus.SKIPPED
            ):
                settled_here.append((ref, NodeStatus.SKIPPED))
    if settled_here:
        advance.settled(org_id, run_id, settled_here, budget)
    elif all(status.get(ref) in NODE_TERMINAL for ref in compiled.specs):
        # Nothing was left to run: the run is done.
        run = store.run_state.request_settle(org_id, run_id, "all_nodes_settled")
        advance.finish(org_id, run_id, run.generation)
