"""Runs as the API shows them: what starts one, and a run with its nodes and attempts."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stepwise.actions.signal_models import Review
from stepwise.core.fields import ID_FIELD, JSON, TAGS
from stepwise.core.statuses import NodeKind, NodeStatus, RunStatus
from stepwise.workflows.models import RetryPolicy, _Input


class RunCancel(_Input):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "superseded by a newer run"}]}
    )

    reason: str | None = Field(None, max_length=1000)


class RunPause(_Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "the payments API is down: hold new charges"}]},
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
    result_omitted: bool = Field(
        False,
        description="On NODE_SUCCEEDED: the output is stored apart (over 64 KB of JSON) and not "
        "in this page: GET /runs/{run_id}/nodes/{ref} has it.",
    )
    failure: dict[str, Any] | None = None
    reason: str | None = None
    by: str | None = Field(
        None, description="Who paused or resumed the run (RUN_PAUSED, RUN_RESUMED)."
    )
    available_at: datetime | None = None
    timeout_at: datetime | None = None
    by: str | None = Field(None, description="On RUN_REDRIVEN: who asked (key:<name>).")
    key_id: str | None = Field(None, description="On RUN_REDRIVEN: the id of that API key.")
    workflow_version: int | None = Field(None, description="On RUN_REDRIVEN: the version run.")
    review: Review | None = Field(None, description="On NODE_REVIEWED: the review.")


class RunCreate(_Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "workflow_id": "wf_01jf3v8k9q2m7x4c5b6n1p0r8t",
                    "input": {"name": "Ada"},
                    "tags": {"team": "web", "ticket": "ops-42"},
                }
            ]
        },
    )

    workflow_id: ID_FIELD
    input: JSON = None
    tags: TAGS = Field(
        default_factory=dict,
        description="Indexed with the run as it is created: GET /runs?tag=key=value finds it "
        "at once. At most 50.",
    )


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
    reviews: list[Review] | None = Field(
        None, description="An approval attempt's reviews, in the order they were recorded."
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
    items_done: int | None = Field(
        None,
        description="A for_each node's items whose chunk has finished (progress by chunk).",
    )
    attempts: list[Attempt] = Field(default_factory=list)
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    available_at: datetime | None = Field(None, description="When the next attempt starts.")
    output: Any = None
    output_omitted: bool = Field(
        False,
        description="The output is stored apart (over 64 KB of JSON) and not in this answer: "
        "GET /runs/{run_id}/nodes/{ref} has it.",
    )
    error: NodeError | None = None
    review: Review | None = Field(None, description="An approval node's latest review.")
    reviews: list[Review] | None = Field(
        None,
        description="An approval node's reviews of its current attempt, in order (a retry "
        "after a timeout counts afresh).",
    )
    approvals_required: int | None = Field(
        None, description="An approval node: the distinct keys that must approve."
    )
    approvals_received: int | None = Field(
        None, description="An approval node: the approvals its current attempt has."
    )


class RunError(NodeError):
    node: str | None = None


class RunSummary(BaseModel):
    id: str
    org_id: str
    kind: str = Field("workflow", description="workflow (executed here) or external (reported).")
    role: str | None = Field(
        None,
        description="What started it: key (an API key), schedule, parent (a workflow node), "
        "batch, handler (its workflow's on_failure, for the run in handles_run_id).",
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
    created_by_key: str | None = Field(
        None, description="The id of the API key that started it (or its batch)."
    )
    schedule_id: str | None = Field(None, description="The schedule that started it.")
    scheduled_at: datetime | None = Field(None, description="The time its schedule fired for.")
    # Not on RunSummary: the list indexes do not project them (role handler is).
    handles_run_id: str | None = Field(
        None, description="On a failure handler run (role handler): the run whose failure it is."
    )
    handler_run_ids: list[str] = Field(
        default_factory=list,
        description="The failure handler runs this run's failures started (on_failure), oldest "
        "first.",
    )
    handler_error: NodeError | None = Field(
        None, description="Why the handler of this run's last failure could not be started."
    )
    input: Any = None
    output: Any = None
    nodes: list[NodeExecution]
    args: Any = Field(None, description="An external run's arguments.")
    actions: list[ExternalActionView] = Field(
        default_factory=list, description="An external run's actions and their phases."
    )
    outputs: Any = Field(None, description="What an external run reported as its outputs.")
    # Repairs (runs/redrive.py, runs/rerun.py): on the run itself, not in lists (the run
    # indexes do not project them).
    redrive_count: int = Field(0, description="How often the run was redriven.")
    redriven_at: datetime | None = Field(None, description="Its last redrive.")
    rerun_of: str | None = Field(None, description="The run this one reruns (from a node).")
    reruns: list[str] = Field(default_factory=list, description="The runs that rerun this one.")
