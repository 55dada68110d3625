"""Polls an SQS queue and invokes its function the way Lambda's event source mapping does:
batches, ``ReportBatchItemFailures`` (failed messages stay and come back after the visibility
timeout, then go to the DLQ by the queue's redrive policy), successes deleted."""

import hashlib
import threading
from typing import Any

from stepwise_local import call_log, lambdas, wakeups
from stepwise_local.provision import local_client
from stepwise_local.template import REGION


class QueuePoller:
    def __init__(self, queue_url: str, queue_arn: str, function_name: str, batch_size: int):
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.function_name = function_name
        self.batch_size = batch_size
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poll:{function_name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        wakeups.notify(wakeups.queue_name(self.queue_url))
        self._thread.join(timeout=10)

    def poll_once(self) -> int:
        """One receive-invoke-delete round; the number of messages it received."""
        # An event source mapping receives and deletes with its function's role.
        with call_log.acting_as(self.function_name):
            return self._poll_once()

    def _poll_once(self) -> int:
        sqs = local_client("sqs")
        messages = sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._record(m) for m in messages]}
        try:
            answer = lambdas.invoke(self.function_name, event) or {}
        except Exception:  # noqa: BLE001 a crashed invocation fails the whole batch, as in Lambda
            answer = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}
        failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        return len(messages)

    def _run(self) -> None:
        name = wakeups.queue_name(self.queue_url)
        while not self._stop.is_set():
            seen = wakeups.version(name)
            if self.poll_once():
                continue
            if wakeups.installed():
                wakeups.sleep(name, seen, self._stop)  # until a message can be received
            else:
                self._stop.wait(0.05)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324 (SQS's own checksum)
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }
