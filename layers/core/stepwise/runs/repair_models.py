"""What a redrive and a rerun take (runs/redrive.py, runs/rerun.py)."""

from pydantic import ConfigDict, Field

from stepwise.core.fields import JSON
from stepwise.workflows.models import REF_PATTERN, _Input


class RunRedrive(_Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"reason": "the CRM was down; it is back"},
                {"workflow_version": 3, "input": {"name": "Ada"}, "reason": "fixed node c"},
            ]
        },
    )

    input: JSON = Field(
        None, description="Replaces the run input for the nodes that run again (omit to keep it)."
    )
    workflow_version: int | None = Field(
        None, ge=1, description="A newer version of the run's workflow to redrive onto."
    )
    reason: str | None = Field(None, max_length=1000, description="Why: kept in the history.")


class RunRerun(_Input):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [{"from": "c"}, {"from": "c", "input": {"n": 4}, "workflow_version": 2}]
        },
    )

    from_: str = Field(
        alias="from",
        pattern=REF_PATTERN,
        description="The node to run from: it and every node downstream run again.",
    )
    input: JSON = Field(None, description="The new run's input (omit to take the old run's).")
    workflow_version: int | None = Field(
        None, ge=1, description="A newer version of the workflow to run (default: the run's)."
    )
