"""What the janitor reads and writes itself: the list of orgs, an org's runs in one status, and
where its last sweep of an org stopped. (The runs it settles go through the store and engine.)"""

from collections.abc import Iterator
from typing import Any

from stepwise.infra import aws, dynamo, keys


class JanitorStore:
    def __init__(self, table: str):
        self.table = table

    def orgs(self) -> Iterator[str]:
        """Every org, from the list of orgs (an org joins it with its first API key)."""
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": dynamo.values({":pk": keys.ORGS_PK}),
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = aws.client("dynamodb").query(**kwargs)
            for item in page["Items"]:
                yield dynamo.from_item(item)["org_id"]
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def runs_in_status(
        self, org_id: str, status: str, after: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to ``limit`` of the org's runs in ``status`` (GSI3 entries), oldest first, after
        run ``after``; the last run id if more may follow."""
        index = keys.GSI3
        condition = f"{index.pk} = :pk"
        named: dict[str, Any] = {":pk": keys.runs_by_status_pk(org_id, status)}
        if after:
            condition += f" AND {index.sk} > :after"
            named[":after"] = after
        page = aws.client("dynamodb").query(
            TableName=self.table,
            IndexName=index.name,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=dynamo.values(named),
            Limit=limit,
        )
        entries = [dynamo.from_item(i) for i in page["Items"]]
        more = "LastEvaluatedKey" in page and len(entries) == limit
        return entries, (entries[-1]["run_id"] if more else None)

    def position(self, org_id: str) -> dict[str, Any]:
        """Where the last sweep of the org stopped, per status (the last run id seen)."""
        return dynamo.get_item(self.table, keys.janitor_position(org_id)) or {}

    def move_position(self, org_id: str, moved: dict[str, str | None]) -> None:
        """Sets where the sweep stopped for the statuses in ``moved`` (None: start over)."""
        dynamo.update_item(
            self.table,
            keys.janitor_position(org_id),
            "SET " + ", ".join(f"#{s} = :{s}" for s in moved),
            {f":{s}": last for s, last in moved.items()},
            names={f"#{s}": s for s in moved},
        )
