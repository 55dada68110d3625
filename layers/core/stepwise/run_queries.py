"""Run lists: filters, both-way paging and totals, each page one Query (or a few, when a filter
that is not the key drops items).

Generated run ids start with a ULID, so every run index sorts them by creation time (an
external run's own id sorts by itself). The key of the Query is
the most selective filter that has an index (status: GSI3, workflow: GSI2, else the org's runs
on GSI1, where child runs, ``{parent}.{ref}.{attempt}``, sort right after their parent); the
others become a FilterExpression. A position is a run id, so paging stays stable while new runs
arrive.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stepwise import aws, keys
from stepwise.clock import iso
from stepwise.dynamo import from_item, values

_AFTER_EVERY_ID = "~"  # sorts after the letters, digits, "_", "." and "-" of any run id


@dataclass(frozen=True)
class RunFilter:
    status: str | None = None
    workflow_id: str | None = None
    parent_run_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def counted(self) -> str | None:
        """The run-count name that is this filter's total, if there is one."""
        if self.parent_run_id or self.created_after or self.created_before:
            return None
        if self.status and self.workflow_id:
            return None
        if self.status:
            return f"status:{self.status}"
        if self.workflow_id:
            return f"workflow:{self.workflow_id}"
        return "all"

    def scope(self) -> str:
        """What a cursor is bound to: the same list, the same filters."""
        return "|".join(
            f"{k}={'' if v is None else v}"
            for k, v in (
                ("status", self.status),
                ("workflow", self.workflow_id),
                ("parent", self.parent_run_id),
                ("after", self.created_after and self.created_after.isoformat()),
                ("before", self.created_before and self.created_before.isoformat()),
            )
        )


@dataclass(frozen=True)
class Position:
    """Where a page starts: older (or newer) than ``at``, ``at`` itself included or not."""

    at: str
    newer: bool = False
    inclusive: bool = False


def page_runs(
    table: str, org_id: str, query: RunFilter, limit: int, position: Position | None
) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` run summaries, newest first, and whether more follow in the direction
    of travel (older, or newer when ``position.newer``)."""
    index, pk_name, pk, sk_name = _index(org_id, query)
    low, high = _range(query)
    newer = bool(position and position.newer)
    if position is not None:
        if newer:
            low = max(low, position.at)
        else:
            high = min(high, position.at)
    if low > high:
        return [], False
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": f"{pk_name} = :pk AND {sk_name} BETWEEN :low AND :high",
        "ScanIndexForward": newer,
    }
    named: dict[str, Any] = {":pk": pk, ":low": low, ":high": high}
    filters = []
    if query.status and index != "GSI3":
        filters.append("#status = :status")
        named[":status"] = query.status
        request["ExpressionAttributeNames"] = {"#status": "status"}
    if query.workflow_id and index not in ("GSI2",):
        filters.append("workflow_id = :workflow")
        named[":workflow"] = query.workflow_id
    if query.parent_run_id and index != "GSI1":
        filters.append("begins_with(run_id, :children)")
        named[":children"] = f"{query.parent_run_id}."
    if query.created_after:
        filters.append("created_at >= :after")
        named[":after"] = _iso(query.created_after)
    if query.created_before:
        filters.append("created_at < :before")
        named[":before"] = _iso(query.created_before)
    if filters:
        request["FilterExpression"] = " AND ".join(filters)
    request["ExpressionAttributeValues"] = values(named)
    found: list[dict[str, Any]] = []
    client = aws.client("dynamodb")
    while len(found) <= limit:
        request["Limit"] = limit + 2 - len(found)
        answer = client.query(**request)
        for raw in answer["Items"]:
            item = from_item(raw)
            if position is not None and item["run_id"] == position.at and not position.inclusive:
                continue
            found.append(item)
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    more = len(found) > limit
    page = found[:limit]
    if newer:
        page.reverse()
    return page, more


def _index(org_id: str, query: RunFilter) -> tuple[str, str, str, str]:
    if query.status:
        return "GSI3", "GSI3PK", keys.runs_by_status_pk(org_id, query.status), "GSI3SK"
    if query.workflow_id:
        return "GSI2", "GSI2PK", keys.runs_by_workflow_pk(org_id, query.workflow_id), "GSI2SK"
    return "GSI1", "GSI1PK", keys.runs_index_pk(org_id), "GSI1SK"


def _range(query: RunFilter) -> tuple[str, str]:
    """The sort-key range the filters allow (inclusive). Ids use ``[a-z0-9_.-]``; "-" sorts
    first. Creation times narrow generated ids only (an external run's own id says nothing
    of its time), so they are applied as a filter on ``created_at`` as well."""
    low, high = "-", _AFTER_EVERY_ID
    if query.parent_run_id:
        low = max(low, f"{query.parent_run_id}.")
        high = min(high, f"{query.parent_run_id}.{_AFTER_EVERY_ID}")
    return low, high


def _iso(moment: datetime) -> str:
    """As ``created_at`` is stored (UTC, ISO 8601), so strings compare as times; a time
    without a zone is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso(moment.astimezone(UTC))
