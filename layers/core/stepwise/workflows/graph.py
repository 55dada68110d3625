"""Workflow graph rules (pure): what makes a node list valid, and how nodes relate."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from stepwise.core.errors import field_error
from stepwise.core.statuses import LOOPABLE_KINDS, NodeKind
from stepwise.engine.expressions import (
    TemplateError,
    compile_expression,
    find_errors,
    single_expression,
)
from stepwise.engine.joins import Edge, EdgeKind
from stepwise.workflows.models import NodeSpec
from stepwise.workflows.quotas import quota_errors

Loc = list[str | int]


def incoming_edges(nodes: Sequence[NodeSpec]) -> dict[str, list[Edge]]:
    """Each node's incoming edges, from ``depends_on`` and from other nodes' ``fallback``."""
    edges: dict[str, list[Edge]] = {node.ref: [] for node in nodes}
    for node in nodes:
        for entry in node.depends_on:
            edge = Edge.parse(entry)
            if edge not in edges[node.ref]:
                edges[node.ref].append(edge)
    for node in nodes:
        if node.fallback:
            edge = Edge(node.ref, EdgeKind.ERROR)
            if edge not in edges[node.fallback]:
                edges[node.fallback].append(edge)
    return edges


def validation_errors(nodes: Sequence[NodeSpec], returns: Any = None) -> list[dict[str, Any]]:
    """Every rule the node list breaks, each located at the offending field of the request body."""
    if not nodes:
        return [field_error(["body", "nodes"], "a workflow needs at least one node", "too_short")]
    errors = quota_errors(nodes, returns)  # before anything is compiled
    if errors:
        return errors
    seen: dict[str, int] = {}
    for index, node in enumerate(nodes):
        loc: Loc = ["body", "nodes", index]
        if node.ref in seen:
            errors.append(
                field_error(
                    [*loc, "ref"],
                    f"duplicate ref {node.ref!r} (also node {seen[node.ref]})",
                    "duplicate_ref",
                )
            )
        else:
            seen[node.ref] = index
        errors.extend(_node_errors(node, loc))
    for index, node in enumerate(nodes):
        loc = ["body", "nodes", index]
        for position, entry in enumerate(node.depends_on):
            try:
                parent = Edge.parse(entry).parent
            except ValueError as exc:
                errors.append(field_error([*loc, "depends_on", position], str(exc), "edge"))
                continue
            if parent not in seen:
                errors.append(
                    field_error(
                        [*loc, "depends_on", position], f"unknown ref {parent!r}", "unknown_ref"
                    )
                )
        if node.fallback is not None and node.fallback not in seen:
            errors.append(
                field_error([*loc, "fallback"], f"unknown ref {node.fallback!r}", "unknown_ref")
            )
    for loc_tail, reason in find_errors(returns):
        errors.append(field_error(["body", "returns", *loc_tail], reason, "expression"))
    if errors:
        return errors
    parents = {ref: [e.parent for e in edges] for ref, edges in incoming_edges(nodes).items()}
    cycle = find_cycle(parents)
    if cycle:
        path = " -> ".join(cycle)
        return [field_error(["body", "nodes"], f"dependency cycle: {path}", "cycle")]
    return []


def _node_errors(node: NodeSpec, loc: Loc) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for loc_tail, reason in find_errors(node.args):
        errors.append(field_error([*loc, "args", *loc_tail], reason, "expression"))
    for field, value in (
        (["run_if"], node.run_if),
        (["for_each"], node.for_each),
        (["retry", "retry_until"], node.retry.retry_until),
    ):
        if value is not None:
            reason = _expression_error(value)
            if reason:
                errors.append(field_error([*loc, *field], reason, "expression"))
    if node.wait_until is not None:
        reason = _wait_until_error(node.wait_until)
        if reason:
            errors.append(field_error([*loc, "wait_until"], reason, "wait_until"))
    if node.for_each is not None and node.kind not in LOOPABLE_KINDS:
        errors.append(
            field_error(
                [*loc, "for_each"], f"a {node.kind} node cannot loop over items", "for_each"
            )
        )
    if node.kind == NodeKind.WAIT and not node.start_delay and node.wait_until is None:
        errors.append(
            field_error([*loc, "kind"], "a wait node needs start_delay or wait_until", "wait")
        )
    if (node.kind == NodeKind.ACTION) != (node.action is not None):
        message = (
            "an action node needs 'action' (a definition name, name@alias or name@version)"
            if node.kind == NodeKind.ACTION
            else "only action nodes take 'action'"
        )
        errors.append(field_error([*loc, "action"], message, "action"))
    if node.kind == NodeKind.WORKFLOW and not (
        isinstance(node.args, dict) and isinstance(node.args.get("workflow_id"), str)
    ):
        errors.append(
            field_error(
                [*loc, "args", "workflow_id"],
                "a workflow node needs args.workflow_id (an id or '{{ expr }}')",
                "missing",
            )
        )
    if node.required_approvals is not None and node.kind != NodeKind.APPROVAL:
        errors.append(
            field_error(
                [*loc, "required_approvals"],
                "only approval nodes take required_approvals",
                "required_approvals",
            )
        )
    if node.fallback == node.ref:
        errors.append(field_error([*loc, "fallback"], "a node cannot be its own fallback", "cycle"))
    return errors


def _expression_error(text: str) -> str | None:
    expression = single_expression(text)
    if expression is None:
        return "must be one expression in the form '{{ expr }}'"
    try:
        compile_expression(expression)
    except TemplateError as exc:
        return str(exc)
    return None


def _wait_until_error(text: str) -> str | None:
    if single_expression(text) is not None:
        return _expression_error(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return "must be an ISO 8601 time with an offset (or '{{ expr }}' giving one)"
    if moment.tzinfo is None:
        return "must include a UTC offset, e.g. 2026-01-31T09:00:00+01:00 or ...Z"
    return None


def literal_child_workflows(nodes: Sequence[NodeSpec]) -> list[tuple[Loc, str]]:
    """Workflow nodes whose child workflow id is written out (not a template): (loc, id)."""
    found: list[tuple[Loc, str]] = []
    for index, node in enumerate(nodes):
        if node.kind == NodeKind.WORKFLOW and isinstance(node.args, dict):
            workflow_id = node.args.get("workflow_id")
            if isinstance(workflow_id, str) and "{{" not in workflow_id:
                found.append((["body", "nodes", index, "args", "workflow_id"], workflow_id))
    return found


def find_cycle(parents: dict[str, list[str]]) -> list[str] | None:
    """A cycle as a path of refs (first == last), or None. Iterative, so deep graphs are fine."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(parents, white)
    for start in parents:
        if colour[start] != white:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        colour[start] = grey
        while stack:
            ref, position = stack[-1]
            deps = parents.get(ref, [])
            if position < len(deps):
                stack[-1] = (ref, position + 1)
                nxt = deps[position]
                if colour.get(nxt) == grey:
                    path = [r for r, _ in stack]
                    return [*path[path.index(nxt) :], nxt][::-1]
                if colour.get(nxt) == white:
                    colour[nxt] = grey
                    stack.append((nxt, 0))
            else:
                colour[ref] = black
                stack.pop()
    return None


def children_of(parents: dict[str, list[str]]) -> dict[str, list[str]]:
    """The reverse edges, in node order."""
    children: dict[str, list[str]] = {ref: [] for ref in parents}
    for ref, deps in parents.items():
        for parent in dict.fromkeys(deps):
            children[parent].append(ref)
    return children


def roots(parents: dict[str, list[str]]) -> list[str]:
    return [ref for ref, deps in parents.items() if not deps]


def leaves(parents: dict[str, list[str]]) -> list[str]:
    children = children_of(parents)
    return [ref for ref in parents if not children[ref]]
