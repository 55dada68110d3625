"""Workflow graph rules (pure): what makes a node list valid, and how nodes relate."""

from collections.abc import Sequence
from typing import Any, Protocol

from stepwise.errors import field_error
from stepwise.expressions import find_errors
from stepwise.statuses import EXECUTABLE_KINDS


class NodeLike(Protocol):
    ref: str
    kind: str
    args: Any
    depends_on: list[str]


def validation_errors(nodes: Sequence[NodeLike], returns: Any = None) -> list[dict[str, Any]]:
    """Every rule the node list breaks, each located at the offending field of the request body."""
    if not nodes:
        return [field_error(["body", "nodes"], "a workflow needs at least one node", "too_short")]
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, node in enumerate(nodes):
        if node.ref in seen:
            errors.append(
                field_error(
                    ["body", "nodes", index, "ref"],
                    f"duplicate ref {node.ref!r} (also node {seen[node.ref]})",
                    "duplicate_ref",
                )
            )
        else:
            seen[node.ref] = index
        if node.kind not in EXECUTABLE_KINDS:
            supported = ", ".join(sorted(EXECUTABLE_KINDS))
            errors.append(
                field_error(
                    ["body", "nodes", index, "kind"],
                    f"node kind {node.kind!r} is not supported yet (supported: {supported})",
                    "unsupported_kind",
                )
            )
        for loc, reason in find_errors(node.args):
            errors.append(field_error(["body", "nodes", index, "args", *loc], reason, "expression"))
    for index, node in enumerate(nodes):
        for position, parent in enumerate(node.depends_on):
            if parent not in seen:
                errors.append(
                    field_error(
                        ["body", "nodes", index, "depends_on", position],
                        f"unknown ref {parent!r}",
                        "unknown_ref",
                    )
                )
    for loc, reason in find_errors(returns):
        errors.append(field_error(["body", "returns", *loc], reason, "expression"))
    if errors:
        return errors
    cycle = find_cycle({node.ref: list(node.depends_on) for node in nodes})
    if cycle:
        path = " -> ".join(cycle)
        return [field_error(["body", "nodes"], f"dependency cycle: {path}", "cycle")]
    return []


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
