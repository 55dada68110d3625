"""SQS: sending JSON messages to a queue. What a message says is its domain's."""

import json
import random
import time
from typing import Any

from botocore.exceptions import ClientError

from stepwise.infra import aws

_SEND_BATCH_LIMIT = 10  # SendMessageBatch's entries
# SendMessageBatch answers 200 and lists the entries it did not take; one that is not the
# sender's fault (SenderFault false: throttled, an internal error) is sent again, alone, with
# full-jitter backoff. The others were queued and are not sent twice.
SEND_ATTEMPTS = 6
SEND_BASE_SECONDS = 0.1
SEND_CAP_SECONDS = 2.0


class SendFailed(Exception):
    """SQS did not take every message (refused the call, or some of its entries)."""


def send(queue_url: str, message: dict[str, Any]) -> None:
    """Queues one message."""
    aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))


def send_later(queue_url: str, message: dict[str, Any], delay_seconds: int = 0) -> None:
    """Queues one message, invisible for ``delay_seconds`` (SQS takes 0 to 900); SendFailed
    when SQS refuses it."""
    try:
        aws.client("sqs").send_message(
            QueueUrl=queue_url, MessageBody=json.dumps(message), DelaySeconds=delay_seconds
        )
    except ClientError as exc:
        raise SendFailed(str(exc)) from exc


def send_all(queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Queues the messages, ten to a call; SendFailed if any of them could not be queued."""
    for start in range(0, len(messages), _SEND_BATCH_LIMIT):
        _send_batch(queue_url, messages[start : start + _SEND_BATCH_LIMIT])


def _send_batch(queue_url: str, group: list[dict[str, Any]]) -> None:
    sqs = aws.client("sqs")
    pending = {str(i): json.dumps(m) for i, m in enumerate(group)}
    for attempt in range(SEND_ATTEMPTS):
        try:
            answer = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": i, "MessageBody": body} for i, body in pending.items()],
            )
        except ClientError as exc:
            raise SendFailed(str(exc)) from exc
        failed = answer.get("Failed") or []
        if not failed:
            return
        permanent = [f for f in failed if f.get("SenderFault", True)]
        if permanent or attempt == SEND_ATTEMPTS - 1:
            failure = (permanent or failed)[0]
            raise SendFailed(f"{failure['Code']}: {failure.get('Message', '')}")
        pending = {f["Id"]: pending[f["Id"]] for f in failed}
        ceiling = min(SEND_CAP_SECONDS, SEND_BASE_SECONDS * 2**attempt)
        time.sleep(random.uniform(0, ceiling))  # noqa: S311 (jitter, not a secret)
