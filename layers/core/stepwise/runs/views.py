"""Stored items to response models."""

from typing import Any

from stepwise.actions import approvals
from stepwise.actions.signal_models import Review
from stepwise.core.ids import batch_of
from stepwise.core.statuses import NodeKind
from stepwise.infra.payloads import PayloadStore
from stepwise.runs.models import (
    Attempt,
    HistoryEvent,
    NodeExecution,
    NodeLink,
    Run,
    RunSummary,
)
from stepwise.runs.records import NodeRecord, PayloadRef, RunRecord
from stepwise.workflows import graph
from stepwise.workflows.models import NodeSpec, Workflow


def run_summary(run: RunRecord) -> RunSummary:
    return RunSummary(
        id=run.run_id,
        org_id=run.org_id,
        kind=run.kind,
        role=run.role,
        workflow_id=run.workflow_id,
        workflow_version=run.workflow_version,
        flow_type=run.flow_type,
        status=run.status,
        parent_run_id=run.parent_run_id,
        parent_node_ref=run.parent_node_ref,
        # From the id, which every index has: the indexes project no batch_id.
        batch_id=batch_of(run.run_id),
        error=run.error,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        reviewed_by=run.reviewed_by,
        reviewed_at=run.reviewed_at,
        tags=run.tags,
        created_by=run.created_by,
        updated_at=run.updated_at,
        updated_by=run.updated_by,
    )


def run_detail(
    payloads: PayloadStore,
    run: RunRecord,
    nodes: list[NodeRecord],
    workflow: Workflow | None = None,
) -> Run:
    """The run with its nodes; with its workflow version, each node carries its place in the
    graph (seeds 001 and 004): position, action, fallback, retry, children and next.

    A node output stored in S3 (over the inline limit) is not read: the node says
    ``output_omitted`` and ``GET /runs/{id}/nodes/{ref}`` has it. A run of 500 nodes would
    otherwise cost 500 GetObjects and pass the 6 MB a Lambda answer may have."""
    ordered = sorted(nodes, key=lambda n: n.position or 0)
    views = [node_execution(payloads, n, load_stored=False) for n in ordered]
    if workflow is not None:
        views = _with_graph(views, workflow)
    return Run(
        **run_summary(run).model_dump(),
        created_by_key=run.created_by_key,
        schedule_id=run.schedule_id,
        scheduled_at=run.scheduled_at,
        handles_run_id=run.handles_run_id,
        handler_run_ids=list(run.handler_run_ids),
        handler_error=run.handler_error,
        input=payloads.read(run.input),
        output=payloads.read(run.output),
        nodes=views,
        args=payloads.read(run.args),
        actions=run.actions,
        outputs=payloads.read(run.outputs),
        redrive_count=run.generation,
        redriven_at=run.redriven_at,
        rerun_of=run.rerun_of,
        reruns=list(run.reruns),
    )


def node_execution(
    payloads: PayloadStore, node: NodeRecord, load_stored: bool = True
) -> NodeExecution:
    """A node as the API shows it; ``load_stored`` False leaves an output kept in S3 unread
    (``output_omitted``)."""
    omitted = not load_stored and node.output.s3_key is not None and node.output.text is None
    attempts = [node.attempts[number] for number in sorted(node.attempts)]
    approval = node.kind == NodeKind.APPROVAL
    reviewed = [r for a in attempts for r in approvals.reviews_of(a)] if approval else []
    current = node.attempt_record(node.attempt) if approval else None
    reviews = approvals.reviews_of(current) if current is not None else []
    return NodeExecution(
        ref=node.ref,
        kind=node.kind,
        status=node.status,
        attempt=node.attempt,
        depends_on=list(node.depends_on),
        skip_reason=node.skip_reason,
        child_run_id=node.child_run_id,
        item_count=node.item_count,
        items_done=_items_done(node),
        # Attempt keeps only its declared fields: task tokens and leases never leave the table.
        attempts=[Attempt.model_validate(record, from_attributes=True) for record in attempts],
        scheduled_at=node.scheduled_at,
        started_at=node.started_at,
        finished_at=node.finished_at,
        available_at=node.available_at,
        output=None if omitted else payloads.read(node.output),
        output_omitted=omitted,
        error=node.error or node.last_error,
        review=Review.model_validate(reviewed[-1]) if reviewed else None,
        reviews=[Review.model_validate(r) for r in reviews] if approval else None,
        approvals_required=current.approvals_required if current is not None else None,
        approvals_received=approvals.approvals(reviews) if approval else None,
    )


def _items_done(node: NodeRecord) -> int | None:
    """The items of a for_each node's finished chunks: chunk ``c`` holds items
    ``[c * chunk_size, (c + 1) * chunk_size)``, the last one fewer (engine/fan_out_plan.py)."""
    if not node.item_count or not node.chunk_size:
        return None
    size, count = node.chunk_size, node.item_count
    return sum(max(0, min(size, count - c * size)) for c in node.chunks_done)


def history_page(payloads: PayloadStore, events: list[dict[str, Any]]) -> list[HistoryEvent]:
    """A page of ``run_history`` events built with ``output_of=stored_output``: each
    NODE_SUCCEEDED result is read now, for this page only; one stored in S3 is not read
    (``result_omitted``: ``GET /runs/{id}/nodes/{ref}`` has it)."""
    page = []
    for event in events:
        stored = event.get("result")
        if isinstance(stored, PayloadRef):
            event = {k: v for k, v in event.items() if k != "result"}
            if stored.text is None and stored.s3_key is not None:
                event["result_omitted"] = True
            else:
                event["result"] = payloads.read(stored)
        page.append(HistoryEvent.model_validate(event))
    return page


def stored_output(node: NodeRecord) -> PayloadRef:
    """``run_history``'s ``output_of``: where the output is, read later by ``history_page``."""
    return node.output


def _with_graph(views: list[NodeExecution], workflow: Workflow) -> list[NodeExecution]:
    specs = {node.ref: (position, node) for position, node in enumerate(workflow.nodes)}
    children: dict[str, list[NodeLink]] = {ref: [] for ref in specs}
    for child, edges in graph.incoming_edges(workflow.nodes).items():
        for edge in edges:
            children[edge.parent].append(NodeLink(ref=child, on=edge.kind.value))
    enriched = []
    for view in views:
        if view.ref not in specs:
            enriched.append(view)
            continue
        position, spec = specs[view.ref]
        outcome = {"succeeded": "success", "failed": "error"}.get(view.status)
        links = children[view.ref]
        enriched.append(
            view.model_copy(
                update={
                    "position": position,
                    "action": spec.action,
                    "fallback": spec.fallback,
                    "retry": spec.retry,
                    "children": links,
                    "next": [link.ref for link in links if link.on == outcome],
                    **_approvals_required(view, spec),
                }
            )
        )
    return enriched


def _approvals_required(view: NodeExecution, spec: NodeSpec) -> dict[str, Any]:
    """An approval node not reviewed yet takes its count from its spec."""
    if view.kind != NodeKind.APPROVAL or view.approvals_required is not None:
        return {}
    return {"approvals_required": approvals.required(spec)}
