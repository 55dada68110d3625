"""What a destination's answer means for the attempt (pure).

Without signaling: 2xx completes the attempt with the JSON body as result; 4xx is permanent,
except 408 and 429; 5xx, 408, 429 and timeouts are retried, honouring ``Retry-After``. With
signaling, a 2xx answer is a signal (``ack`` waits for the callback), taken from the body's
``signal`` field or else the destination's default.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

RETRYABLE_4XX = frozenset({408, 429})
MAX_RETRY_AFTER_SECONDS = 24 * 3600


class Signal(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    ACK = "ack"
    HEARTBEAT = "heartbeat"


@dataclass(frozen=True)
class Outcome:
    """``success`` (with result), ``ack`` (wait for a callback) or ``failure``."""

    kind: Signal
    result: Any = None
    error_type: str | None = None
    message: str | None = None
    retryable: bool = False
    retry_after: int | None = None


def read_response(
    status: int,
    headers: dict[str, str],
    body: bytes,
    signaling_default: Signal | None = None,
    now: datetime | None = None,
) -> Outcome:
    """The attempt's outcome from an HTTP answer; ``signaling_default`` None means no signaling."""
    lowered = {k.lower(): v for k, v in headers.items()}
    payload = _json(body)
    if 200 <= status < 300:
        if signaling_default is None:
            return Outcome(Signal.SUCCESS, result=payload)
        signal = payload.get("signal") if isinstance(payload, dict) else None
        try:
            chosen = Signal(signal) if signal is not None else signaling_default
        except ValueError:
            return Outcome(
                Signal.FAILURE,
                error_type="InvalidSignal",
                message=f"the destination answered with signal {signal!r}",
            )
        if chosen == Signal.SUCCESS:
            result = payload.get("result") if isinstance(payload, dict) else payload
            return Outcome(Signal.SUCCESS, result=result)
        if chosen == Signal.FAILURE:
            error = payload.get("error") if isinstance(payload, dict) else None
            return Outcome(
                Signal.FAILURE,
                error_type="DestinationFailure",
                message=str(error or "the destination signalled failure"),
            )
        return Outcome(Signal.ACK)
    retryable = status >= 500 or status in RETRYABLE_4XX
    return Outcome(
        Signal.FAILURE,
        error_type=f"HTTP{status}",
        message=f"the destination answered HTTP {status}",
        retryable=retryable,
        retry_after=retry_after_seconds(lowered.get("retry-after"), now) if retryable else None,
    )


def retry_after_seconds(value: str | None, now: datetime | None = None) -> int | None:
    """``Retry-After`` as whole seconds (delta-seconds or an HTTP date), capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(int(value), MAX_RETRY_AFTER_SECONDS)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return max(0, min(int(seconds + 0.999), MAX_RETRY_AFTER_SECONDS))


def _json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
