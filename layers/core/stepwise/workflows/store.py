"""Workflow versions in the table: a head item (the latest version number) and one immutable
item per version, whose definition is kept as exact JSON (in S3 when large)."""

from typing import Any

from botocore.exceptions import ClientError

from stepwise.core.clock import iso, now
from stepwise.core.errors import Conflict, NotFound
from stepwise.infra import aws, dynamo, keys
from stepwise.infra.payloads import PayloadStore
from stepwise.workflows.models import NodeSpec, Workflow, WorkflowCreate, WorkflowSummary


class WorkflowStore:
    def __init__(self, table: str, payloads: PayloadStore):
        self.table = table
        self.payloads = payloads

    def create_workflow(
        self,
        org_id: str,
        workflow_id: str,
        spec: WorkflowCreate,
        express_nodes: list[str] | None = None,
    ) -> Workflow:
        """Version 1 of a new workflow; ``express_nodes`` run as Express executions."""
        return self._put_version(org_id, workflow_id, 1, spec, express_nodes)

    def add_workflow_version(
        self,
        org_id: str,
        workflow_id: str,
        spec: WorkflowCreate,
        express_nodes: list[str] | None = None,
    ) -> Workflow:
        """A new immutable version; runs already started keep the version they pinned."""
        for _ in range(5):
            head = dynamo.get_required(
                self.table, keys.workflow_head(org_id, workflow_id), "workflow", workflow_id
            )
            try:
                return self._put_version(
                    org_id, workflow_id, int(head["latest_version"]) + 1, spec, express_nodes
                )
            except ClientError as exc:
                if not dynamo.condition_failed(exc):
                    raise
        raise Conflict("the workflow is being changed concurrently; try again")

    def _put_version(
        self,
        org_id: str,
        workflow_id: str,
        version: int,
        spec: WorkflowCreate,
        express_nodes: list[str] | None,
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
                "definition", body, keys.workflow_object(org_id, workflow_id, version)
            ),
            "created_at": created_at,
            # Present (even empty) on every version saved since the machine choice: absent, the
            # version's nodes all run on Standard as they did when it was saved.
            "express_nodes": list(express_nodes or []),
        }
        if version == 1:
            head_write = dynamo.put_new_item(
                self.table,
                {
                    **keys.workflow_head(org_id, workflow_id),
                    **keys.workflows_index(org_id, workflow_id),
                    "org_id": org_id,
                    "workflow_id": workflow_id,
                    "latest_version": 1,
                    "created_at": created_at,
                    "updated_at": created_at,
                },
            )
        else:
            head_write = dynamo.update_request(
                self.table,
                keys.workflow_head(org_id, workflow_id),
                "SET latest_version = :new, updated_at = :now",
                {":new": version, ":old": version - 1, ":now": created_at},
                condition="latest_version = :old",
            )
        # A lost race raises: add_workflow_version reads the head again.
        dynamo.write_all([head_write, dynamo.put_new_item(self.table, version_item)])
        return self._workflow_from_item(version_item)

    def list_workflow_versions(
        self, org_id: str, workflow_id: str, limit: int, after: int | None
    ) -> tuple[list[Workflow], int | None]:
        """Versions oldest first; the last version number when more may follow."""
        kwargs: dict[str, Any] = {}
        if after is not None:
            kwargs["ExclusiveStartKey"] = dynamo.to_item(
                keys.workflow_version(org_id, workflow_id, after)
            )
        page = aws.client("dynamodb").query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :v)",
            ExpressionAttributeValues=dynamo.values(
                {":pk": keys.workflow_pk(org_id, workflow_id), ":v": keys.WORKFLOW_VERSION_PREFIX}
            ),
            Limit=limit,
            **kwargs,
        )
        versions = [self._workflow_from_item(dynamo.from_item(i)) for i in page["Items"]]
        if not versions and after is None:
            raise NotFound("workflow", workflow_id)
        more = "LastEvaluatedKey" in page and len(versions) == limit
        return versions, (versions[-1].version if more else None)

    def list_workflows(
        self, org_id: str, limit: int, after: str | None
    ) -> tuple[list[WorkflowSummary], str | None]:
        """Newest first: a page of GSI1 (the heads), and one BatchGetItem for the names their
        latest versions carry; the last id when more may follow."""
        heads, following = dynamo.query_index(
            self.table, keys.workflows_index_pk(org_id), limit, after, newest_first=True
        )
        version_keys = [
            keys.workflow_version(org_id, h["workflow_id"], int(h["latest_version"])) for h in heads
        ]
        named = {
            item["workflow_id"]: item
            for item in dynamo.batch_get(
                self.table, version_keys, ("workflow_id", "name", "description")
            )
        }
        page = [
            WorkflowSummary(
                id=head["workflow_id"],
                name=named.get(head["workflow_id"], {}).get("name", head["workflow_id"]),
                description=named.get(head["workflow_id"], {}).get("description"),
                latest_version=int(head["latest_version"]),
                created_at=head["created_at"],
                updated_at=head.get("updated_at"),
            )
            for head in heads
        ]
        return page, following

    def get_workflow(self, org_id: str, workflow_id: str, version: int | None = None) -> Workflow:
        if version is None:
            head = dynamo.get_required(
                self.table, keys.workflow_head(org_id, workflow_id), "workflow", workflow_id
            )
            version = int(head["latest_version"])
        # A version never changes once written: read at half the units (strongly on a miss).
        item = dynamo.get_immutable(self.table, keys.workflow_version(org_id, workflow_id, version))
        if item is None:
            raise NotFound("workflow", workflow_id)
        return self._workflow_from_item(item)

    def _workflow_from_item(self, item: dict[str, Any]) -> Workflow:
        definition = self.payloads.load(item, "definition")
        workflow = Workflow(
            id=item["workflow_id"],
            org_id=item["org_id"],
            version=int(item["version"]),
            name=item["name"],
            description=item.get("description"),
            nodes=[NodeSpec.model_validate(n) for n in definition["nodes"]],
            returns=definition.get("returns"),
            on_failure=definition.get("on_failure"),
            timeout=int(item["timeout"]),
            created_at=item["created_at"],
        )
        if "express_nodes" in item:
            workflow._express_nodes = frozenset(item["express_nodes"])
        return workflow
