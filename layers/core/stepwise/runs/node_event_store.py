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
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """The events ``first`` to ``first + size`` of the node's events newer than
        ``since_id``, newest first; how many keys were read; and whether more events follow.

        It reads keys only, and no further than one past the page (Query ``Limit``): the first
        page reads ``size + 1`` keys however many events the node has; page ``n`` reads
        ``n * size + 1`` (page numbers cannot skip without reading). The count is the list's
        length only when no more follow. Then it reads the page's events by key."""
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
        enough = first + size + 1  # one past the page says whether more follow
        count, wanted, more = 0, [], False
        client = aws.client("dynamodb")
        while count < enough:
            request["Limit"] = enough - count
            answer = client.query(**request)
            for raw in answer["Items"]:
                if first <= count < first + size:
                    wanted.append(keys.key_of(dynamo.from_item(raw)))
                count += 1
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        if count >= enough:
            # The key one past the page exists; DynamoDB may also end a Limit-ed Query with a
            # LastEvaluatedKey when nothing follows, so only a key actually read counts.
            more, count = True, count - 1
        found = {item["SK"]: item for item in dynamo.batch_get(self.table, wanted)}
        return [found[k["SK"]] for k in wanted if k["SK"] in found], count, more
