"""Request and response shapes of the API (pydantic), split by role."""

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from stepwise.joins import JoinStrategy
from stepwise.signal_models import Review
from stepwise.statuses import NodeKind, NodeStatus, RunStatus

REF_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
ID_FIELD = Annotated[str, Field(pattern=r"^[a-z0-9_.-]+$", max_length=128)]
# Tags (runs, destinations, action definitions) follow AWS's rules: letters, digits, spaces
# and _ . : / = + - @.
TAG_KEY = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\w .:/=+\-@]+$")]
TAG_VALUE = Annotated[str, Field(max_length=256, pattern=r"^[\w .:/=+\-@]*$")]
TAGS = Annotated[dict[TAG_KEY, TAG_VALUE], Field(max_length=50)]
DEFAULT_RUN_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_RUN_TIMEOUT_SECONDS = 365 * 24 * 3600 - 3600  # under the one-year Standard execution limit


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


MAX_DELAY_SECONDS = MAX_RUN_TIMEOUT_SECONDS
MAX_FOR_EACH_CONCURRENCY = 40


class RetryPolicy(_Input):
    """How often an attempt is tried again, and how long to wait in between (seconds)."""

    max_attempts: int = Field(1, ge=1, le=100)
    initial_interval: float = Field(1.0, ge=0, le=86400)
    backoff_coefficient: float = Field(2.0, ge=1, le=100)
    max_interval: float = Field(300.0, ge=0, le=86400)
    timeout: int | None = Field(None, ge=1, le=MAX_DELAY_SECONDS, description="Per attempt.")
    retry_until: str | None = Field(
        None,
        max_length=2000,
        description="'{{ expr }}' over {result, attempt, input, nodes}: try again (within "
        "max_attempts) until it is true; still false after the last attempt fails the node.",
    )
    non_retryable_errors: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=50, description="Error types that are never retried."
    )


class NodeSpec(_Input):
    ref: str = Field(pattern=REF_PATTERN, description="Unique within the workflow; a slug.")
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=2000)
    kind: NodeKind
    action: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}(@[a-z0-9_-]{1,50})?$",
        description="An action node's definition: 'name', 'name@alias' or 'name@version'.",
    )
    args: Any = Field(default_factory=dict, description="JSON with {{ expr }} templates.")
    depends_on: list[Annotated[str, Field(max_length=72)]] = Field(
        default_factory=list, description="Edges: 'ref' or 'ref.success', and 'ref.error'."
    )
    fallback: str | None = Field(
        None, max_length=64, description="A node that runs when this one fails (its error edge)."
    )
    join_strategy: JoinStrategy = JoinStrategy.ALL
    run_if: str | None = Field(None, max_length=2000, description="'{{ expr }}'; false skips.")
    for_each: str | None = Field(
        None, max_length=2000, description="'{{ expr }}' giving a list: one execution per item."
    )
    max_concurrency: int = Field(10, ge=1, le=MAX_FOR_EACH_CONCURRENCY)
    start_delay: int = Field(0, ge=0, le=MAX_DELAY_SECONDS, description="Seconds before start.")
    wait_until: str | None = Field(
        None, max_length=2000, description="ISO 8601 time with offset, or '{{ expr }}' giving one."
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    emit_event: bool = Field(
        False,
        description="On success, record an event: the output as payload, listed under GET "
        "/workflows/{id}/nodes/{ref}/events. It costs one more DynamoDB write unit per KB of "
        "event (4 in all for a transform with a small output, instead of 3).",
    )


class WorkflowCreate(_Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "greet and notify",
                    "nodes": [
                        {
                            "ref": "greet",
                            "kind": "transform",
                            "args": {"text": "hello {{ input.name }}"},
                        },
                        {
                            "ref": "notify",
                            "kind": "action",
                            "action": "notify@prod",
                            "args": {"text": "{{ nodes.greet.output.text }}"},
                            "depends_on": ["greet"],
                            "retry": {"max_attempts": 3, "initial_interval": 2},
                        },
                    ],
                    "timeout": 3600,
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    nodes: list[NodeSpec] = Field(max_length=500)
    returns: Any = Field(
        None, description="Template for the run's output; default: the leaf nodes' outputs."
    )
    timeout: int = Field(
        DEFAULT_RUN_TIMEOUT_SECONDS,
        ge=1,
        le=MAX_RUN_TIMEOUT_SECONDS,
        description="Seconds a run may take before it ends timed_out.",
    )


class RunCancel(_Input):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "superseded by a newer run"}]}
    )

    reason: str | None = Field(None, max_length=1000)


class HistoryEvent(BaseModel):
    """One typed event of a run (seed 001): what happened, when, to which node and attempt."""

    event_id: int
    event_type: str
    event_time: datetime
    node_ref: str | None = None
    attempt: int | None = None
    spec: dict[str, Any] | None = Field(None, description="The node's spec, on NODE_SCHEDULED.")
    result: Any = None
    failure: dict[str, Any] | None = None
    reason: str | None = None
    available_at: datetime | None = None
    timeout_at: datetime | None = None


class RunCreate(_Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"workflow_id": "wf_01jf3v8k9q2m7x4c5b6n1p0r8t", "input": {"name": "Ada"}}]
        },
    )

    workflow_id: ID_FIELD
    input: Any = None


class Workflow(BaseModel):
    id: str
    org_id: str
    version: int
    name: str
    description: str | None
    nodes: list[NodeSpec]
    returns: Any
    timeout: int
    created_at: datetime


class NodeError(BaseModel):
    type: str
    message: str


class Attempt(BaseModel):
    """One try of a node: when it ran, how it ended, and when the next try starts."""

    attempt: int
    status: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    timeout_at: datetime | None = None
    available_at: datetime | None = Field(None, description="When the next attempt starts.")
    error: NodeError | None = None
    child_run_id: str | None = None
    heartbeat_at: datetime | None = Field(None, description="The last heartbeat signal.")
    heartbeats: int | None = None
    signal: dict[str, Any] | None = Field(
        None, description="The callback signal or the review that settled this attempt."
    )


class NodeLink(BaseModel):
    ref: str
    on: str = Field(description="success or error: the outcome of this node that leads there.")


class NodeExecution(BaseModel):
    ref: str
    kind: NodeKind
    status: NodeStatus
    attempt: int
    depends_on: list[str]
    position: int | None = Field(None, description="The node's place in the workflow's list.")
    action: str | None = Field(None, description="An action node's definition.")
    fallback: str | None = None
    retry: RetryPolicy | None = None
    children: list[NodeLink] = Field(
        default_factory=list, description="The nodes with an edge from this one (the graph)."
    )
    next: list[str] = Field(
        default_factory=list,
        description="Once settled: the children its outcome led to (success or error edges).",
    )
    skip_reason: str | None = None
    child_run_id: str | None = Field(None, description="A workflow node's current child run.")
    item_count: int | None = Field(None, description="A for_each node's number of items.")
    attempts: list[Attempt] = Field(default_factory=list)
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    available_at: datetime | None = Field(None, description="When the next attempt starts.")
    output: Any = None
    error: NodeError | None = None
    review: Review | None = Field(None, description="An approval node's review.")


class RunError(NodeError):
    node: str | None = None


class RunSummary(BaseModel):
    id: str
    org_id: str
    kind: str = Field("workflow", description="workflow (executed here) or external (reported).")
    role: str | None = Field(
        None,
        description="What started it: key (an API key), schedule, parent (a workflow node), batch.",
    )
    workflow_id: str
    workflow_version: int | None = Field(None, description="The version an engine run pinned.")
    flow_type: str | None = Field(None, description="An external run's flow type.")
    status: RunStatus
    parent_run_id: str | None = Field(None, description="Set on a child run (workflow node).")
    parent_node_ref: str | None = None
    batch_id: str | None = Field(None, description="The batch that started it (seed 004).")
    error: RunError | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reviewed_by: str | None = Field(None, description="Who reviewed an approval node last.")
    reviewed_at: datetime | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    created_by: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


class ExternalActionView(BaseModel):
    id: str
    phase: RunStatus
    start_time: datetime | None = None
    end_time: datetime | None = None


class Run(RunSummary):
    schedule_id: str | None = Field(None, description="The schedule that started it.")
    scheduled_at: datetime | None = Field(None, description="The time its schedule fired for.")
    input: Any = None
    output: Any = None
    nodes: list[NodeExecution]
    args: Any = Field(None, description="An external run's arguments.")
    actions: list[ExternalActionView] = Field(
        default_factory=list, description="An external run's actions and their phases."
    )
    outputs: Any = Field(None, description="What an external run reported as its outputs.")


T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    data: T
    errors: list[dict[str, str]] | None = None


class Page(BaseModel, Generic[T]):
    data: list[T]
    errors: list[dict[str, str]] | None = None
    next_page: str | None = Field(None, description="Cursor of the next (older) page.")
    current_page: str | None = Field(None, description="Cursor that repeats this page.")
    previous_page: str | None = Field(
        None, description="Cursor of the previous (newer) page, where there is one."
    )
    current_page_backwards: str | None = Field(
        None, description="Cursor that repeats this page from its other end, going newer."
    )
    total: int | None = Field(
        None, description="How many runs the filter matches, where a counter keeps it."
    )
