"""Request and response shapes of signals (callbacks) and approval reviews."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from stepwise.actions.webhooks.responses import Signal
from stepwise.core.fields import JSON


class SignalError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field("DestinationFailure", max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")
    message: str = Field("", max_length=4000)


class SignalBody(BaseModel):
    """A destination's callback for one attempt: its outcome, or a sign of life."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"signal": "success", "result": {"ticket": "T-17"}},
                {"signal": "failure", "error": {"type": "Rejected", "message": "no stock"}},
                {"signal": "heartbeat"},
            ]
        },
    )

    signal: Signal = Field(
        description="success or failure settle the attempt; heartbeat (or ack) extends its wait."
    )
    result: JSON = Field(None, description="The attempt's result (success).")
    error: SignalError | str | None = Field(None, description="Why it failed (failure).")
    retryable: bool = Field(
        False, description="A failure the node's retry policy may try again (default: final)."
    )


class SignalStatus(StrEnum):
    ACCEPTED = "accepted"
    ALREADY_SETTLED = "already_settled"


class SignalReceipt(BaseModel):
    status: SignalStatus
    record: str = Field(description="The action record the signal is for ({run}.{node}).")
    attempt: int
    signal: Signal
    message: str


class ReviewDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ReviewCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"decision": "approve", "comment": "looks right"}]},
    )

    decision: ReviewDecision
    comment: str | None = Field(None, max_length=2000)


class Review(BaseModel):
    """An approval node's review (seed 001 interactions, seed 002 reviewed_by / reviewed_at)."""

    decision: ReviewDecision
    comment: str | None = None
    reviewed_by: str
    reviewed_by_key: str | None = Field(None, description="The id of the API key that reviewed.")
    reviewed_at: datetime
