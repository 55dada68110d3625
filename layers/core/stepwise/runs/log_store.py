"""A run's log lines in the table: in the run's partition, by id (ids sort by time)."""

from typing import Any

from stepwise.infra import dynamo, keys


class LogStore:
    def __init__(self, table: str):
        self.table = table

    def put(self, org_id: str, run_id: str, log_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Writes a new line; the item as written."""
        item = {**keys.run_log(org_id, run_id, log_id), **fields}
        dynamo.put_new(self.table, item)
        return item

    def page(
        self, org_id: str, run_id: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Lines in id order after the line ``after``; the last id when more may follow."""
        return dynamo.query_prefix(
            self.table, keys.run_pk(org_id, run_id), keys.LOG_PREFIX, limit, after
        )
