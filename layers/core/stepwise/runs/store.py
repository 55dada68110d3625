"""Run records in the table: creating a run with its nodes, reading them, and the writes that
keep its totals and tag index exact. State transitions live in ``engine.run_state`` and
``engine.node_state``."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from stepwise.core import settings
from stepwise.core.clock import iso, now
from stepwise.core.errors import Conflict, NotFound, QuotaExceeded
from stepwise.core.statuses import NodeStatus, RunStatus
from stepwise.infra import dynamo, keys
from stepwise.infra.payloads import PayloadStore, PayloadWrite
from stepwise.runs import counters, tags
from stepwise.runs.records import NodeRecord, RunRecord
from stepwise.workflows.models import MAX_RUN_TIMEOUT_SECONDS, Workflow

PROGRESS_BUCKET_SIZE = 100  # node positions per progress item: well under 1 KB


class RunStore:
    def __init__(self, table: str, payloads: PayloadStore, retention: timedelta):
        self.table = table
        self.payloads = payloads
        self.retention = retention

    # -- creation -------------------------------------------------------------------------------

    def create_run(
        self,
        org_id: str,
        run_id: str,
        workflow: Workflow,
        run_input: Any,
        origin: dict[str, Any] | None = None,
    ) -> tuple[RunRecord, list[NodeRecord]]:
        """Writes the node items, then the run item: a run is visible only once complete.

        ``origin`` says who started it (``role``, ``created_by``) and, for a child run, its
        parent (``parent_run_id``, ``parent_node_ref``, ``depth``); its ``tags`` are indexed in
        the run's own transaction, so a tag filter finds the run as soon as it exists.

        Returns the items as written (the run and its nodes).
        """
        created_at = now()
        expires_at = int(
            (created_at + timedelta(seconds=workflow.timeout) + self.retention).timestamp()
        )
        root_id = (origin or {}).get("root_run_id")
        if root_id is not None:
            self._check_descendants(org_id, root_id)
        node_items = _node_items(org_id, run_id, workflow, expires_at)
        dynamo.put_all(
            self.table, [*node_items, *_progress_items(org_id, run_id, len(node_items), expires_at)]
        )
        run_item = {
            **keys.run(org_id, run_id),
            **keys.runs_by_workflow(org_id, workflow.id, run_id),
            **keys.runs_by_status(org_id, str(RunStatus.QUEUED), run_id),
            "org_id": org_id,
            "run_id": run_id,
            "workflow_id": workflow.id,
            "workflow_version": workflow.version,
            "status": str(RunStatus.QUEUED),
            "node_count": len(node_items),
            "timeout": workflow.timeout,
            "created_at": iso(created_at),
            "expires_at": expires_at,
            "depth": 0,
            **(origin or {}),
            **self.payloads.attributes(
                "input", run_input, keys.run_object(org_id, run_id, "input")
            ),
        }
        # The run and its counts (the org's, its batch's, its root run's descendants) in one
        # transaction: no total drifts, and a replay that finds the run created counts nothing.
        queued = str(RunStatus.QUEUED)
        # The count must outlive every start under its root, and the root can start children
        # until it ends (at most MAX_RUN_TIMEOUT_SECONDS after it was created, before this
        # child): so it expires that long after this child, plus the retention. That is later
        # with every child; a TTL from the child's own timeout was not (a short-lived child of a
        # long-lived root let the count expire, and the quota start over, while the root ran).
        descendants_expire = int(
            (created_at + timedelta(seconds=MAX_RUN_TIMEOUT_SECONDS) + self.retention).timestamp()
        )
        descendants = (
            [] if root_id is None else [self._descendant(org_id, root_id, descendants_expire)]
        )
        try:
            dynamo.write_all(
                [
                    *descendants,
                    dynamo.put_new_item(self.table, run_item),
                    counters.org_totals(
                        self.table, org_id, run_id, counters.new_run(queued, workflow.id)
                    ),
                    *counters.batch_counts(
                        self.table,
                        org_id,
                        run_id,
                        {keys.BATCH_RUNS: 1, keys.status_counter(queued): 1},
                        expires_at,
                    ),
                    *tags.index_writes(
                        self.table, org_id, run_id, {}, run_item.get("tags") or {}, expires_at
                    ),
                ]
            )
        except ClientError as exc:
            # Only the count's condition failed: the root is at its quota. Otherwise (the run id
            # is taken: batches and child runs pick ids that may repeat) DynamoDB's error.
            if descendants and dynamo.failed_positions(exc) == {0}:
                self._over_descendants(root_id)
            raise
        return RunRecord.from_item(run_item), [NodeRecord.from_item(n) for n in node_items]

    def _check_descendants(self, org_id: str, root_id: str) -> None:
        """Refuses a child run before anything is written when the root is at its quota (the
        transaction in ``create_run`` is the exact check; this one spares the node writes)."""
        item = dynamo.get_item(self.table, keys.descendants(org_id, root_id)) or {}
        if int(item.get("descendants", 0)) >= settings.quotas().descendants_per_run:
            self._over_descendants(root_id)

    def _descendant(self, org_id: str, root_id: str, expires_at: int) -> dict[str, Any]:
        """The transaction item that counts one more descendant of ``root_id``, on condition
        that the root is under its quota. It expires when no descendant can start any more."""
        return dynamo.update_request(
            self.table,
            keys.descendants(org_id, root_id),
            "ADD descendants :one SET expires_at = :expires",
            {
                ":one": 1,
                ":expires": expires_at,
                ":max": settings.quotas().descendants_per_run,
            },
            "attribute_not_exists(descendants) OR descendants < :max",
        )

    @staticmethod
    def _over_descendants(root_id: str) -> None:
        limit = settings.quotas().descendants_per_run
        detail = f"run {root_id} has started {limit} descendant runs"
        raise QuotaExceeded("descendants_per_run", limit, detail)

    def put_run(self, org_id: str, item: dict[str, Any]) -> bool:
        """A run with no execution (an external run) and its counts; False if the id is taken."""
        return dynamo.transact(
            [
                dynamo.put_new_item(self.table, item),
                counters.org_totals(
                    self.table,
                    org_id,
                    item["run_id"],
                    counters.new_run(item["status"], item["workflow_id"]),
                ),
                *tags.index_writes(
                    self.table,
                    org_id,
                    item["run_id"],
                    {},
                    item.get("tags") or {},
                    item["expires_at"],
                ),
            ]
        )

    # -- changes of an external run -------------------------------------------------------------

    def update_run(
        self,
        org_id: str,
        run: RunRecord,
        sets: dict[str, Any],
        status: RunStatus | None = None,
        payloads: Sequence[PayloadWrite] = (),
    ) -> bool:
        """Sets attributes (and ``payloads``) on ``run`` (as read just before), with what moves
        with them in one transaction: a new ``status`` moves its index and the org's totals, new
        ``tags`` their index items. False when the run is gone, or its status (when moved) or
        tags (when set) changed meanwhile."""
        run_id, old = run.run_id, run.status
        names = {f"#{k}": k for k in sets}
        values: dict[str, Any] = {f":{k}": v for k, v in sets.items()}
        clauses = [f"#{k} = :{k}" for k in sets]
        clauses += [p.update(names, values) for p in payloads]
        removals = [p.removal(names) for p in payloads]
        conditions = ["attribute_exists(PK)"]
        moves: list[dict[str, Any]] = []
        if status is not None and status != old:
            index = keys.runs_by_status(org_id, str(status), run_id)
            clauses += ["#status = :new", f"{keys.STATUS_INDEX_PK} = :index_pk"]
            conditions.append("#status = :old")
            names["#status"] = "status"
            values.update(
                {":old": old, ":new": str(status), ":index_pk": index[keys.STATUS_INDEX_PK]}
            )
            moves.append(
                counters.org_totals(
                    self.table, org_id, run_id, counters.status_move(old, str(status))
                )
            )
        if "tags" in sets:
            conditions.append(tags.unchanged(run.tags, names, values))
            moves += tags.index_writes(
                self.table, org_id, run_id, run.tags, sets["tags"], run.expires_at or 0
            )
        expression = "SET " + ", ".join(clauses)
        if removals:
            expression += " REMOVE " + ", ".join(removals)
        key, condition = keys.run(org_id, run_id), " AND ".join(conditions)
        if moves:
            update = dynamo.update_request(self.table, key, expression, values, condition, names)
            return dynamo.transact([update, *moves])
        return dynamo.update_item(self.table, key, expression, values, condition, names) is not None

    def delete_run(self, org_id: str, run: RunRecord) -> None:
        """Deletes a run item with its counts and tag index (external runs: engine runs are
        cancelled)."""
        names, values = {"#status": "status"}, {":status": run.status}
        tags_unchanged = tags.unchanged(run.tags, names, values)
        deleted = dynamo.transact(
            [
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": dynamo.to_item(keys.run(org_id, run.run_id)),
                        "ConditionExpression": f"#status = :status AND {tags_unchanged}",
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": dynamo.values(values),
                    }
                },
                *tags.index_writes(
                    self.table, org_id, run.run_id, run.tags, {}, run.expires_at or 0
                ),
                counters.org_totals(
                    self.table,
                    org_id,
                    run.run_id,
                    {k: -v for k, v in counters.new_run(run.status, run.workflow_id).items()},
                ),
            ]
        )
        if not deleted:
            raise Conflict(f"run {run.run_id!r} changed meanwhile; try again")

    # -- reads ----------------------------------------------------------------------------------

    def run_counts(self, org_id: str) -> dict[str, int]:
        """The org's run totals (``all``, ``status:<s>``, ``workflow:<id>``), summed over the
        counter shards."""
        return counters.read_totals(self.table, org_id)

    def get_run(self, org_id: str, run_id: str) -> RunRecord:
        item = dynamo.get_required(self.table, keys.run(org_id, run_id), "run", run_id)
        return RunRecord.from_item(item)

    def run_exists(self, org_id: str, run_id: str) -> bool:
        return dynamo.exists(self.table, keys.run(org_id, run_id))

    def get_run_with_nodes(self, org_id: str, run_id: str) -> tuple[RunRecord, list[NodeRecord]]:
        """The run item and its node items, in one paged Query of the run's partition (from
        ``NODE#`` on: its log lines sort before and are not read)."""
        items = dynamo.query_partition(
            self.table, keys.run_pk(org_id, run_id), from_sk=keys.NODE_PREFIX
        )
        run = next((i for i in items if i["SK"] == keys.RUN_SK), None)
        if run is None:
            raise NotFound("run", run_id)
        nodes = [i for i in items if i["SK"].startswith(keys.NODE_PREFIX)]
        return RunRecord.from_item(run), [NodeRecord.from_item(n) for n in nodes]

    def get_nodes(self, org_id: str, run_id: str, refs: list[str]) -> list[NodeRecord]:
        """Some node items of a run (consistent reads), in no particular order."""
        wanted = [keys.node(org_id, run_id, r) for r in refs]
        return [
            NodeRecord.from_item(i) for i in dynamo.batch_get(self.table, wanted, consistent=True)
        ]

    def get_node(self, org_id: str, run_id: str, ref: str) -> NodeRecord:
        item = dynamo.get_required(self.table, keys.node(org_id, run_id, ref), "node", ref)
        return NodeRecord.from_item(item)


def _node_items(
    org_id: str, run_id: str, workflow: Workflow, expires_at: int
) -> list[dict[str, Any]]:
    """Every node of a new run, pending."""
    return [
        {
            **keys.node(org_id, run_id, node.ref),
            "ref": node.ref,
            "kind": str(node.kind),
            "status": str(NodeStatus.PENDING),
            "attempt": 0,
            "attempts": {},
            "position": position,
            "depends_on": list(node.depends_on),
            "expires_at": expires_at,
        }
        for position, node in enumerate(workflow.nodes)
    ]


def _progress_items(org_id: str, run_id: str, count: int, expires_at: int) -> list[dict[str, Any]]:
    """Which nodes have settled, in buckets of ``PROGRESS_BUCKET_SIZE`` positions (see
    ``RunTransitions.record_node_settled``), and, when there are several, one item for the full
    buckets (a run of one bucket is complete when that bucket is: nothing reads the item)."""
    buckets = -(-count // PROGRESS_BUCKET_SIZE)
    head = {**keys.progress(org_id, run_id), "buckets": buckets, "expires_at": expires_at}
    return [
        *([head] if buckets > 1 else []),
        *(
            {
                **keys.progress(org_id, run_id, bucket),
                "node_count": min(PROGRESS_BUCKET_SIZE, count - bucket * PROGRESS_BUCKET_SIZE),
                "buckets": buckets,
                "expires_at": expires_at,
            }
            for bucket in range(buckets)
        ),
    ]
