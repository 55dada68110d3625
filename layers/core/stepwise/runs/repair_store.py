"""The writes that repair a run (runs/redrive.py, runs/rerun.py): the redrive claim on the run,
the nodes it runs again, keeps, adds or drops, the run's progress from its kept nodes, and a
for_each node's items kept across a redrive. Each is a conditional write, so a repeated or
racing request changes nothing twice."""

from typing import Any

from stepwise.core.clock import now_iso
from stepwise.core.statuses import NodeStatus, RunStatus
from stepwise.infra import dynamo, keys
from stepwise.infra.payloads import PayloadStore
from stepwise.runs import counters
from stepwise.runs.records import NodeRecord, RunRecord
from stepwise.runs.store import PROGRESS_BUCKET_SIZE
from stepwise.workflows.models import Workflow

# What a node that runs again forgets of its last try (its attempts map and number stay: a
# redrive numbers attempts on).
_NODE_FORGETS = (
    "satisfied_edges",
    "failed_edges",
    "skipped_edges",
    "finished_at",
    "#error",
    "last_error",
    "skip_reason",
    "scheduled_at",
    "available_at",
    "child_run_id",
    "items_token",
    "chunks_done",
    "redrive_child",
    "#output",
    "#output_s3",
)
# What a run that is redriven forgets of how it ended.
_RUN_FORGETS = (
    "settle_requested_at",
    "settle_reason",
    "cancel_reason",
    "finished_at",
    "#error",
    "task_token",
    "event_published_at",
    "event_claimed_at",
    "#output",
    "#output_s3",
)
_NAMES = {"#status": "status", "#error": "error", "#output": "output", "#output_s3": "output_s3"}


class RepairStore:
    def __init__(self, table: str, payloads: PayloadStore):
        self.table = table
        self.payloads = payloads

    def claim_redrive(
        self,
        run: RunRecord,
        workflow: Workflow,
        record: dict[str, Any],
        expires_at: int,
        new_input: tuple[Any] | None = None,
    ) -> bool:
        """The run (as read, in a status a redrive takes) back to queued as redrive number
        ``record["number"]``, with its status index and counts, in one transaction. False when
        the run changed meanwhile (another redrive won, or it is no longer in that status)."""
        org_id, run_id = run.org_id, run.run_id
        names = {**_NAMES, "#timeout": "timeout"}
        index = keys.runs_by_status(org_id, str(RunStatus.QUEUED), run_id)
        values: dict[str, Any] = {
            ":queued": str(RunStatus.QUEUED),
            ":old": run.status,
            ":number": record["number"],
            ":previous": run.generation,
            ":at": record["at"],
            ":version": workflow.version,
            ":count": len(workflow.nodes),
            ":timeout": workflow.timeout,
            ":expires": expires_at,
            ":record": [record],
            ":none": [],
            ":index_pk": index[keys.STATUS_INDEX_PK],
        }
        sets = [
            "#status = :queued",
            f"{keys.STATUS_INDEX_PK} = :index_pk",
            "redrive_count = :number",
            "redriven_at = :at",
            "workflow_version = :version",
            "node_count = :count",
            "#timeout = :timeout",
            "expires_at = :expires",
            "redrives = list_append(if_not_exists(redrives, :none), :record)",
        ]
        removals = list(_RUN_FORGETS)
        if new_input is not None:
            payload = self.payloads.write(
                "input", new_input[0], keys.run_object(org_id, run_id, f"input-{record['number']}")
            )
            sets.append(payload.update(names, values))
            removals.append(payload.removal(names))
        condition = (
            "#status = :old AND (attribute_not_exists(redrive_count) OR redrive_count = "
            ":previous) AND (attribute_not_exists(kind) OR kind <> :external)"
        )
        values[":external"] = "external"
        move = counters.status_move(run.status, str(RunStatus.QUEUED))
        return dynamo.transact(
            [
                dynamo.update_request(
                    self.table,
                    keys.run(org_id, run_id),
                    "SET " + ", ".join(sets) + " REMOVE " + ", ".join(removals),
                    values,
                    condition=condition,
                    names=names,
                ),
                counters.org_totals(self.table, org_id, run_id, move),
                *counters.batch_counts(self.table, org_id, run_id, move),
            ]
        )

    def reset_node(
        self,
        org_id: str,
        run_id: str,
        node: NodeRecord,
        position: int,
        depends_on: list[str],
        expires_at: int,
        generation: int,
        redrive_child: str | None = None,
    ) -> bool:
        """A node that runs again: pending, its join state and outcome forgotten, its attempts
        kept (``attempt_base``: numbered on). Conditional on the status it was read in."""
        values: dict[str, Any] = {
            ":pending": str(NodeStatus.PENDING),
            ":old": node.status,
            ":base": node.attempt,
            ":generation": generation,
            ":position": position,
            ":depends": depends_on,
            ":expires": expires_at,
        }
        sets = [
            "#status = :pending",
            "attempt_base = :base",
            "generation = :generation",
            "#position = :position",
            "depends_on = :depends",
            "expires_at = :expires",
        ]
        removals = [r for r in _NODE_FORGETS if r != "redrive_child" or redrive_child is None]
        if redrive_child is not None:
            sets.append("redrive_child = :child")
            values[":child"] = redrive_child
        return dynamo.update_if(
            self.table,
            keys.node(org_id, run_id, node.ref),
            "SET " + ", ".join(sets) + " REMOVE " + ", ".join(removals),
            values,
            "#status = :old",
            {**_NAMES, "#position": "position"},
        )

    def keep_node(
        self, org_id: str, run_id: str, ref: str, status: str, position: int, expires_at: int
    ) -> bool:
        """A node whose outcome stands: its place in the (new) version, and it lives as long as
        the run now does."""
        return dynamo.update_if(
            self.table,
            keys.node(org_id, run_id, ref),
            "SET #position = :position, expires_at = :expires",
            {":position": position, ":expires": expires_at, ":status": status},
            "#status = :status",
            {"#status": "status", "#position": "position"},
        )

    def add_node(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        kind: str,
        position: int,
        depends_on: list[str],
        expires_at: int,
        generation: int,
    ) -> None:
        """A node the redrive's version added: pending, as a new run's nodes are."""
        item = {
            **keys.node(org_id, run_id, ref),
            "ref": ref,
            "kind": kind,
            "status": str(NodeStatus.PENDING),
            "attempt": 0,
            "attempts": {},
            "position": position,
            "depends_on": depends_on,
            "expires_at": expires_at,
            "generation": generation,
        }
        dynamo.put_all(self.table, [item])

    def drop_node(self, org_id: str, run_id: str, ref: str) -> None:
        """A node the redrive's version no longer has."""
        key = dynamo.to_item(keys.node(org_id, run_id, ref))
        dynamo.write_all([{"Delete": {"TableName": self.table, "Key": key}}])

    def copy_node(self, org_id: str, run_id: str, source: NodeRecord, expires_at: int) -> None:
        """A rerun's node whose outcome is copied from the run it reruns: the same status,
        output, error and attempts, in the new run (pending only, so a replay is harmless)."""
        names = {"#status": "status", "#attempts": "attempts"}
        values: dict[str, Any] = {
            ":status": source.status,
            ":pending": str(NodeStatus.PENDING),
            ":attempt": source.attempt,
            ":attempts": {str(n): a._asdict() for n, a in source.attempts.items()},
            ":finished": source.finished_at or now_iso(),
            ":expires": expires_at,
        }
        sets = [
            "#status = :status",
            "attempt = :attempt",
            "#attempts = :attempts",
            "finished_at = :finished",
            "expires_at = :expires",
        ]
        for name in ("started_at", "scheduled_at", "skip_reason", "child_run_id"):
            value = getattr(source, name)
            if value is not None:
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = value
        if source.error is not None:
            sets.append("#error = :error")
            values[":error"] = source.error
            names["#error"] = "error"
        if source.output:
            # A large output is copied to the new run's own object: each run expires alone.
            where = keys.node_object(org_id, run_id, source.ref)
            payload = self.payloads.write("output", self.payloads.read(source.output), where)
            sets.append(payload.update(names, values))
        values[":attempts"] = _clean(values[":attempts"])
        dynamo.update_if(
            self.table,
            keys.node(org_id, run_id, source.ref),
            "SET " + ", ".join(sets),
            values,
            "#status = :pending",
            names,
        )

    def rebuild_progress(
        self, org_id: str, run_id: str, node_count: int, settled: set[int], expires_at: int
    ) -> None:
        """The run's progress items for ``node_count`` nodes with the positions ``settled``
        already in (see ``RunTransitions.record_node_settled``)."""
        buckets = -(-node_count // PROGRESS_BUCKET_SIZE)
        full: set[int] = set()
        items: list[dict[str, Any]] = []
        for bucket in range(buckets):
            size = min(PROGRESS_BUCKET_SIZE, node_count - bucket * PROGRESS_BUCKET_SIZE)
            inside = {p for p in settled if p // PROGRESS_BUCKET_SIZE == bucket}
            item = {
                **keys.progress(org_id, run_id, bucket),
                "node_count": size,
                "buckets": buckets,
                "expires_at": expires_at,
            }
            if inside:
                item["settled_nodes"] = inside
            if len(inside) >= size:
                full.add(bucket)
            items.append(item)
        head = {**keys.progress(org_id, run_id), "buckets": buckets, "expires_at": expires_at}
        if full:
            head["full_buckets"] = full
        # One bucket needs no item for the full ones (``record_node_settled`` reads none).
        dynamo.put_all(self.table, [head, *items] if buckets > 1 else items)

    def add_rerun(self, org_id: str, run_id: str, rerun_id: str) -> None:
        """The run lists its reruns (``rerun_of`` on each names it back)."""
        dynamo.update_if(
            self.table,
            keys.run(org_id, run_id),
            "SET reruns = list_append(if_not_exists(reruns, :none), :id)",
            {":none": [], ":id": [rerun_id]},
            "attribute_exists(PK)",
        )

    def keep_items(
        self, org_id: str, run_id: str, ref: str, items: list[NodeRecord], done_chunks: set[int]
    ) -> None:
        """A for_each node a redrive runs again over the same items: every item that did not
        succeed is ready to run again (attempts numbered on), succeeded ones keep their
        results, and the chunks with nothing left to run count as done."""
        for item in items:
            if item.status == NodeStatus.SUCCEEDED:
                continue
            dynamo.update_if(
                self.table,
                keys.item(org_id, run_id, ref, item.index or 0),
                "SET #status = :scheduled, attempt_base = :base REMOVE finished_at, #error, "
                "available_at, last_error",
                {
                    ":scheduled": str(NodeStatus.SCHEDULED),
                    ":base": item.attempt,
                    ":old": item.status,
                },
                "#status = :old",
                {"#status": "status", "#error": "error"},
            )
        sets = "SET items_kept_at = :now REMOVE chunks_done, items_token"
        values: dict[str, Any] = {":now": now_iso()}
        if done_chunks:
            sets = "SET items_kept_at = :now, chunks_done = :done REMOVE items_token"
            values[":done"] = done_chunks
        dynamo.update_item(self.table, keys.node(org_id, run_id, ref), sets, values)


def _clean(value: Any) -> Any:
    """An attempts map without the absent fields of its records (DynamoDB keeps no None)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    return value
