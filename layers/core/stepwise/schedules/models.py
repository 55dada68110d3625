"""Request and response shapes of schedules."""

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stepwise.core.fields import JSON, TAGS
from stepwise.infra.payloads import dumps
from stepwise.schedules import expressions

_ID = Annotated[str, Field(pattern=r"^[a-z0-9_.-]+$", max_length=128)]


class OverlapPolicy(StrEnum):
    ALLOW = "allow"  # start a run at every scheduled time
    SKIP = "skip"  # no new run while the schedule's previous run is still going


def _checked_by(check: Callable[[str], object]) -> Callable[[str | None], str | None]:
    """A field validator from one of schedule_expressions' checks (its message kept)."""

    def validate(value: str | None) -> str | None:
        if value is not None:
            try:
                check(value)
            except expressions.InvalidExpression as exc:
                raise ValueError(str(exc)) from None
        return value

    return validate


_expression = _checked_by(expressions.parse)
_timezone = _checked_by(expressions.zone)

# A schedule's input is kept in its item and copied into each run it starts.
MAX_SCHEDULE_INPUT_BYTES = 64 * 1024


def _input(value: Any) -> Any:
    size = len(dumps(value).encode())
    if size > MAX_SCHEDULE_INPUT_BYTES:
        limit = MAX_SCHEDULE_INPUT_BYTES
        raise ValueError(f"the input is {size} bytes of JSON; at most {limit} are allowed")
    return value


_EXAMPLE = {
    "name": "nightly report",
    "expression": "cron(0 2 ? * MON-FRI *)",
    "timezone": "Europe/Berlin",
    "workflow_id": "wf_01jf3v8k9q2m7x4c5b6n1p0r8t",
    "input": {"report": "daily"},
    "overlap": "skip",
    "tags": {"team": "finance"},
}


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    expression: str = Field(
        max_length=256,
        description="EventBridge Scheduler 'rate(value unit)' or six-field 'cron(...)'.",
    )
    timezone: str = Field("UTC", max_length=64, description="IANA name the cron is read in.")
    workflow_id: _ID
    workflow_version: int | None = Field(
        None, ge=1, description="A pinned version; none means the latest when the schedule fires."
    )
    input: JSON = None
    enabled: bool = True
    overlap: OverlapPolicy = Field(
        OverlapPolicy.ALLOW,
        description="skip: no new run while this schedule's previous run is still going.",
    )
    tags: TAGS = Field(
        default_factory=dict,
        description="The schedule's tags, which every run it starts carries from its creation.",
    )

    _check_expression = field_validator("expression")(_expression)
    _check_timezone = field_validator("timezone")(_timezone)
    _check_input = field_validator("input")(_input)


class ScheduleUpdate(BaseModel):
    """PATCH: the fields given replace the schedule's; ``workflow_version`` null unpins it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": False}]})

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    expression: str | None = Field(None, max_length=256)
    timezone: str | None = Field(None, max_length=64)
    workflow_id: _ID | None = None
    workflow_version: int | None = Field(None, ge=1)
    input: JSON = None
    enabled: bool | None = None
    overlap: OverlapPolicy | None = None
    tags: TAGS | None = Field(None, description="Replaces the tags of the runs it starts next.")

    _check_expression = field_validator("expression")(_expression)
    _check_timezone = field_validator("timezone")(_timezone)
    _check_input = field_validator("input")(_input)


class Schedule(BaseModel):
    id: str
    org_id: str
    name: str
    description: str | None = None
    expression: str
    timezone: str
    workflow_id: str
    workflow_version: int | None = None
    input: Any = None
    enabled: bool
    overlap: OverlapPolicy
    tags: dict[str, str] = Field(default_factory=dict)
    created_at: datetime
    created_by: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None
    next_fire_at: datetime | None = Field(
        None, description="When it fires next (none while disabled, or once a cron has ended)."
    )
    last_fired_at: datetime | None = Field(None, description="The last scheduled time handled.")
    last_run_id: str | None = Field(None, description="The run its last firing started.")
    runs_started: int = 0
    runs_skipped: int = Field(
        0, description="Scheduled times that started no run: the overlap policy, or a quota."
    )
    last_skip_reason: str | None = Field(
        None,
        description="Why the last firing started no run (the overlap policy, or the quota "
        "open_runs_per_org by name); cleared when a firing starts one.",
    )
