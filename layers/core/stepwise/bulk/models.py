"""Bulk actions: the request (an action over every run a filter matches) and the job's view."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from stepwise.core.fields import ID_FIELD
from stepwise.core.ids import BATCH_ID_PATTERN
from stepwise.core.statuses import RunStatus
from stepwise.runs.queries import MAX_TAG_FILTERS


class BulkAction(StrEnum):
    CANCEL = "cancel"
    PAUSE = "pause"
    RESUME = "resume"
    REDRIVE = "redrive"


class BulkStatus(StrEnum):
    QUEUED = "queued"  # accepted; its first page is on the queue
    RUNNING = "running"  # pages are being worked through
    SUCCEEDED = "succeeded"  # every page is done (each run's outcome is in the counts)
    FAILED = "failed"  # a page failed on every delivery: the job stopped there (see error)


class BulkFilter(BaseModel):
    """The query parameters of ``GET /runs``, as fields."""

    model_config = ConfigDict(extra="forbid")

    status: RunStatus | None = None
    workflow_id: ID_FIELD | None = None
    parent_run_id: str | None = Field(None, max_length=512)
    batch_id: str | None = Field(None, pattern=BATCH_ID_PATTERN)
    created_after: datetime | None = None
    created_before: datetime | None = None
    tag: list[str] = Field(
        default_factory=list,
        max_length=MAX_TAG_FILTERS,
        description="key=value (split at the first '='): runs with every tag.",
    )


class BulkCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "action": "pause",
                    "filter": {"status": "running", "tag": ["team=billing"]},
                    "reason": "the billing API is down",
                }
            ]
        },
    )

    action: BulkAction
    filter: BulkFilter = Field(default_factory=BulkFilter)
    reason: str | None = Field(None, max_length=1000)


class BulkJob(BaseModel):
    """A bulk action and how far it got. Counts are exact: each run counts once, however often
    its page was delivered."""

    id: str
    org_id: str
    action: BulkAction
    filter: BulkFilter
    reason: str | None = None
    status: BulkStatus
    matched: int = Field(0, description="Runs the filter matched so far (all, once done).")
    done: int = Field(0, description="Runs the action changed.")
    skipped: int = Field(0, description="Runs the action did not apply to (see skip_reasons).")
    skip_reasons: dict[str, int] = Field(
        default_factory=dict,
        description="Skipped runs by reason: ended, finishing, external, already_paused, "
        "not_paused, not_found.",
    )
    failed: int = Field(0, description="Runs whose action raised an error (see the logs).")
    pages: int = Field(0, description="Pages of runs worked through.")
    error: str | None = Field(None, description="Why the job failed.")
    created_at: datetime
    created_by: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
