"""Stored items to response models."""

from typing import Any

from stepwise.actions.signal_models import Review
from stepwise.core.ids import batch_of
from stepwise.infra.payloads import PayloadStore
from stepwise.runs.models import Attempt, NodeExecution, NodeLink, Run, RunSummary
from stepwise.workflows import graph
from stepwise.workflows.models import Workflow


def run_summary(run: dict[str, Any]) -> RunSummary:
    version = run.get("workflow_version")
    return RunSummary(
        id=run["run_id"],
        org_id=run["org_id"],
        kind=run.get("kind", "workflow"),
        role=run.get("role"),
        workflow_id=run["workflow_id"],
        workflow_version=int(version) if version is not None else None,
        flow_type=run.get("flow_type"),
        status=run["status"],
        parent_run_id=run.get("parent_run_id"),
        parent_node_ref=run.get("parent_node_ref"),
        # From the id, which every index has: the indexes project no batch_id.
        batch_id=batch_of(run["run_id"]),
        error=run.get("error"),
        created_at=run["created_at"],
        started_at=run.get("started_at"),
        finished_at=run.get("finished_at"),
        reviewed_by=run.get("reviewed_by"),
        reviewed_at=run.get("reviewed_at"),
        tags=run.get("tags") or {},
        created_by=run.get("created_by"),
        updated_at=run.get("updated_at"),
        updated_by=run.get("updated_by"),
    )


def run_detail(
    payloads: PayloadStore,
    run: dict[str, Any],
    nodes: list[dict[str, Any]],
    workflow: Workflow | None = None,
) -> Run:
    """The run with its nodes; with its workflow version, each node carries its place in the
    graph (seeds 001 and 004): position, action, fallback, retry, children and next."""
    ordered = sorted(nodes, key=lambda n: int(n.get("position", 0)))
    views = [node_execution(payloads, n) for n in ordered]
    if workflow is not None:
        views = _with_graph(views, workflow)
    return Run(
        **run_summary(run).model_dump(),
        schedule_id=run.get("schedule_id"),
        scheduled_at=run.get("scheduled_at"),
        input=payloads.load(run, "input"),
        output=payloads.load(run, "output"),
        nodes=views,
        args=payloads.load(run, "args"),
        actions=run.get("actions") or [],
        outputs=payloads.load(run, "outputs"),
    )


def node_execution(payloads: PayloadStore, node: dict[str, Any]) -> NodeExecution:
    attempts = [record for _, record in sorted(node.get("attempts", {}).items(), key=_number)]
    reviews = [a["signal"] for a in attempts if a.get("signal", {}).get("kind") == "review"]
    return NodeExecution(
        ref=node["ref"],
        kind=node["kind"],
        status=node["status"],
        attempt=int(node.get("attempt", 0)),
        depends_on=list(node.get("depends_on", [])),
        skip_reason=node.get("skip_reason"),
        child_run_id=node.get("child_run_id"),
        item_count=node.get("item_count"),
        # Attempt keeps only its declared fields: task tokens and leases never leave the table.
        attempts=[Attempt.model_validate(record) for record in attempts],
        scheduled_at=node.get("scheduled_at"),
        started_at=node.get("started_at"),
        finished_at=node.get("finished_at"),
        available_at=node.get("available_at"),
        output=payloads.load(node, "output"),
        error=node.get("error") or node.get("last_error"),
        review=Review.model_validate(reviews[-1]) if reviews else None,
    )


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
                }
            )
        )
    return enriched


def _number(entry: tuple[str, Any]) -> int:
    return int(entry[0])
