"""Which state machine runs each node of a workflow version, chosen once, when it is saved.

A node whose attempts wait for no review or child run and whose whole retry schedule fits well
inside five minutes runs as an Express execution (priced per request and duration; a webhook's
callback after an ack is awaited with no execution at all: engine/callbacks.py); every other node,
and every node of a version saved before the choice was made, runs as a Standard execution (priced
per transition, with task tokens and long waits). docs/engine.md, "Express nodes", has the prices of
both paths.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stepwise.core.statuses import NodeKind
from stepwise.engine.retries import retry_delay
from stepwise.workflows.models import NodeSpec

if TYPE_CHECKING:
    from stepwise.actions.definitions import ActionDefinitions

# An Express execution ends after five minutes; the worst case planned at save time keeps a
# minute of that for queueing and Lambda, and the attempt step hands off to Standard at run time
# once the next wait and attempt would end past EXPRESS_HANDOFF_SECONDS.
EXPRESS_PLAN_SECONDS = 240
EXPRESS_HANDOFF_SECONDS = 270
DELIVERY_MARGIN_SECONDS = 30  # queueing and dispatch on top of a destination's SLA
STEP_SECONDS = 5  # what one attempt of a transform or wait takes at most, in practice
# An Express delivery runs inside one synchronous invoke of DispatcherFunction (its Timeout in
# template.yaml is 150 s): a destination whose SLA plus the margin exceeds this stays Standard,
# where the delivery waits on a queue and a heartbeat, not on one Lambda's lifetime.
SYNC_DELIVERY_SECONDS = 120
_STANDARD_KINDS = frozenset({NodeKind.APPROVAL, NodeKind.WORKFLOW})


@dataclass(frozen=True)
class DestinationPlan:
    """What the machine choice needs of an action's default destination when saved."""

    signaling: bool
    sla_seconds: float


# An action reference -> its default destination's plan; None when it cannot be resolved now
# (the node then runs on Standard, which serves every case).
ResolveDestination = Callable[[str], DestinationPlan | None]


def express_nodes(nodes: Iterable[NodeSpec], resolve: ResolveDestination) -> list[str]:
    """The refs of the nodes that run as Express executions, in workflow order."""
    return [node.ref for node in nodes if _fits_express(node, resolve)]


def _fits_express(node: NodeSpec, resolve: ResolveDestination) -> bool:
    if node.kind in _STANDARD_KINDS or node.for_each is not None:
        return False
    if node.start_delay or node.wait_until is not None:
        return False
    per_attempt = node.retry.timeout or STEP_SECONDS
    if node.kind == NodeKind.ACTION:
        plan = resolve(node.action or "")
        # Signaling does not matter: an ack's callback is awaited with no execution at all
        # (engine/callbacks.py); only the synchronous delivery runs in the Express execution.
        if plan is None:
            return False
        if plan.sla_seconds + DELIVERY_MARGIN_SECONDS > SYNC_DELIVERY_SECONDS:
            return False
        per_attempt = node.retry.timeout or int(plan.sla_seconds) + DELIVERY_MARGIN_SECONDS
    return worst_case_seconds(node, per_attempt) <= EXPRESS_PLAN_SECONDS


def worst_case_seconds(node: NodeSpec, per_attempt: float) -> float:
    """Every attempt taking its whole timeout, with every backoff in between."""
    attempts = node.retry.max_attempts
    backoffs = sum(retry_delay(node.retry, n) or 0 for n in range(1, attempts))
    return attempts * per_attempt + backoffs


def must_hand_off(elapsed_seconds: float, wait_seconds: float, next_attempt_seconds: float) -> bool:
    """Whether an Express execution that has run ``elapsed_seconds`` must give the rest of the
    node to Standard: the next wait (a Retry-After may stretch it) and the next attempt would end
    past EXPRESS_HANDOFF_SECONDS."""
    return elapsed_seconds + wait_seconds + next_attempt_seconds > EXPRESS_HANDOFF_SECONDS


def destination_resolver(definitions: "ActionDefinitions", org_id: str) -> ResolveDestination:
    """The org's actions as they resolve now (each looked up once): their default destination's
    signaling and SLA."""
    from stepwise.actions.definitions import resolve_action
    from stepwise.core.errors import NotFound

    seen: dict[str, DestinationPlan | None] = {}

    def resolve(reference: str) -> DestinationPlan | None:
        if reference not in seen:
            try:
                definition = resolve_action(definitions, org_id, reference)
            except NotFound:
                seen[reference] = None
                return None
            link = next((d for d in definition.destinations if d.is_default), None)
            config = link.destination.config if link and link.destination else None
            seen[reference] = (
                DestinationPlan(config.signaling.enabled, config.response_time_sla_ms / 1000)
                if config is not None and definition.deleted_at is None
                else None
            )
        return seen[reference]

    return resolve
