"""DynamoDB access: every read and every state transition, each with its condition inside.

Nobody else writes run or node state. Every transition is a conditional write, so a step that is
run twice changes nothing the second time; callers learn from the return value whether they won.
"""

import time
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from stepwise.core.clock import iso, now, now_iso
from stepwise.core.errors import Conflict, NotFound
from stepwise.core.ids import batch_of
from stepwise.core.statuses import NodeStatus, RunStatus
from stepwise.infra import aws, dynamo, keys
from stepwise.infra.dynamo import condition_failed as _condition_failed
from stepwise.infra.dynamo import from_item as _from_item
from stepwise.infra.dynamo import to_item as _to_item
from stepwise.infra.dynamo import update_item
from stepwise.infra.dynamo import values as _values
from stepwise.infra.payloads import PayloadStore
from stepwise.workflows.models import NodeSpec, Workflow, WorkflowCreate

_BATCH_WRITE_LIMIT = 25
PROGRESS_BUCKET_SIZE = 100  # node positions per progress item: well under 1 KB

# The attempt is the node's current one, still running, and has no signal yet.
_WAITING_ATTEMPT = (
    "#status = :running AND attempt = :attempt AND attempts.#n.#status = :running "
    "AND attribute_not_exists(attempts.#n.#signal)"
)


class Store:
    def __init__(self, table_name: str, payloads: PayloadStore, retention_days: int):
        self.table = table_name
        self.payloads = payloads
        self.retention = timedelta(days=retention_days)

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb")

    # -- workflows ------------------------------------------------------------------------------

    def create_workflow(self, org_id: str, workflow_id: str, spec: WorkflowCreate) -> Workflow:
        """Version 1 of a new workflow."""
        return self._put_version(org_id, workflow_id, 1, spec)

    def add_workflow_version(self, org_id: str, workflow_id: str, spec: WorkflowCreate) -> Workflow:
        """A new immutable version; runs already started keep the version they pinned."""
        for _ in range(5):
            latest = int(
                self._required(keys.workflow_head(org_id, workflow_id), "workflow", workflow_id)[
                    "latest_version"
                ]
            )
            try:
                return self._put_version(org_id, workflow_id, latest + 1, spec)
            except ClientError as exc:
                if not _condition_failed(exc):
                    raise
        raise Conflict("the workflow is being changed concurrently; try again")

    def _put_version(
        self, org_id: str, workflow_id: str, version: int, spec: WorkflowCreate
    ) -> Workflow:
        created_at = iso(now())
        body = spec.model_dump(mode="json", exclude={"name", "description", "timeout"})
        version_item = {
            **keys.workflow_version(org_id, workflow_id, version),
            "org_id": org_id,
            "workflow_id": workflow_id,
            "version": version,
            "name": spec.name,
            "description": spec.description,
            "timeout": spec.timeout,
            **self.payloads.attributes(
                "definition", body, f"{org_id}/workflows/{workflow_id}/v{version}.json"
            ),
            "created_at": created_at,
        }
        if version == 1:
            head_write: dict[str, Any] = {
                "Put": {
                    "TableName": self.table,
                    "Item": _to_item(
                        {
                            **keys.workflow_head(org_id, workflow_id),
                            **keys.workflows_index(org_id, workflow_id),
                            "org_id": org_id,
                            "workflow_id": workflow_id,
                            "latest_version": 1,
                            "created_at": created_at,
                            "updated_at": created_at,
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        else:
            head_write = {
                "Update": {
                    "TableName": self.table,
                    "Key": _to_item(keys.workflow_head(org_id, workflow_id)),
                    "UpdateExpression": "SET latest_version = :new, updated_at = :now",
                    "ConditionExpression": "latest_version = :old",
                    "ExpressionAttributeValues": _values(
                        {":new": version, ":old": version - 1, ":now": created_at}
                    ),
                }
            }
        self._db.transact_write_items(
            TransactItems=[
                head_write,
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": _to_item(version_item),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ]
        )
        return self._workflow_from_item(version_item)

    def list_workflow_versions(
        self, org_id: str, workflow_id: str, limit: int, after: int | None
    ) -> tuple[list[Workflow], int | None]:
        """Versions oldest first; the last version number when more may follow."""
        condition = "PK = :pk AND begins_with(SK, :v)"
        values: dict[str, Any] = {":pk": keys.workflow_pk(org_id, workflow_id), ":v": "V#"}
        kwargs: dict[str, Any] = {}
        if after is not None:
            kwargs["ExclusiveStartKey"] = _to_item(
                keys.workflow_version(org_id, workflow_id, after)
            )
        page = self._db.query(
            TableName=self.table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=_values(values),
            Limit=limit,
            **kwargs,
        )
        versions = [self._workflow_from_item(_from_item(i)) for i in page["Items"]]
        if not versions and after is None:
            raise NotFound("workflow", workflow_id)
        more = "LastEvaluatedKey" in page and len(versions) == limit
        return versions, (versions[-1].version if more else None)

    def get_workflow(self, org_id: str, workflow_id: str, version: int | None = None) -> Workflow:
        if version is None:
            head = self._required(keys.workflow_head(org_id, workflow_id), "workflow", workflow_id)
            version = int(head["latest_version"])
        key = keys.workflow_version(org_id, workflow_id, version)
        return self._workflow_from_item(self._required(key, "workflow", workflow_id))

    def _workflow_from_item(self, item: dict[str, Any]) -> Workflow:
        definition = self.payloads.load(item, "definition")
        return Workflow(
            id=item["workflow_id"],
            org_id=item["org_id"],
            version=int(item["version"]),
            name=item["name"],
            description=item.get("description"),
            nodes=[NodeSpec.model_validate(n) for n in definition["nodes"]],
            returns=definition.get("returns"),
            timeout=int(item["timeout"]),
            created_at=item["created_at"],
        )

    # -- runs: creation and reads ---------------------------------------------------------------

    def create_run(
        self,
        org_id: str,
        run_id: str,
        workflow: Workflow,
        run_input: Any,
        origin: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Writes the node items, then the run item: a run is visible only once complete.

        ``origin`` says who started it (``role``, ``created_by``) and, for a child run, its
        parent (``parent_run_id``, ``parent_node_ref``, ``depth``).

        Returns the items as written (the run and its nodes).
        """
        created_at = now()
        expires_at = int(
            (created_at + timedelta(seconds=workflow.timeout) + self.retention).timestamp()
        )
        node_items = [
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
        count = len(node_items)
        buckets = -(-count // PROGRESS_BUCKET_SIZE)
        progress = [
            {**keys.progress(org_id, run_id), "buckets": buckets, "expires_at": expires_at},
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
        children = [*node_items, *progress]
        for start in range(0, len(children), _BATCH_WRITE_LIMIT):
            self._batch_put(children[start : start + _BATCH_WRITE_LIMIT])
        run_item = {
            **keys.run(org_id, run_id),
            **keys.runs_index(org_id, run_id),
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
            **self.payloads.attributes("input", run_input, f"{org_id}/{run_id}/input.json"),
        }
        # The run and its counts (the org's, its batch's) in one transaction: no total drifts.
        self._db.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": _to_item(run_item),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
                self._count_runs(
                    org_id,
                    {"all": 1, f"status:{RunStatus.QUEUED}": 1, f"workflow:{workflow.id}": 1},
                ),
                *self._count_batch_run(
                    org_id, run_id, {"runs": 1, f"status:{RunStatus.QUEUED}": 1}
                ),
            ]
        )
        return run_item, node_items

    def put_run(self, org_id: str, item: dict[str, Any]) -> bool:
        """A run with no execution (an external run) and its counts; False if the id is taken."""
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": _to_item(item),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    self._count_runs(
                        org_id,
                        {
                            "all": 1,
                            f"status:{item['status']}": 1,
                            f"workflow:{item['workflow_id']}": 1,
                        },
                    ),
                    *self._tag_writes(
                        org_id, item["run_id"], {}, item.get("tags") or {}, item["expires_at"]
                    ),
                ]
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def update_run(
        self,
        org_id: str,
        run: dict[str, Any],
        sets: dict[str, Any],
        status: RunStatus | None = None,
    ) -> bool:
        """Sets attributes on ``run`` (as read just before), with what moves with them in one
        transaction: a new ``status`` moves its index and the org's totals, new ``tags`` their
        index items. False when the run is gone, or its status (when moved) or tags (when set)
        changed meanwhile."""
        run_id, old = run["run_id"], run["status"]
        names = {f"#{k}": k for k in sets}
        values: dict[str, Any] = {f":{k}": v for k, v in sets.items()}
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in sets)
        conditions = ["attribute_exists(PK)"]
        moves: list[dict[str, Any]] = []
        if status is not None and status != old:
            index = keys.runs_by_status(org_id, str(status), run_id)
            expression += ", #status = :new, GSI3PK = :index_pk"
            conditions.append("#status = :old")
            names["#status"] = "status"
            values.update({":old": old, ":new": str(status), ":index_pk": index["GSI3PK"]})
            moves.append(self._count_runs(org_id, {f"status:{old}": -1, f"status:{status}": 1}))
        if "tags" in sets:
            conditions.append(self._tags_unchanged(run, names, values))
            moves += self._tag_writes(
                org_id, run_id, run.get("tags") or {}, sets["tags"], int(run["expires_at"])
            )
        update = {
            "TableName": self.table,
            "Key": _to_item(keys.run(org_id, run_id)),
            "UpdateExpression": expression,
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _values(values),
        }
        try:
            if moves:
                self._db.transact_write_items(TransactItems=[{"Update": update}, *moves])
            else:
                self._db.update_item(**update)
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    @staticmethod
    def _tags_unchanged(run: dict[str, Any], names: dict[str, str], values: dict[str, Any]) -> str:
        """A condition that the run's tags are still those of ``run``."""
        names["#tags"] = "tags"
        values[":old_tags"] = run.get("tags") or {}
        if run.get("tags"):
            return "#tags = :old_tags"
        return "(attribute_not_exists(#tags) OR #tags = :old_tags)"

    def _tag_writes(
        self,
        org_id: str,
        run_id: str,
        old: dict[str, str],
        new: dict[str, str],
        expires_at: int,
    ) -> list[dict[str, Any]]:
        """Transaction items that move a run's tag index from ``old`` tags to ``new``: one item
        per tag in slots by key order, so at most 50 writes (the tag limit) for any change.

        A tag item takes the run's expiry as it is now. A run's expiry only ever comes closer,
        so a tag item never goes before its run; one left behind a run that expired first is
        skipped by the lists."""
        before, after = sorted(old.items()), sorted(new.items())
        writes: list[dict[str, Any]] = []
        for slot in range(max(len(before), len(after))):
            key = keys.run_tag(org_id, run_id, slot)
            if slot >= len(after):
                writes.append({"Delete": {"TableName": self.table, "Key": _to_item(key)}})
            elif slot >= len(before) or before[slot] != after[slot]:
                name, value = after[slot]
                item = {
                    **key,
                    **keys.runs_by_tag(org_id, name, value, run_id),
                    "org_id": org_id,
                    "run_id": run_id,
                    "expires_at": expires_at,
                }
                writes.append({"Put": {"TableName": self.table, "Item": _to_item(item)}})
        return writes

    def delete_run(self, org_id: str, run: dict[str, Any]) -> None:
        """Deletes a run item with its counts and tag index (external runs: engine runs are
        cancelled)."""
        names, values = {"#status": "status"}, {":status": run["status"]}
        tags_unchanged = self._tags_unchanged(run, names, values)
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": _to_item(keys.run(org_id, run["run_id"])),
                            "ConditionExpression": f"#status = :status AND {tags_unchanged}",
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": _values(values),
                        }
                    },
                    *self._tag_writes(
                        org_id, run["run_id"], run.get("tags") or {}, {}, int(run["expires_at"])
                    ),
                    self._count_runs(
                        org_id,
                        {
                            "all": -1,
                            f"status:{run['status']}": -1,
                            f"workflow:{run['workflow_id']}": -1,
                        },
                    ),
                ]
            )
        except ClientError as exc:
            if _condition_failed(exc):
                raise Conflict(f"run {run['run_id']!r} changed meanwhile; try again") from None
            raise

    def _count_runs(self, org_id: str, changes: dict[str, int]) -> dict[str, Any]:
        """A transaction item that moves the org's run totals."""
        return self._count(keys.run_counts(org_id), changes)

    def _count_batch_run(
        self, org_id: str, run_id: str, changes: dict[str, int]
    ) -> list[dict[str, Any]]:
        """The transaction item that moves the counts of the batch a run belongs to (none for
        a run of no batch). ADD needs no condition, so a status change never fails on it."""
        batch_id = batch_of(run_id)
        return [self._count(keys.batch(org_id, batch_id), changes)] if batch_id else []

    def _count(self, key: dict[str, str], changes: dict[str, int]) -> dict[str, Any]:
        names = {f"#c{i}": name for i, name in enumerate(changes)}
        return {
            "Update": {
                "TableName": self.table,
                "Key": _to_item(key),
                "UpdateExpression": "ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(names))),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": _values(
                    {f":v{i}": delta for i, delta in enumerate(changes.values())}
                ),
            }
        }

    def run_counts(self, org_id: str) -> dict[str, int]:
        """The org's run totals (``all``, ``status:<s>``, ``workflow:<id>``)."""
        item = dynamo.get_item(self.table, keys.run_counts(org_id)) or {}
        return {k: int(v) for k, v in item.items() if k not in ("PK", "SK")}

    def _move_run(
        self,
        org_id: str,
        run_id: str,
        old: RunStatus,
        new: RunStatus,
        expression: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> bool:
        """One run status change (conditional on ``old``), its status index and the org's
        totals, in one transaction. False when the run was not in ``old``."""
        index = keys.runs_by_status(org_id, str(new), run_id)
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _to_item(keys.run(org_id, run_id)),
                            "UpdateExpression": f"{expression}, #status = :new, GSI3PK = :index_pk",
                            "ConditionExpression": "#status = :old",
                            "ExpressionAttributeNames": {**(names or {}), "#status": "status"},
                            "ExpressionAttributeValues": _values(
                                {
                                    **values,
                                    ":new": str(new),
                                    ":old": str(old),
                                    ":index_pk": index["GSI3PK"],
                                }
                            ),
                        }
                    },
                    self._count_runs(org_id, {f"status:{old}": -1, f"status:{new}": 1}),
                    *self._count_batch_run(
                        org_id, run_id, {f"status:{old}": -1, f"status:{new}": 1}
                    ),
                ]
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def _batch_put(self, items: list[dict[str, Any]]) -> None:
        requests = [{"PutRequest": {"Item": _to_item(item)}} for item in items]
        delay = 0.05
        while requests:
            answer = self._db.batch_write_item(RequestItems={self.table: requests})
            requests = answer.get("UnprocessedItems", {}).get(self.table, [])
            if requests:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def get_run(self, org_id: str, run_id: str) -> dict[str, Any]:
        return self._required(keys.run(org_id, run_id), "run", run_id)

    def get_run_with_nodes(
        self, org_id: str, run_id: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The run item and its node items, in one paged Query of the run's partition (from
        ``NODE#`` on: its log lines sort before and are not read)."""
        items = self._query_all(keys.run_pk(org_id, run_id), from_sk=keys.NODE_PREFIX)
        run = next((i for i in items if i["SK"] == keys.RUN_SK), None)
        if run is None:
            raise NotFound("run", run_id)
        nodes = [i for i in items if i["SK"].startswith(keys.NODE_PREFIX)]
        return run, nodes

    def _query_all(self, pk: str, from_sk: str | None = None) -> list[dict[str, Any]]:
        """Every item of one partition (consistent, paged), in sort-key order; from ``from_sk``
        on when it is given."""
        items: list[dict[str, Any]] = []
        condition, named = "PK = :pk", {":pk": pk}
        if from_sk is not None:
            condition += " AND SK >= :from"
            named[":from"] = from_sk
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": _values(named),
            "ConsistentRead": True,
        }
        while True:
            page = self._db.query(**kwargs)
            items.extend(_from_item(i) for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_nodes(self, org_id: str, run_id: str, refs: list[str]) -> list[dict[str, Any]]:
        """Some node items of a run (consistent reads), in no particular order."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(refs), 100):
            request = {
                self.table: {
                    "Keys": [
                        _to_item(keys.node(org_id, run_id, r)) for r in refs[start : start + 100]
                    ],
                    "ConsistentRead": True,
                }
            }
            delay = 0.05
            while request:
                answer = self._db.batch_get_item(RequestItems=request)
                found.extend(_from_item(i) for i in answer["Responses"].get(self.table, []))
                request = answer.get("UnprocessedKeys") or {}
                if request:
                    time.sleep(delay)
                    delay = min(delay * 2, 2.0)
        return found

    def get_node(self, org_id: str, run_id: str, ref: str) -> dict[str, Any]:
        return self._required(keys.node(org_id, run_id, ref), "node", ref)

    # -- run transitions ------------------------------------------------------------------------

    def fail_run_start(self, org_id: str, run_id: str, message: str) -> None:
        """The run's execution could not be started: the run ends failed, never stays queued."""
        self._move_run(
            org_id,
            run_id,
            RunStatus.QUEUED,
            RunStatus.FAILED,
            "SET finished_at = :now, #error = :error",
            {":now": now_iso(), ":error": {"type": "RunStartFailed", "message": message}},
            names={"#error": "error"},
        )

    def store_run_token(self, org_id: str, run_id: str, token: str) -> dict[str, Any] | None:
        """Marks the run running with the token that resumes its execution; None once settled.

        A retried start step only replaces the token of a run already running."""
        if self._move_run(
            org_id,
            run_id,
            RunStatus.QUEUED,
            RunStatus.RUNNING,
            "SET task_token = :token, started_at = if_not_exists(started_at, :now)",
            {":token": token, ":now": now_iso()},
        ):
            return self.get_run(org_id, run_id)
        return self._update(
            keys.run(org_id, run_id),
            "SET task_token = :token",
            {":running": str(RunStatus.RUNNING), ":token": token},
            condition="#status = :running",
            names={"#status": "status"},
            returns="ALL_NEW",
        )

    def mark_event_published(self, org_id: str, run_id: str) -> None:
        """The settled run's lifecycle event is out (a replay then does not publish again)."""
        self._update(
            keys.run(org_id, run_id),
            "SET event_published_at = if_not_exists(event_published_at, :now)",
            {":now": now_iso()},
        )

    def request_settle(self, org_id: str, run_id: str, reason: str) -> dict[str, Any]:
        """Marks the run as ready to finalise (first reason wins); returns the run item."""
        item = self._update(
            keys.run(org_id, run_id),
            "SET settle_requested_at = :now, settle_reason = :reason",
            {":now": now_iso(), ":reason": reason},
            condition="attribute_exists(PK) AND attribute_not_exists(settle_requested_at)",
            returns="ALL_NEW",
        )
        return item if item is not None else self.get_run(org_id, run_id)

    def run_exists(self, org_id: str, run_id: str) -> bool:
        found = self._db.get_item(
            TableName=self.table,
            Key=_to_item(keys.run(org_id, run_id)),
            ProjectionExpression="PK",
            ConsistentRead=True,
        )
        return "Item" in found

    def store_parent_token(self, org_id: str, run_id: str, token: str) -> dict[str, Any]:
        """The token of the parent node waiting on this (child) run; returns the run item."""
        item = self._update(
            keys.run(org_id, run_id),
            "SET parent_token = :token",
            {":token": token},
            condition="attribute_exists(PK)",
            returns="ALL_NEW",
        )
        if item is None:
            raise NotFound("run", run_id)
        return item

    def set_child_run(self, org_id: str, run_id: str, ref: str, attempt: int, child: str) -> None:
        """Links a workflow node (and its attempt record) to the child run it started."""
        self._update(
            keys.node(org_id, run_id, ref),
            "SET child_run_id = :child, attempts.#n.child_run_id = :child",
            {":child": child},
            names={"#n": str(attempt)},
        )

    def request_cancel(self, org_id: str, run_id: str, reason: str) -> dict[str, Any] | None:
        """Marks an unsettled run for cancellation; None if it has settled or is settling."""
        return self._update(
            keys.run(org_id, run_id),
            "SET settle_requested_at = :now, settle_reason = :cancelled, cancel_reason = :reason",
            {
                ":now": now_iso(),
                ":cancelled": "cancelled",
                ":reason": reason,
                ":queued": str(RunStatus.QUEUED),
                ":running": str(RunStatus.RUNNING),
                ":external": "external",
            },
            # An external run is not executed here: nothing to cancel.
            condition="attribute_not_exists(settle_requested_at) AND "
            "#status IN (:queued, :running) AND "
            "(attribute_not_exists(kind) OR kind <> :external)",
            names={"#status": "status"},
            returns="ALL_NEW",
        )

    def record_node_settled(self, org_id: str, run_id: str, position: int) -> bool:
        """Adds the node (by position) to its bucket's settled set; True once every node is in.
        Idempotent.

        Buckets hold at most ``PROGRESS_BUCKET_SIZE`` positions, so each write is one small
        item (one write unit) however large the workflow; a bucket that fills is added to the
        set of full buckets, and the run is complete when every bucket is in it."""
        bucket = position // PROGRESS_BUCKET_SIZE
        settled = self._update(
            keys.progress(org_id, run_id, bucket),
            "ADD settled_nodes :position",
            {":position": {position}},
            returns="ALL_NEW",
        )
        assert settled is not None
        if len(settled.get("settled_nodes", ())) < int(settled["node_count"]):
            return False
        if int(settled["buckets"]) == 1:
            return True
        full = self._update(
            keys.progress(org_id, run_id),
            "ADD full_buckets :bucket",
            {":bucket": {bucket}},
            returns="ALL_NEW",
        )
        assert full is not None
        return len(full.get("full_buckets", ())) >= int(full["buckets"])

    def finish_run(
        self,
        org_id: str,
        run_id: str,
        status: RunStatus,
        output: Any,
        error: dict[str, Any] | None,
    ) -> bool:
        """running (or still queued) -> terminal, with the output or the error."""
        attrs: dict[str, Any] = {":now": now_iso()}
        names: dict[str, str] = {}
        expression = "SET finished_at = :now"
        if error is not None:
            expression += ", #error = :error"
            attrs[":error"] = error
            names["#error"] = "error"
        if status == RunStatus.SUCCEEDED:
            for name, value in self.payloads.attributes(
                "output", output, f"{org_id}/{run_id}/output.json"
            ).items():
                expression += f", #{name} = :{name}"
                attrs[f":{name}"] = value
                names[f"#{name}"] = name
        return any(
            self._move_run(org_id, run_id, old, status, expression, attrs, names)
            for old in (RunStatus.RUNNING, RunStatus.QUEUED)
        )

    def keep_settled_run(self, org_id: str, run_id: str) -> None:
        """A run settled late (by the janitor) is kept for the retention period from now."""
        until = int((now() + self.retention).timestamp())
        self._update(
            keys.run(org_id, run_id),
            "SET expires_at = :until",
            {":until": until},
            condition="attribute_exists(PK) AND (attribute_not_exists(expires_at) OR "
            "expires_at < :until)",
        )

    # -- node transitions -----------------------------------------------------------------------

    def settle_pending(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        status: NodeStatus,
        output: Any = None,
        error: dict[str, str] | None = None,
        skip_reason: str | None = None,
        edge: tuple[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """pending -> succeeded|failed|skipped in one write: a node the engine ran inline, in the
        step that made it ready, without an execution of its own. ``edge`` (outcome, key) is the
        incoming edge that made it ready, recorded in the same write. The node item as written, or
        None if it was not pending."""
        at = now_iso()
        values: dict[str, Any] = {
            ":status": str(status),
            ":pending": str(NodeStatus.PENDING),
            ":now": at,
        }
        names = {"#status": "status"}
        sets = ["#status = :status", "scheduled_at = :now", "finished_at = :now"]
        if status == NodeStatus.SKIPPED:
            sets.append("skip_reason = :reason")
            values[":reason"] = skip_reason or "skipped"
        else:
            record: dict[str, Any] = {
                "attempt": 1,
                "status": str(status),
                "started_at": at,
                "completed_at": at,
            }
            if error is not None:
                record["error"] = error
                sets.append("#error = :error")
                values[":error"] = error
                names["#error"] = "error"
            sets += ["started_at = :now", "attempt = :one", "attempts.#one = :record"]
            values.update({":one": 1, ":record": record})
            names["#one"] = "1"
            if status == NodeStatus.SUCCEEDED:
                for name, value in self.payloads.attributes(
                    "output", output, f"{org_id}/{run_id}/nodes/{ref}/output.json"
                ).items():
                    sets.append(f"#{name} = :{name}")
                    values[f":{name}"] = value
                    names[f"#{name}"] = name
        expression = "SET " + ", ".join(sets)
        if edge is not None:
            outcome, key = edge
            expression += f" ADD {outcome}_edges :edge"
            values[":edge"] = {key}
        return self._update(
            keys.node(org_id, run_id, ref),
            expression,
            values,
            condition="#status = :pending",
            names=names,
            returns="ALL_NEW",
        )

    def schedule_node(self, org_id: str, run_id: str, ref: str) -> bool:
        """pending -> scheduled, only while the run is running and not settling."""
        return self._node_transition_while_running(
            org_id,
            run_id,
            ref,
            "SET #status = :scheduled, scheduled_at = :now",
            {":scheduled": str(NodeStatus.SCHEDULED)},
            from_statuses=(NodeStatus.PENDING,),
        )

    def prepare_delivery(
        self, org_id: str, run_id: str, ref: str, attempt: int, action_input: Any
    ) -> None:
        """Keeps the rendered input of an action attempt for the dispatcher."""
        attrs = self.payloads.attributes(
            "action_input", action_input, f"{org_id}/{run_id}/nodes/{ref}/attempts/{attempt}.json"
        )
        self._update(
            keys.node(org_id, run_id, ref),
            "SET " + ", ".join(f"{name} = :{name}" for name in attrs),
            {f":{name}": value for name, value in attrs.items()},
        )

    def claim_delivery(
        self, org_id: str, run_id: str, ref: str, attempt: int, until: str, task_token: str
    ) -> dict[str, Any] | None:
        """The dispatcher's lease on an attempt's delivery: one POST at a time, none after the
        attempt has an answer. Returns the node item, or None when the claim is not granted.

        The waiting task's token is kept on the attempt (never shown) before the POST, so a
        callback that overtakes the destination's own answer can still resume it."""
        return self._update(
            keys.node(org_id, run_id, ref),
            "SET attempts.#n.claimed_until = :until, attempts.#n.task_token = :token",
            {
                ":token": task_token,
                ":until": until,
                ":now": now_iso(),
                ":attempt": attempt,
                ":running": str(NodeStatus.RUNNING),
            },
            condition="#status = :running AND attempt = :attempt "
            "AND attribute_not_exists(attempts.#n.delivery) "
            "AND (attribute_not_exists(attempts.#n.claimed_until) "
            "OR attempts.#n.claimed_until < :now)",
            names={"#status": "status", "#n": str(attempt)},
            returns="ALL_NEW",
        )

    def record_delivery(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        delivery: dict[str, Any],
        result: Any,
    ) -> bool:
        """What the destination answered for this attempt (once)."""
        attrs = self.payloads.attributes(
            "delivery_result", result, f"{org_id}/{run_id}/nodes/{ref}/results/{attempt}.json"
        )
        sets = ", ".join(f"{name} = :{name}" for name in attrs)
        return (
            self._update(
                keys.node(org_id, run_id, ref),
                f"SET attempts.#n.delivery = :delivery, {sets}",
                {
                    ":delivery": delivery,
                    ":attempt": attempt,
                    **{f":{name}": value for name, value in attrs.items()},
                },
                condition="attempt = :attempt AND attribute_not_exists(attempts.#n.delivery)",
                names={"#n": str(attempt)},
            )
            is not None
        )

    def set_attempt_wait(
        self, org_id: str, run_id: str, ref: str, attempt: int, timeout_at: str, heartbeat: int
    ) -> None:
        """An attempt that waits (a delivery, a callback, an approval): when it times out, and
        how far a heartbeat moves that."""
        self._update(
            keys.node(org_id, run_id, ref),
            "SET attempts.#n.timeout_at = :at, attempts.#n.heartbeat_seconds = :beat",
            {":at": timeout_at, ":beat": heartbeat},
            names={"#n": str(attempt)},
        )

    def store_attempt_token(
        self, org_id: str, run_id: str, ref: str, attempt: int, task_token: str
    ) -> dict[str, Any] | None:
        """Keeps the token of the task that waits on this attempt; the node, None if it ended."""
        return self._update(
            keys.node(org_id, run_id, ref),
            "SET attempts.#n.task_token = :token",
            {":token": task_token, ":attempt": attempt, ":running": str(NodeStatus.RUNNING)},
            condition="#status = :running AND attempt = :attempt",
            names={"#status": "status", "#n": str(attempt)},
            returns="ALL_NEW",
        )

    def record_signal(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        signal: dict[str, Any],
        result: Any = None,
    ) -> dict[str, Any] | None:
        """The callback (or review) that settles a waiting attempt, recorded once, only while
        that attempt is the node's current one and still running. The node, or None."""
        attrs = self.payloads.attributes(
            "signal_result", result, f"{org_id}/{run_id}/nodes/{ref}/signals/{attempt}.json"
        )
        sets = ", ".join(f"{name} = :{name}" for name in attrs)
        return self._update(
            keys.node(org_id, run_id, ref),
            f"SET attempts.#n.#signal = :signal, {sets}",
            {
                ":signal": signal,
                ":attempt": attempt,
                ":running": str(NodeStatus.RUNNING),
                ":ack": "ack",
                **{f":{name}": value for name, value in attrs.items()},
            },
            # First answer wins: not after the destination's own final (non-ack) answer.
            condition=f"{_WAITING_ATTEMPT} AND (attribute_not_exists(attempts.#n.delivery) "
            "OR attempts.#n.delivery.kind = :ack)",
            names={"#status": "status", "#signal": "signal", "#n": str(attempt)},
            returns="ALL_NEW",
        )

    def record_heartbeat(
        self, org_id: str, run_id: str, ref: str, attempt: int, seconds: int
    ) -> dict[str, Any] | None:
        """A waiting attempt is alive: its timeout moves ``seconds`` on. The node, or None."""
        beat = now()
        return self._update(
            keys.node(org_id, run_id, ref),
            "SET attempts.#n.timeout_at = :at, attempts.#n.heartbeat_at = :now, "
            "attempts.#n.heartbeats = if_not_exists(attempts.#n.heartbeats, :zero) + :one",
            {
                ":at": iso(beat + timedelta(seconds=seconds)),
                ":now": iso(beat),
                ":zero": 0,
                ":one": 1,
                ":attempt": attempt,
                ":running": str(NodeStatus.RUNNING),
            },
            condition=_WAITING_ATTEMPT,
            names={"#status": "status", "#signal": "signal", "#n": str(attempt)},
            returns="ALL_NEW",
        )

    def record_review(self, org_id: str, run_id: str, review: dict[str, Any]) -> None:
        """Who reviewed the run last, and when (seed 002's reviewed_by / reviewed_at)."""
        self._update(
            keys.run(org_id, run_id),
            "SET reviewed_by = :by, reviewed_at = :at",
            {":by": review["reviewed_by"], ":at": review["reviewed_at"]},
        )

    def skip_node(self, org_id: str, run_id: str, ref: str, reason: str) -> bool:
        """pending|scheduled -> skipped (a join that can never run, or run_if false), only while
        the run is running and not settling: once it settles, what has not run is cancelled."""
        return self._node_transition_while_running(
            org_id,
            run_id,
            ref,
            "SET #status = :skipped, finished_at = :now, skip_reason = :reason",
            {":skipped": str(NodeStatus.SKIPPED), ":reason": reason},
            from_statuses=(NodeStatus.PENDING, NodeStatus.SCHEDULED),
        )

    def _node_transition_while_running(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        expression: str,
        values: dict[str, Any],
        from_statuses: tuple[NodeStatus, ...],
    ) -> bool:
        """One node transition in a transaction with a check that the run is still running."""
        allowed = {f":from{i}": str(status) for i, status in enumerate(from_statuses)}
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _to_item(keys.node(org_id, run_id, ref)),
                            "UpdateExpression": expression,
                            "ConditionExpression": f"#status IN ({', '.join(allowed)})",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": _values(
                                {**values, **allowed, ":now": now_iso()}
                            ),
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": _to_item(keys.run(org_id, run_id)),
                            "ConditionExpression": "#status = :running AND "
                            "attribute_not_exists(settle_requested_at)",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": _values(
                                {":running": str(RunStatus.RUNNING)}
                            ),
                        }
                    },
                ]
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    def start_attempt(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        timeout_at: str | None,
        index: int | None = None,
    ) -> bool:
        """scheduled|running -> running with this attempt, recorded in ``attempts`` (replayable)."""
        started = now_iso()
        record = {"attempt": attempt, "status": "running", "started_at": started}
        if timeout_at:
            record["timeout_at"] = timeout_at
        return (
            self._update(
                keys.record(org_id, run_id, ref, index),
                "SET #status = :running, attempt = :attempt, attempts.#n = :record, "
                "started_at = if_not_exists(started_at, :now) REMOVE available_at",
                {
                    ":running": str(NodeStatus.RUNNING),
                    ":scheduled": str(NodeStatus.SCHEDULED),
                    ":attempt": attempt,
                    ":record": record,
                    ":now": started,
                },
                condition="#status IN (:scheduled, :running) AND attempt <= :attempt "
                "AND attribute_not_exists(attempts.#n.completed_at)",
                names={"#status": "status", "#n": str(attempt)},
            )
            is not None
        )

    def delay_node(self, org_id: str, run_id: str, ref: str, available_at: str) -> bool:
        """A scheduled node waits for its start_delay / wait_until until ``available_at``."""
        return (
            self._update(
                keys.node(org_id, run_id, ref),
                "SET available_at = :at",
                {":at": available_at, ":scheduled": str(NodeStatus.SCHEDULED)},
                condition="#status = :scheduled",
                names={"#status": "status"},
            )
            is not None
        )

    def schedule_retry(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        error: dict[str, str],
        available_at: str,
        index: int | None = None,
    ) -> bool:
        """Closes a failed attempt that will be tried again at ``available_at``."""
        return (
            self._update(
                keys.record(org_id, run_id, ref, index),
                "SET last_error = :error, available_at = :at, attempts.#n.#status = :retrying, "
                "attempts.#n.completed_at = :now, attempts.#n.#error = :error, "
                "attempts.#n.available_at = :at",
                {
                    ":error": error,
                    ":at": available_at,
                    ":now": now_iso(),
                    ":retrying": "retry_scheduled",
                    ":attempt": attempt,
                    ":running": str(NodeStatus.RUNNING),
                },
                condition="#status = :running AND attempt = :attempt "
                "AND attribute_not_exists(attempts.#n.completed_at)",
                names={"#status": "status", "#error": "error", "#n": str(attempt)},
            )
            is not None
        )

    def settle_node(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        status: NodeStatus,
        output: Any = None,
        error: dict[str, str] | None = None,
        index: int | None = None,
    ) -> bool:
        """running (this attempt) -> succeeded|failed, with the output or the error."""
        finished = now_iso()
        attrs: dict[str, Any] = {
            ":status": str(status),
            ":now": finished,
            ":running": str(NodeStatus.RUNNING),
            ":attempt": attempt,
        }
        expression = (
            "SET #status = :status, finished_at = :now, "
            "attempts.#n.#status = :status, attempts.#n.completed_at = :now"
        )
        names = {"#status": "status", "#n": str(attempt)}
        if status == NodeStatus.SUCCEEDED:
            suffix = "" if index is None else f"/items/{index}"
            for name, value in self.payloads.attributes(
                "output", output, f"{org_id}/{run_id}/nodes/{ref}{suffix}/output.json"
            ).items():
                expression += f", #{name} = :{name}"
                attrs[f":{name}"] = value
                names[f"#{name}"] = name
        if error is not None:
            expression += ", #error = :error, attempts.#n.#error = :error"
            attrs[":error"] = error
            names["#error"] = "error"
        return (
            self._update(
                keys.record(org_id, run_id, ref, index),
                expression,
                attrs,
                condition="#status = :running AND attempt = :attempt",
                names=names,
            )
            is not None
        )

    def create_items(
        self, org_id: str, run_id: str, ref: str, values: list[Any], expires_at: int
    ) -> None:
        """One record per for_each item, ready to run (a replay rewrites the same records).

        ``expires_at`` is the run's, so items go with it."""
        records = [
            {
                **keys.item(org_id, run_id, ref, index),
                "ref": ref,
                "index": index,
                "status": str(NodeStatus.SCHEDULED),
                "attempt": 0,
                "attempts": {},
                "expires_at": expires_at,
                **self.payloads.attributes(
                    "item", value, f"{org_id}/{run_id}/nodes/{ref}/items/{index}/item.json"
                ),
            }
            for index, value in enumerate(values)
        ]
        for start in range(0, len(records), _BATCH_WRITE_LIMIT):
            self._batch_put(records[start : start + _BATCH_WRITE_LIMIT])
        self._update(keys.node(org_id, run_id, ref), "SET item_count = :n", {":n": len(values)})

    def get_item(self, org_id: str, run_id: str, ref: str, index: int) -> dict[str, Any]:
        return self._required(keys.item(org_id, run_id, ref, index), "item", f"{ref}[{index}]")

    def list_items(self, org_id: str, run_id: str, ref: str) -> list[dict[str, Any]]:
        """Every item record of a for_each node, in item order."""
        return self._query_all(keys.item_pk(org_id, run_id, ref))

    def cancel_item(self, org_id: str, run_id: str, ref: str, index: int, reason: str) -> bool:
        return self._cancel(keys.item(org_id, run_id, ref, index), reason)

    def record_edge(
        self, org_id: str, run_id: str, ref: str, edge: str, outcome: str
    ) -> dict[str, Any]:
        """Adds a resolved incoming edge to the node's join state (idempotent); the node item."""
        return self._update(
            keys.node(org_id, run_id, ref),
            f"ADD {outcome}_edges :edge",
            {":edge": {edge}},
            returns="ALL_NEW",
        )

    def cancel_node(self, org_id: str, run_id: str, ref: str, reason: str) -> bool:
        """Any non-terminal state -> cancelled."""
        return self._cancel(keys.node(org_id, run_id, ref), reason)

    def _cancel(self, key: dict[str, str], reason: str) -> bool:
        return (
            self._update(
                key,
                "SET #status = :cancelled, finished_at = :now, #error = :error",
                {
                    ":cancelled": str(NodeStatus.CANCELLED),
                    ":now": now_iso(),
                    ":error": {"type": "Cancelled", "message": reason},
                    ":pending": str(NodeStatus.PENDING),
                    ":scheduled": str(NodeStatus.SCHEDULED),
                    ":running": str(NodeStatus.RUNNING),
                },
                condition="#status IN (:pending, :scheduled, :running)",
                names={"#status": "status", "#error": "error"},
            )
            is not None
        )

    # -- plumbing -------------------------------------------------------------------------------

    def _required(self, key: dict[str, str], kind: str, ident: str) -> dict[str, Any]:
        """One item (consistent read), or NotFound."""
        item = dynamo.get_item(self.table, key)
        if item is None:
            raise NotFound(kind, ident)
        return item

    def _update(
        self,
        key: dict[str, str],
        expression: str,
        values: dict[str, Any],
        condition: str | None = None,
        names: dict[str, str] | None = None,
        returns: str = "NONE",
    ) -> dict[str, Any] | None:
        """One UpdateItem; None when its condition does not hold, else the returned item."""
        return update_item(self.table, key, expression, values, condition, names, returns)
