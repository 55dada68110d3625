"""EventBridge: putting one event on a bus. What the event says is its domain's."""

import json
from typing import Any

from stepwise.infra import aws


class PutFailed(Exception):
    """EventBridge did not take the event; the message is its answer's entries (JSON)."""


def put(bus_name: str, source: str, detail_type: str, detail: dict[str, Any]) -> None:
    """Puts one event on ``bus_name``; PutFailed when EventBridge does not take it."""
    answer = aws.client("events").put_events(
        Entries=[
            {
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail, default=str),
                "EventBusName": bus_name,
            }
        ]
    )
    if answer.get("FailedEntryCount"):
        raise PutFailed(json.dumps(answer.get("Entries"), default=str))
