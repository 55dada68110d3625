"""SQS: sending JSON messages to a queue. What a message says is its domain's."""

import json
from typing import Any

from botocore.exceptions import ClientError

from stepwise.infra import aws

_SEND_BATCH_LIMIT = 10  # SendMessageBatch's entries


class SendFailed(Exception):
    """SQS did not take every message (refused the call, or some of its entries)."""


def send(queue_url: str, message: dict[str, Any]) -> None:
    """Queues one message."""
    aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))


def send_all(queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Queues the messages, ten to a call; SendFailed if any of them could not be queued."""
    sqs = aws.client("sqs")
    for start in range(0, len(messages), _SEND_BATCH_LIMIT):
        group = messages[start : start + _SEND_BATCH_LIMIT]
        try:
            answer = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "MessageBody": json.dumps(m)} for i, m in enumerate(group)],
            )
        except ClientError as exc:
            raise SendFailed(str(exc)) from exc
        if answer.get("Failed"):
            failure = answer["Failed"][0]
            raise SendFailed(f"{failure['Code']}: {failure.get('Message', '')}")
