"""A run's graph as text: nodes in layers (a node sits one layer below its deepest parent),
each with its status and the edges that lead to it."""

from collections.abc import Sequence
from typing import Any

from stepwise_cli.render import Style, width


def parents(nodes: Sequence[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """For each node, its (parent, outcome) edges: ``children`` links when the API gives them
    (they include fallbacks), else ``depends_on`` (``ref``, ``ref.success``, ``ref.error``)."""
    known = {n["ref"] for n in nodes}
    found: dict[str, list[tuple[str, str]]] = {n["ref"]: [] for n in nodes}
    if any(n.get("children") for n in nodes):
        for node in nodes:
            for link in node.get("children") or []:
                if link["ref"] in found:
                    found[link["ref"]].append((node["ref"], link.get("on", "success")))
        return found
    for node in nodes:
        for edge in node.get("depends_on") or []:
            ref, _, outcome = edge.partition(".")
            if ref in known:
                found[node["ref"]].append((ref, outcome or "success"))
        fallback = node.get("fallback")
        if fallback in found and (node["ref"], "error") not in found[fallback]:
            found[fallback].append((node["ref"], "error"))
    return found


def layers(nodes: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Nodes by depth (roots first), each layer in the workflow's order."""
    edges = parents(nodes)
    depth: dict[str, int] = {}

    def depth_of(ref: str, seen: frozenset[str] = frozenset()) -> int:
        if ref not in depth:
            above = [p for p, _ in edges[ref] if p not in seen]
            depth[ref] = 1 + max((depth_of(p, seen | {ref}) for p in above), default=-1)
        return depth[ref]

    ordered = sorted(nodes, key=lambda n: (n.get("position") is None, n.get("position") or 0))
    rows: list[list[dict[str, Any]]] = []
    for node in ordered:
        level = depth_of(node["ref"])
        while len(rows) <= level:
            rows.append([])
        rows[level].append(node)
    return [row for row in rows if row]


def node_notes(node: dict[str, Any]) -> str:
    notes = []
    if (node.get("attempt") or 0) > 1:
        notes.append(f"attempt {node['attempt']}")
    if node.get("item_count") is not None:
        notes.append(f"{node['item_count']} items")
    if node.get("child_run_id"):
        notes.append(f"child {node['child_run_id']}")
    if node.get("skip_reason"):
        notes.append(node["skip_reason"])
    error = node.get("error")
    if node.get("status") == "failed" and isinstance(error, dict):
        notes.append(f"{error.get('type', 'error')}: {error.get('message', '')}".strip())
    return "; ".join(notes)


def draw(nodes: Sequence[dict[str, Any]], style: Style, statuses: bool = True) -> list[str]:
    """One line per node, layer by layer::

    1  a  transform  succeeded
    2  b  transform  succeeded  <- a
       c  transform  failed     <- a
    3  d  transform  skipped    <- b, c
       h  transform  succeeded  <- c (on error)
    """
    edges = parents(nodes)
    rows = layers(nodes)
    ref_width = max((width(n["ref"]) for n in nodes), default=1)
    kind_width = max((len(n.get("kind") or "") for n in nodes), default=1)
    status_width = max(width(style.status(n.get("status"))) for n in nodes) if nodes else 1
    arrow = "←" if style.symbols else "<-"
    lines = []
    for number, row in enumerate(rows, start=1):
        for index, node in enumerate(row):
            label = f"{number:>2}" if index == 0 else "  "
            status = style.status(node.get("status"))
            incoming = ", ".join(
                ref if on == "success" else f"{ref} (on {on})" for ref, on in edges[node["ref"]]
            )
            parts = [
                label,
                node["ref"] + " " * (ref_width - width(node["ref"])),
                style.dim((node.get("kind") or "").ljust(kind_width)),
            ]
            if statuses:
                parts.append(status + " " * (status_width - width(status)))
            if incoming:
                parts.append(f"{arrow} {incoming}")
            notes = node_notes(node)
            if notes:
                parts.append(style.dim(f"[{notes}]"))
            lines.append("  ".join(parts).rstrip())
    return lines
