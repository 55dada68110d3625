"""Which node attempt a step works on, read once from the state machine's step event."""

from dataclasses import dataclass
from typing import Any


def event_field(event: dict[str, Any], name: str) -> Any:
    """A field the step's event must carry; its absence names the step and the field."""
    if name not in event:
        raise ValueError(f"engine step {event.get('step')!r} has no {name!r} field")
    return event[name]


@dataclass(frozen=True)
class NodeAddress:
    """A node's attempt (``index`` set: one for_each item's attempt) in a run of an org."""

    org_id: str
    run_id: str
    ref: str
    attempt: int = 1
    index: int | None = None
    # Attempts of the node (or item) before the redrive it runs in; None: not read yet.
    base: int | None = None

    @property
    def where(self) -> str:
        """The node, or the item, as the run's log names it."""
        return self.ref if self.index is None else f"{self.ref}[{self.index}]"

    @classmethod
    def of_node(cls, event: dict[str, Any]) -> "NodeAddress":
        """A step about the node as a whole (collect_items): attempt 1, as a for_each node has
        one attempt and its items retry."""
        return cls._parse(event, attempt=False, index=False)

    @classmethod
    def of_attempt(cls, event: dict[str, Any]) -> "NodeAddress":
        return cls._parse(event, attempt=True, index=False)

    @classmethod
    def of_item(cls, event: dict[str, Any]) -> "NodeAddress":
        return cls._parse(event, attempt=True, index=True)

    @classmethod
    def _parse(cls, event: dict[str, Any], attempt: bool, index: bool) -> "NodeAddress":
        return cls(
            org_id=event_field(event, "org_id"),
            run_id=event_field(event, "run_id"),
            ref=event_field(event, "node_ref"),
            attempt=int(event_field(event, "attempt")) if attempt else 1,
            index=int(event_field(event, "index")) if index else None,
        )
