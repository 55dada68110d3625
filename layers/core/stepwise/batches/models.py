"""Batches (seed 004's batchUuid): the request that starts them and the view that counts them."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from stepwise.actions.models import TAGS
from stepwise.core.fields import ID_FIELD, JSON

MAX_BATCH_INPUTS = 1000
MAX_BATCH_INPUT_BYTES = 256 * 1024  # per input, as compact JSON


class BatchStatus(StrEnum):
    STARTING = "starting"  # accepted; its runs are being created
    STARTED = "started"  # every run exists (each then goes its own way)


class BatchCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"workflow_id": "wf_01example", "inputs": [{"n": 1}, {"n": 2}], "tags": {"a": "b"}}
            ]
        },
    )

    workflow_id: ID_FIELD = Field(description="Every run is of this workflow's latest version.")
    inputs: list[JSON] = Field(
        min_length=1,
        max_length=MAX_BATCH_INPUTS,
        description=f"One run per input, in order; each at most {MAX_BATCH_INPUT_BYTES} bytes "
        "of JSON. Input i becomes run run_<the batch's id>.<i, 4 digits>.",
    )
    tags: TAGS = Field(
        default_factory=dict,
        description="The batch's tags, which every run of the batch carries from its creation "
        "(GET /runs?tag=key=value finds them).",
    )


class BatchCounts(BaseModel):
    """How many of the batch's runs are in each status now."""

    queued: int = 0
    running: int = 0
    paused: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    timed_out: int = 0


class Batch(BaseModel):
    id: str
    org_id: str
    workflow_id: str
    workflow_version: int = Field(description="The version every run of the batch pins.")
    status: BatchStatus
    total: int = Field(description="How many runs the batch starts (its inputs).")
    runs: int = Field(description="How many of them exist so far (total once started).")
    counts: BatchCounts
    settled: bool = Field(description="Every run exists and has ended.")
    tags: dict[str, str] = Field(default_factory=dict)
    created_at: datetime
    created_by: str | None = None
    started_at: datetime | None = Field(None, description="When the last run was created.")
