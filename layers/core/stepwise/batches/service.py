"""Batches: one run per input, started in the background so that 1,000 fit in one request.

``POST /batches`` checks the workflow and the inputs, writes the batch with its inputs in chunks
of ``CHUNK_SIZE`` (one transaction; a large chunk's inputs go to S3), and queues one message on
BatchQueue. The batches function fans that message out into one message per chunk, and each
chunk message creates and starts its runs. Run ids are ``run_<the batch's ULID>.<index>``, so a
redelivered message finds the runs it started (starting the execution of one left queued) and
creates only those that are missing.

A run's creation adds to its batch's ``runs`` and status counts, and every status change moves
them, each in the transaction of the run's own write (``Store``), on the counter shard of the
run (``runs/counters.py``): the counts are exact, no burst of runs contends on one item, GET
reads the batch and its shards in one BatchGetItem, and the batch is ``started`` once ``runs``
reaches its total.
"""

from datetime import timedelta
from typing import Any

from stepwise.batches.models import (
    MAX_BATCH_INPUT_BYTES,
    Batch,
    BatchCounts,
    BatchCreate,
    BatchStatus,
)
from stepwise.batches.store import BatchStore, RunExists, new_run
from stepwise.core.clock import iso, now, now_iso
from stepwise.core.errors import NotFound, ServiceUnavailable, ValidationFailed, field_error
from stepwise.core.ids import batch_run_id, new_id
from stepwise.core.observability import logger
from stepwise.core.statuses import RUN_TERMINAL, RunStatus
from stepwise.infra import keys, queues
from stepwise.infra.payloads import dumps
from stepwise.runs import quotas, run_queue
from stepwise.runs.starts import start_workflow_run
from stepwise.store import Store
from stepwise.workflows.models import Workflow

CHUNK_SIZE = 25  # runs one message starts: about 2 to 5 seconds of the function's time
# The batch outlives its last run: created up to minutes after it, kept as long.
_KEEP_AFTER_RUNS = timedelta(days=1)


class Batches:
    def __init__(self, store: Store, queue_url: str, run_queue_url: str):
        self.store = store
        self.table = store.table
        self.batch_store = BatchStore(store.table)
        self.queue_url = queue_url
        self.run_queue_url = run_queue_url

    # -- the API's operations -------------------------------------------------------------------

    def create(
        self, org_id: str, body: BatchCreate, actor: str, actor_key: str | None = None
    ) -> dict[str, Any]:
        """Saves the batch (``starting``) and queues it; the batch item as written.

        If it cannot be queued, nothing is left behind and the caller gets ServiceUnavailable."""
        workflow = self._workflow(org_id, body.workflow_id)
        _check_sizes(body.inputs)
        # Every input becomes an open run: refused whole (429 naming the quota) rather than
        # accepted and then started past it in the background.
        quotas.check_open_runs(self.store, org_id, adding=len(body.inputs))
        batch_id = new_id("bat")
        at = now()
        chunks = [
            body.inputs[start : start + CHUNK_SIZE]
            for start in range(0, len(body.inputs), CHUNK_SIZE)
        ]
        expires_at = int(
            (
                at + timedelta(seconds=workflow.timeout) + self.store.retention + _KEEP_AFTER_RUNS
            ).timestamp()
        )
        batch = {
            "org_id": org_id,
            "batch_id": batch_id,
            "workflow_id": workflow.id,
            "workflow_version": workflow.version,
            "status": str(BatchStatus.STARTING),
            "total": len(body.inputs),
            "chunks": len(chunks),
            "tags": body.tags,
            "created_at": iso(at),
            "created_by": actor,
            **({"created_by_key": actor_key} if actor_key else {}),
            "expires_at": expires_at,
        }
        chunk_items = [
            {
                "first": number * CHUNK_SIZE,
                "expires_at": expires_at,
                **self.store.payloads.attributes(
                    "inputs", inputs, keys.batch_chunk_object(org_id, batch_id, number)
                ),
            }
            for number, inputs in enumerate(chunks)
        ]
        item = self.batch_store.create(org_id, batch_id, batch, chunk_items)
        try:
            self._send([{"org_id": org_id, "batch_id": batch_id}])
        except queues.SendFailed:
            logger.exception("could not queue the batch", extra={"batch_id": batch_id})
            self.batch_store.forget(org_id, batch_id, len(chunks))
            raise ServiceUnavailable("the batch could not be queued; try again") from None
        logger.info("batch accepted", extra={"batch_id": batch_id, "total": len(body.inputs)})
        return item

    def get(self, org_id: str, batch_id: str) -> dict[str, Any]:
        item = self.batch_store.get(org_id, batch_id)
        if item is None:
            raise NotFound("batch", batch_id)
        return item

    def find(self, org_id: str, batch_id: str) -> dict[str, Any] | None:
        return self.batch_store.get(org_id, batch_id)

    @staticmethod
    def view(item: dict[str, Any]) -> Batch:
        counts = BatchCounts(
            **{str(s): int(item.get(keys.status_counter(s), 0)) for s in RunStatus}
        )
        runs, total = int(item.get(keys.BATCH_RUNS, 0)), int(item["total"])
        ended = sum(getattr(counts, str(s)) for s in RUN_TERMINAL)
        return Batch(
            id=item["batch_id"],
            org_id=item["org_id"],
            workflow_id=item["workflow_id"],
            workflow_version=int(item["workflow_version"]),
            status=item["status"],
            total=total,
            runs=runs,
            counts=counts,
            settled=runs == total and ended == total,
            tags=item.get("tags") or {},
            created_at=item["created_at"],
            created_by=item.get("created_by"),
            started_at=item.get("started_at"),
        )

    # -- the batches function -------------------------------------------------------------------

    def process(self, message: dict[str, Any]) -> None:
        """One BatchQueue message: a batch to fan out into chunks, or a chunk to start."""
        org_id, batch_id = message["org_id"], message["batch_id"]
        batch = self.find(org_id, batch_id)
        if batch is None:  # expired, or forgotten because it could not be queued
            logger.warning("message of an unknown batch ignored", extra={"batch_id": batch_id})
            return
        chunk = message.get("chunk")
        if chunk is None:
            self._fan_out(batch)
        else:
            self.start_chunk(batch, int(chunk))

    def _fan_out(self, batch: dict[str, Any]) -> None:
        """One message per chunk. Sending one twice (a redelivery) starts nothing twice."""
        if batch["status"] == BatchStatus.STARTED:
            return
        org_id, batch_id = batch["org_id"], batch["batch_id"]
        self._send(
            [
                {"org_id": org_id, "batch_id": batch_id, "chunk": number}
                for number in range(int(batch["chunks"]))
            ]
        )

    def start_chunk(self, batch: dict[str, Any], chunk: int) -> list[str]:
        """Creates and starts the chunk's runs that do not exist yet; the ids it created."""
        org_id, batch_id = batch["org_id"], batch["batch_id"]
        item = self.batch_store.chunk(org_id, batch_id, chunk)
        if item is None:
            raise NotFound("batch chunk", f"{batch_id}#{chunk}")
        inputs = self.store.payloads.load(item, "inputs")
        workflow = self.store.workflows.get_workflow(
            org_id, batch["workflow_id"], int(batch["workflow_version"])
        )
        origin = {"role": "batch", "created_by": batch.get("created_by"), "batch_id": batch_id}
        if batch.get("tags"):  # every run carries the batch's tags, indexed as it is created
            origin["tags"] = batch["tags"]
        if batch.get("created_by_key"):  # the key that may not approve the batch's runs
            origin["created_by_key"] = batch["created_by_key"]
        created = []
        for offset, run_input in enumerate(inputs):
            run_id = batch_run_id(batch_id, int(item["first"]) + offset)
            if self._ensure_run(org_id, run_id, workflow, run_input, origin):
                created.append(run_id)
        if created:
            logger.info("batch runs created", extra={"batch_id": batch_id, "chunk": chunk})
        self._mark_started(org_id, batch_id)
        return created

    def _ensure_run(
        self,
        org_id: str,
        run_id: str,
        workflow: Workflow,
        run_input: Any,
        origin: dict[str, Any],
    ) -> bool:
        """Creates and starts the run unless it exists; whether it created it. A run left
        queued by an earlier delivery that died has its execution started (by name: once)."""
        try:
            run = self.store.runs.get_run(org_id, run_id)
        except NotFound:
            run = None
        if run is not None:
            if run.status == RunStatus.QUEUED:
                run_queue.start_run(self.run_queue_url, org_id, run_id)
            return False
        try:
            with new_run():
                start_workflow_run(
                    self.store,
                    self.run_queue_url,
                    org_id,
                    run_id,
                    workflow,
                    run_input,
                    origin,
                )
        except ServiceUnavailable:
            # The run exists, failed (RunStartFailed), and is counted as any run of the batch.
            return True
        except RunExists:  # created meanwhile by another delivery
            return False
        return True

    def _mark_started(self, org_id: str, batch_id: str) -> None:
        """``started`` once every run exists (whichever chunk comes last does it)."""
        self.batch_store.mark_started(org_id, batch_id, now_iso())

    # -- plumbing -------------------------------------------------------------------------------

    def _workflow(self, org_id: str, workflow_id: str) -> Workflow:
        try:
            return self.store.workflows.get_workflow(org_id, workflow_id)
        except NotFound as exc:
            raise ValidationFailed(
                [field_error(["body", "workflow_id"], str(exc), "value_error.not_found")]
            ) from None

    def _send(self, messages: list[dict[str, Any]]) -> None:
        """Queues the messages; SendFailed if any of them could not be queued."""
        queues.send_all(self.queue_url, messages)


def _check_sizes(inputs: list[Any]) -> None:
    """Every input within ``MAX_BATCH_INPUT_BYTES``; a 422 naming each one that is not."""
    errors = [
        field_error(
            ["body", "inputs", index],
            f"this input is {size} bytes of JSON; at most {MAX_BATCH_INPUT_BYTES} are allowed",
            "too_long",
        )
        for index, value in enumerate(inputs)
        if (size := len(dumps(value).encode())) > MAX_BATCH_INPUT_BYTES
    ]
    if errors:
        raise ValidationFailed(errors)
