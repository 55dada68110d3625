"""Makes the stack's lifecycle events visible locally: an EventBridge rule on the stack's bus
(``source: stepwise``) sends them to an SQS queue, as a consumer's rule would; ``collect()``
takes them from there, logs each one, and appends it to a JSON Lines file when one is set.
"""

import json
import threading
from pathlib import Path
from typing import Any

from stepwise.core.observability import logger
from stepwise_local.provision import local_client

QUEUE_NAME = "stepwise-local-lifecycle-events"
RULE_NAME = "stepwise-local-lifecycle-events"


class LifecycleEventLog:
    def __init__(self, bus_name: str, path: Path | None = None):
        self.path = path
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        sqs = local_client("sqs")
        self.queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events = local_client("events")
        if bus_name != "default":
            events.create_event_bus(Name=bus_name)
        events.put_rule(
            Name=RULE_NAME,
            EventBusName=bus_name,
            EventPattern=json.dumps({"source": ["stepwise"]}),
        )
        events.put_targets(
            Rule=RULE_NAME, EventBusName=bus_name, Targets=[{"Id": "local", "Arn": queue_arn}]
        )

    def collect(self) -> list[dict[str, Any]]:
        """Takes every event waiting on the queue; the new ones."""
        sqs = local_client("sqs")
        new: list[dict[str, Any]] = []
        with self._lock:
            while True:
                answer = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
                messages = answer.get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    event = json.loads(message["Body"])
                    new.append(event)
                    logger.info(
                        "lifecycle event",
                        extra={"detail_type": event.get("detail-type"), "detail": event["detail"]},
                    )
                    sqs.delete_message(
                        QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
            self._events.extend(new)
            if new and self.path is not None:
                with self.path.open("a") as sink:
                    for event in new:
                        sink.write(json.dumps(event) + "\n")
        return new

    def events(self) -> list[dict[str, Any]]:
        """Every lifecycle event so far, oldest first."""
        self.collect()
        with self._lock:
            return list(self._events)
