"""Run, node, item and attempt items, parsed once at the data-access edge into typed records.

The stores return these; services and views read attributes (``node.status``,
``node.attempt_record(2)``) instead of walking DynamoDB dicts. Numbers come back from DynamoDB
as ``Decimal`` and sets as ``set``: they are converted here, once. A payload is a
``PayloadRef`` (inline JSON or an S3 key) that ``PayloadStore.read`` loads.
"""

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class PayloadRef:
    """Where a stored payload is: its exact JSON text inline, or the S3 key that holds it."""

    text: str | None = None
    s3_key: str | None = None

    @classmethod
    def of(cls, item: dict[str, Any], name: str) -> "PayloadRef":
        return cls(item.get(name), item.get(f"{name}_s3"))

    def __bool__(self) -> bool:
        return self.text is not None or self.s3_key is not None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _plain(value: Any) -> Any:
    """A DynamoDB value as plain JSON-like Python: whole Decimals become ints."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _Record:
    """Builds a record from an item: attributes by name, with the conversions each declares."""

    INTS: ClassVar[tuple[str, ...]] = ()
    PAYLOADS: ClassVar[tuple[str, ...]] = ()
    SETS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def _values(cls, item: dict[str, Any]) -> dict[str, Any]:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        values: dict[str, Any] = {}
        for name in names:
            if name in cls.PAYLOADS:
                values[name] = PayloadRef.of(item, name)
            elif name in cls.SETS:
                values[name] = frozenset(item.get(name) or ())
            elif name in cls.INTS:
                values[name] = _int(item.get(name))
            elif name in item:
                values[name] = _plain(item[name])
        return values


@dataclass(frozen=True, slots=True)
class AttemptRecord(_Record):
    """One try of a node or item, as its ``attempts`` map keeps it."""

    INTS: ClassVar[tuple[str, ...]] = ("attempt", "heartbeats", "heartbeat_seconds")

    attempt: int
    status: str
    started_at: str | None = None
    completed_at: str | None = None
    timeout_at: str | None = None
    available_at: str | None = None
    error: dict[str, Any] | None = None
    child_run_id: str | None = None
    heartbeat_at: str | None = None
    heartbeats: int | None = None
    heartbeat_seconds: int | None = None
    signal: dict[str, Any] | None = None
    delivery: dict[str, Any] | None = None
    claimed_until: str | None = None
    task_token: str | None = None
    action: dict[str, Any] | None = None  # what an action attempt resolved and delivers to

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "AttemptRecord":
        return cls(**cls._values(item))


@dataclass(frozen=True, slots=True)
class NodeRecord(_Record):
    """A node of a run, or (``index`` set) one item of a for_each node."""

    INTS: ClassVar[tuple[str, ...]] = (
        "attempt",
        "position",
        "item_count",
        "index",
        "expires_at",
    )
    PAYLOADS: ClassVar[tuple[str, ...]] = (
        "output",
        "item",
        "action_input",
        "delivery_result",
        "signal_result",
    )
    SETS: ClassVar[tuple[str, ...]] = ("satisfied_edges", "failed_edges", "skipped_edges")

    ref: str
    status: str
    attempt: int = 0
    kind: str | None = None
    index: int | None = None
    position: int | None = None
    depends_on: list[str] = field(default_factory=list)
    attempts: dict[int, AttemptRecord] = field(default_factory=dict)
    scheduled_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    available_at: str | None = None
    error: dict[str, Any] | None = None
    last_error: dict[str, Any] | None = None
    skip_reason: str | None = None
    child_run_id: str | None = None
    item_count: int | None = None
    expires_at: int | None = None
    satisfied_edges: frozenset[str] = frozenset()
    failed_edges: frozenset[str] = frozenset()
    skipped_edges: frozenset[str] = frozenset()
    output: PayloadRef = PayloadRef()
    item: PayloadRef = PayloadRef()
    action_input: PayloadRef = PayloadRef()
    delivery_result: PayloadRef = PayloadRef()
    signal_result: PayloadRef = PayloadRef()

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "NodeRecord":
        values = cls._values(item)
        values["attempts"] = {
            int(number): AttemptRecord.from_item(tried)
            for number, tried in (item.get("attempts") or {}).items()
        }
        return cls(**values)

    def attempt_record(self, number: int) -> AttemptRecord | None:
        """Attempt ``number`` as recorded, or None if it never started."""
        return self.attempts.get(number)


@dataclass(frozen=True, slots=True)
class RunRecord(_Record):
    """A run: one Stepwise executes (``kind`` workflow) or one a client reports (external)."""

    INTS: ClassVar[tuple[str, ...]] = (
        "workflow_version",
        "node_count",
        "timeout",
        "expires_at",
        "depth",
    )
    PAYLOADS: ClassVar[tuple[str, ...]] = ("input", "output", "args", "outputs")

    org_id: str
    run_id: str
    workflow_id: str
    status: str
    created_at: str
    kind: str = "workflow"
    workflow_version: int | None = None
    node_count: int | None = None
    timeout: int | None = None
    expires_at: int | None = None
    depth: int | None = None
    role: str | None = None
    created_by: str | None = None
    updated_at: str | None = None
    updated_by: str | None = None
    parent_run_id: str | None = None
    parent_node_ref: str | None = None
    schedule_id: str | None = None
    scheduled_at: str | None = None
    batch_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error: dict[str, Any] | None = None
    task_token: str | None = None
    parent_token: str | None = None
    settle_requested_at: str | None = None
    settle_reason: str | None = None
    cancel_reason: str | None = None
    event_published_at: str | None = None
    reviewed_by: str | None = None
    reviewed_at: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    flow_type: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    input: PayloadRef = PayloadRef()
    output: PayloadRef = PayloadRef()
    args: PayloadRef = PayloadRef()
    outputs: PayloadRef = PayloadRef()

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "RunRecord":
        values = cls._values(item)
        values["tags"] = values.get("tags") or {}
        return cls(**values)

    @property
    def settling(self) -> bool:
        """Ended, or asked to end: nothing new may start in it."""
        return self.status != "running" or self.settle_requested_at is not None
