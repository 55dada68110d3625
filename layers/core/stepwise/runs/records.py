"""Run, node, item and attempt items, parsed once at the data-access edge into typed records.

The stores return these; services and views read attributes (``node.status``,
``node.attempt_record(2)``) instead of walking DynamoDB dicts. Numbers come back from DynamoDB
as ``Decimal`` and sets as ``set``: they are converted here, once. A payload is a
``PayloadRef`` (inline JSON or an S3 key) that ``PayloadStore.read`` loads.
"""

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, NamedTuple

_NOTHING: Mapping[Any, Any] = MappingProxyType({})  # an immutable empty default


class PayloadRef(NamedTuple):
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


def _values(
    fields: tuple[str, ...],
    item: Mapping[str, Any],
    ints: tuple[str, ...] = (),
    payloads: tuple[str, ...] = (),
    sets: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A record's attributes from an item, with the conversions its kind declares."""
    values: dict[str, Any] = {}
    for name in fields:
        if name in payloads:
            values[name] = PayloadRef.of(item, name)
        elif name in sets:
            values[name] = frozenset(item.get(name) or ())
        elif name in ints:
            values[name] = _int(item.get(name))
        elif name in item:
            values[name] = _plain(item[name])
    return values


_ATTEMPT_INTS = ("attempt", "heartbeats", "heartbeat_seconds", "approvals_required")


class AttemptRecord(NamedTuple):
    """One try of a node or item, as its ``attempts`` map keeps it."""

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
    claimed_by: str | None = None  # the Express execution that holds the lease
    task_token: str | None = None
    action: dict[str, Any] | None = None  # what an action attempt resolved and delivers to
    reviews: list[dict[str, Any]] | None = None  # an approval attempt's reviews, in order
    approvals_required: int | None = None  # the approvals its node needed when it was reviewed
    awaiting_since: str | None = None  # an Express node's ack awaits its callback, no execution
    timed_out_at: str | None = None  # the callback timer's timeout won (engine/callbacks.py)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> "AttemptRecord":
        return cls(**_values(cls._fields, item, ints=_ATTEMPT_INTS))


_NODE_INTS = (
    "attempt",
    "position",
    "item_count",
    "chunk_size",
    "chunk_lanes",
    "max_concurrency",
    "index",
    "expires_at",
    "attempt_base",
    "generation",
)
_NODE_PAYLOADS = ("output", "item", "action_input", "delivery_result", "signal_result")
_NODE_SETS = ("satisfied_edges", "failed_edges", "skipped_edges")


class NodeRecord(NamedTuple):
    """A node of a run, or (``index`` set) one item of a for_each node."""

    ref: str
    status: str
    attempt: int = 0
    kind: str | None = None
    index: int | None = None
    position: int | None = None
    depends_on: tuple[str, ...] = ()
    attempts: Mapping[int, AttemptRecord] = _NOTHING
    scheduled_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    available_at: str | None = None
    error: dict[str, Any] | None = None
    last_error: dict[str, Any] | None = None
    skip_reason: str | None = None
    child_run_id: str | None = None
    item_count: int | None = None
    # for_each: how the items run (engine/fan_out_plan.py), the chunks done, and the task token
    # of the node's FanOut, which the last chunk resumes.
    chunk_size: int | None = None
    chunk_lanes: int | None = None
    max_concurrency: int | None = None
    chunks_done: frozenset[int] = frozenset()
    items_token: str | None = None
    # "express" when the chunks run as Express executions, and when each was last started
    # (``{generation}.{chunk}`` -> time): Express neither dedupes names nor can be described.
    chunk_machine: str | None = None
    chunk_starts: Mapping[str, str] = _NOTHING
    expires_at: int | None = None
    # A node or item a redrive runs again: its attempts before (numbered on from there), the
    # run's redrive it runs in, and the failed child run a workflow node redrives.
    attempt_base: int | None = None
    generation: int | None = None
    redrive_child: str | None = None
    satisfied_edges: frozenset[str] = frozenset()
    failed_edges: frozenset[str] = frozenset()
    skipped_edges: frozenset[str] = frozenset()
    output: PayloadRef = PayloadRef()
    item: PayloadRef = PayloadRef()
    action_input: PayloadRef = PayloadRef()
    delivery_result: PayloadRef = PayloadRef()
    signal_result: PayloadRef = PayloadRef()

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> "NodeRecord":
        values = _values(
            cls._fields, item, ints=_NODE_INTS, payloads=_NODE_PAYLOADS, sets=_NODE_SETS
        )
        values["attempt"] = values.get("attempt") or 0
        values["depends_on"] = tuple(item.get("depends_on") or ())
        values["chunks_done"] = frozenset(int(c) for c in item.get("chunks_done") or ())
        values["attempts"] = {
            int(number): AttemptRecord.from_item(tried)
            for number, tried in (item.get("attempts") or {}).items()
        }
        return cls(**values)

    def attempt_record(self, number: int) -> AttemptRecord | None:
        """Attempt ``number`` as recorded, or None if it never started."""
        return self.attempts.get(number)


_RUN_INTS = ("workflow_version", "node_count", "timeout", "expires_at", "depth", "redrive_count")
_RUN_PAYLOADS = ("input", "output", "args", "outputs")


class RunRecord(NamedTuple):
    """A run: one Stepwise executes (``kind`` workflow) or one a client reports (external)."""

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
    created_by_key: str | None = None
    updated_at: str | None = None
    updated_by: str | None = None
    parent_run_id: str | None = None
    root_run_id: str | None = None  # a child run's first ancestor (whose descendants it counts)
    parent_node_ref: str | None = None
    schedule_id: str | None = None
    scheduled_at: str | None = None
    batch_id: str | None = None
    handles_run_id: str | None = None  # a failure handler run's failed run
    handler_run_ids: tuple[str, ...] = ()  # the handler runs its failures started, in order
    handler_error: dict[str, Any] | None = None  # why its last failure's handler did not start
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
    redrive_count: int | None = None  # its redrives (runs/redrive.py), each a generation
    redriven_at: str | None = None
    redrives: tuple[dict[str, Any], ...] = ()
    rerun_of: str | None = None  # the run it reruns (runs/rerun.py), from which node
    rerun_from: str | None = None
    reruns: tuple[str, ...] = ()
    tags: Mapping[str, str] = _NOTHING
    flow_type: str | None = None
    actions: tuple[dict[str, Any], ...] = ()
    pauses: tuple[dict[str, Any], ...] = ()  # each {paused_at, paused_by, reason, resumed_*}
    input: PayloadRef = PayloadRef()
    output: PayloadRef = PayloadRef()
    args: PayloadRef = PayloadRef()
    outputs: PayloadRef = PayloadRef()

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> "RunRecord":
        values = _values(cls._fields, item, ints=_RUN_INTS, payloads=_RUN_PAYLOADS)
        values["tags"] = dict(item.get("tags") or {})
        values["actions"] = tuple(_plain(item.get("actions") or []))
        values["handler_run_ids"] = tuple(item.get("handler_run_ids") or ())
        values["redrives"] = tuple(_plain(item.get("redrives") or []))
        values["reruns"] = tuple(item.get("reruns") or [])
        values["pauses"] = tuple(_plain(item.get("pauses") or []))
        return cls(**values)

    @property
    def generation(self) -> int:
        """Which of its executions the run is on: 0, then one more per redrive."""
        return self.redrive_count or 0

    @property
    def settling(self) -> bool:
        """Ended, or asked to end: nothing new may start in it."""
        return self.status != "running" or self.settle_requested_at is not None
