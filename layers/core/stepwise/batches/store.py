"""Batches in the table: the batch item and the items of its chunks."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from stepwise.batches.models import BatchStatus
from stepwise.core.observability import logger
from stepwise.infra import dynamo, keys
from stepwise.runs import counters


class RunExists(Exception):
    """The run was created meanwhile (by another delivery of the same chunk)."""


@contextmanager
def new_run() -> Iterator[None]:
    """Raises the write refused because the run exists already as RunExists.

    The store raises DynamoDB's own error for it; this keeps that error at the edge."""
    try:
        yield
    except ClientError as exc:
        if dynamo.condition_failed(exc):
            raise RunExists from exc
        raise


class BatchStore:
    def __init__(self, table: str):
        self.table = table

    def create(
        self, org_id: str, batch_id: str, batch: dict[str, Any], chunks: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Writes the batch and its chunks (``chunks[n]`` is chunk ``n``), all or none; the
        batch item as written."""
        item = {**keys.batch(org_id, batch_id), **batch}
        chunk_items = [
            {**keys.batch_chunk(org_id, batch_id, number), **chunk}
            for number, chunk in enumerate(chunks)
        ]
        # At most 1 + 1000 / 25 items of at most 64 KB each: within a transaction's limits.
        dynamo.write_all([dynamo.put_new_item(self.table, i) for i in (item, *chunk_items)])
        return item

    def get(self, org_id: str, batch_id: str) -> dict[str, Any] | None:
        """The batch item with its runs' counts (``runs``, ``status:<s>``) summed over their
        shards (``runs/counters.py``); None if there is no such batch."""
        return counters.read_batch(self.table, org_id, batch_id)

    def chunk(self, org_id: str, batch_id: str, chunk: int) -> dict[str, Any] | None:
        return dynamo.get_item(self.table, keys.batch_chunk(org_id, batch_id, chunk))

    def mark_started(self, org_id: str, batch_id: str, at: str) -> None:
        """``started`` (at ``at``) once every run exists; a no-op before, or once done.

        The runs are counted on shards, which no condition on the batch item can read: the
        consistent read of them follows the caller's own run creations, so whichever chunk
        creates the last run sees them all."""
        batch = self.get(org_id, batch_id)
        if batch is None or int(batch.get(keys.BATCH_RUNS, 0)) < int(batch["total"]):
            return
        dynamo.update_item(
            self.table,
            keys.batch(org_id, batch_id),
            "SET #status = :started, started_at = :now",
            {
                ":started": str(BatchStatus.STARTED),
                ":starting": str(BatchStatus.STARTING),
                ":now": at,
            },
            condition="#status = :starting",
            names={"#status": "status"},
        )

    def forget(self, org_id: str, batch_id: str, chunks: int) -> None:
        """Deletes a batch and its chunks; a failure is logged, not raised."""
        deletes = [keys.batch(org_id, batch_id)]
        deletes += [keys.batch_chunk(org_id, batch_id, n) for n in range(chunks)]
        try:
            dynamo.write_all(
                [{"Delete": {"TableName": self.table, "Key": dynamo.to_item(k)}} for k in deletes]
            )
        except ClientError:  # it stays "starting" with no run: never started twice
            logger.exception("could not forget the batch", extra={"batch_id": batch_id})
