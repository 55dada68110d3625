"""Edges and joins (pure): when a node may run, and when it can never run and is skipped.

An edge ``parent.success`` (or plain ``parent``) is satisfied when the parent succeeds; an edge
``parent.error`` is satisfied when the parent fails, which also makes that failure *handled*.
Each settled parent resolves its edges to one outcome:

=============  ===========  ===========  =====================
edge           succeeded    failed       skipped / cancelled
=============  ===========  ===========  =====================
``success``    satisfied    failed       skipped
``error``      skipped      satisfied    skipped
=============  ===========  ===========  =====================

``all`` (default) runs once every edge is resolved and at least one is satisfied; a failed edge
skips the node at once (it can never run); all skipped skips it. ``any`` runs on the first
satisfied edge (once), and is skipped when every edge is resolved and none was satisfied.
"""

from collections.abc import Set
from dataclasses import dataclass
from enum import StrEnum

from stepwise.core.statuses import NodeStatus


class EdgeKind(StrEnum):
    SUCCESS = "success"
    ERROR = "error"


class EdgeOutcome(StrEnum):
    SATISFIED = "satisfied"
    FAILED = "failed"
    SKIPPED = "skipped"


class JoinStrategy(StrEnum):
    ALL = "all"
    ANY = "any"


class Decision(StrEnum):
    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"


@dataclass(frozen=True, order=True)
class Edge:
    parent: str
    kind: EdgeKind

    @property
    def key(self) -> str:
        return f"{self.parent}.{self.kind.value}"

    @classmethod
    def parse(cls, entry: str) -> "Edge":
        """``ref``, ``ref.success`` or ``ref.error``; ValueError for anything else."""
        parent, dot, suffix = entry.partition(".")
        if not dot:
            return cls(parent, EdgeKind.SUCCESS)
        try:
            return cls(parent, EdgeKind(suffix))
        except ValueError:
            message = f"edge {entry!r} must be 'ref', 'ref.success' or 'ref.error'"
            raise ValueError(message) from None


def edge_outcome(kind: EdgeKind, parent_status: str) -> EdgeOutcome:
    if parent_status == NodeStatus.SUCCEEDED:
        return EdgeOutcome.SATISFIED if kind == EdgeKind.SUCCESS else EdgeOutcome.SKIPPED
    if parent_status == NodeStatus.FAILED:
        return EdgeOutcome.SATISFIED if kind == EdgeKind.ERROR else EdgeOutcome.FAILED
    return EdgeOutcome.SKIPPED


def join_decision(
    strategy: str,
    edges: set[str],
    satisfied: Set[str],
    failed: Set[str],
    skipped: Set[str],
) -> Decision:
    """What a node with these incoming ``edges`` (keys) does, given the resolved ones."""
    resolved = (satisfied | failed | skipped) & edges
    if strategy == JoinStrategy.ANY:
        if satisfied & edges:
            return Decision.RUN
        return Decision.SKIP if resolved == edges else Decision.WAIT
    if failed & edges:
        return Decision.SKIP
    if resolved != edges:
        return Decision.WAIT
    return Decision.RUN if satisfied & edges else Decision.SKIP
