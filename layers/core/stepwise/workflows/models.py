"""Workflow definitions: what a caller sends (nodes, retry policies) and what is stored."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from stepwise.core.fields import ID_FIELD, JSON
from stepwise.core.settings import MAX_NODES_PER_WORKFLOW
from stepwise.core.statuses import NodeKind
from stepwise.engine.joins import JoinStrategy

REF_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
DEFAULT_RUN_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_RUN_TIMEOUT_SECONDS = 365 * 24 * 3600 - 3600  # under the one-year Standard execution limit


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


MAX_DELAY_SECONDS = MAX_RUN_TIMEOUT_SECONDS
MAX_FOR_EACH_CONCURRENCY = 40
MAX_REQUIRED_APPROVALS = 20


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
    args: JSON = Field(default_factory=dict, description="JSON with {{ expr }} templates.")
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
    required_approvals: int | None = Field(
        None,
        ge=1,
        le=MAX_REQUIRED_APPROVALS,
        examples=[2],
        description="An approval node: how many distinct API keys must approve (default 1); "
        "one rejection fails the node.",
    )
    emit_event: bool = Field(
        False,
        description="On success, record an event: the output as payload, listed under GET "
        "/workflows/{id}/nodes/{ref}/events. It costs one more DynamoDB write unit per KB of "
        "event (4 in all for a transform with a small output, instead of 3).",
    )


class OnFailure(_Input):
    """A workflow started when a run of this one fails or times out (engine.md, Failure
    handlers)."""

    workflow_id: ID_FIELD = Field(
        description="The handler workflow (its latest version when a run fails); must exist."
    )
    input: JSON = Field(
        None,
        description="The handler run's input: JSON with {{ expr }} templates over {run: {id, "
        "status, workflow_id, version, error, failed_nodes: [{ref, error}], tags}}. Default "
        "(absent or null): {run: ...} itself.",
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
                    "on_failure": {
                        "workflow_id": "wf_01jf3v9a7c4n2m8x5b6k1p0r3s",
                        "input": {"failed": "{{ run.id }}", "nodes": "{{ run.failed_nodes }}"},
                    },
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    nodes: list[NodeSpec] = Field(max_length=MAX_NODES_PER_WORKFLOW)
    returns: JSON = Field(
        None, description="Template for the run's output; default: the leaf nodes' outputs."
    )
    timeout: int = Field(
        DEFAULT_RUN_TIMEOUT_SECONDS,
        ge=1,
        le=MAX_RUN_TIMEOUT_SECONDS,
        description="Seconds a run may take before it ends timed_out.",
    )
    on_failure: OnFailure | None = Field(
        None,
        description="A workflow to start when a run of this one fails or times out (not when "
        "cancelled), with the failed run in its input.",
    )


class Workflow(BaseModel):
    id: str
    org_id: str
    version: int
    name: str
    description: str | None
    nodes: list[NodeSpec]
    returns: Any
    timeout: int
    on_failure: OnFailure | None = None
    created_at: datetime
    # The nodes that run as Express executions (workflows/machines.py), chosen when the version
    # was saved; None for a version saved before the choice existed: all Standard. Internal.
    _express_nodes: frozenset[str] | None = PrivateAttr(None)

    @property
    def express_nodes(self) -> frozenset[str]:
        return self._express_nodes or frozenset()


class WorkflowSummary(BaseModel):
    """A workflow in a list: its latest version's name, without the graph (GET /workflows/{id}
    has it)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "wf_01jd3k9x2m4n5p6q7r8s9t0v1w",
                    "name": "diamond",
                    "description": "a feeds b and c; d joins them",
                    "latest_version": 3,
                    "created_at": "2026-11-28T16:02:10.512000Z",
                    "updated_at": "2026-11-30T09:12:44.120000Z",
                }
            ]
        }
    )

    id: str
    name: str
    description: str | None = None
    latest_version: int
    created_at: datetime
    updated_at: datetime | None = None
