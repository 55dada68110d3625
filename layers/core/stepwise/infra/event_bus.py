"""EventBridge: putting one event on a bus. What the event says is its domain's."""

import json
import random
import time
from typing import Any

from stepwise.infra import aws

# PutEvents answers 200 and reports a failed entry in its result. These codes mean EventBridge
# did not take the entry but may on another try (its docs call them retryable); anything else
# (MalformedDetail, AccessDenied...) will fail again.
_RETRYABLE_ENTRY_CODES = frozenset({"InternalFailure", "ThrottlingException"})
PUT_ATTEMPTS = 6
PUT_BASE_SECONDS = 0.1
PUT_CAP_SECONDS = 2.0


class PutFailed(Exception):
    """EventBridge did not take the event; the message is its answer's entries (JSON)."""


def put(bus_name: str, source: str, detail_type: str, detail: dict[str, Any]) -> None:
    """Puts one event on ``bus_name``; PutFailed when EventBridge does not take it (an entry it
    refused for throttling or an internal failure is put again, with full-jitter backoff)."""
    entry = {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, default=str),
        "EventBusName": bus_name,
    }
    for attempt in range(PUT_ATTEMPTS):
        answer = aws.client("events").put_events(Entries=[entry])
        if not answer.get("FailedEntryCount"):
            return
        codes = {e.get("ErrorCode") for e in answer.get("Entries", []) if e.get("ErrorCode")}
        if attempt == PUT_ATTEMPTS - 1 or not codes <= _RETRYABLE_ENTRY_CODES:
            raise PutFailed(json.dumps(answer.get("Entries"), default=str))
        ceiling = min(PUT_CAP_SECONDS, PUT_BASE_SECONDS * 2**attempt)
        time.sleep(random.uniform(0, ceiling))  # noqa: S311 (jitter, not a secret)
