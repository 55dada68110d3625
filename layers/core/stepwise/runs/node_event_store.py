"""Node events in the table: one partition per workflow node, sorted by event id."""

from typing import Any

from stepwise.infra import aws, dynamo, keys


class NodeEventStore:
    def __init__(self, table: str):
        self.table = table

    def put(
        self, org_id: str, workflow_id: str, ref: str, event_id: str, fields: dict[str, Any]
    ) -> None:
        """Writes an event (again, when a step is replayed: the same item)."""
        item = {**keys.node_event(org_id, workflow_id, ref, event_id), **fields}
        aws.client("dynamodb").put_item(TableName=self.table, Item=dynamo.to_item(item))

    def workflow_exists(self, org_id: str, workflow_id: str) -> bool:
        return dynamo.get_item(self.table, keys.workflow_head(org_id, workflow_id)) is not None

    def page(
        self,
        org_id: str,
        workflow_id: str,
        ref: str,
        since_id: str | None,
        first: int,
        size: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """The events ``first`` to ``first + size`` of the node's events newer than
        ``since_id``, newest first, and how many those are. It reads every key of the list
        (keys only) to count them, then the page's events by key."""
        condition, named = "PK = :pk", {":pk": keys.node_events_pk(org_id, workflow_id, ref)}
        if since_id:
            condition += " AND SK > :since"
            named[":since"] = since_id
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": dynamo.values(named),
            "ProjectionExpression": "PK, SK",
            "ScanIndexForward": False,
        }
        count, wanted = 0, []
        client = aws.client("dynamodb")
        while True:
            answer = client.query(**request)
            for raw in answer["Items"]:
                if first <= count < first + size:
                    wanted.append(keys.key_of(dynamo.from_item(raw)))
                count += 1
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        found = {item["SK"]: item for item in dynamo.batch_get(self.table, wanted)}
        return [found[k["SK"]] for k in wanted if k["SK"] in found], count
