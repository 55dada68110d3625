"""The Queries of run lists: one key range of one of the table's run indexes, filtered, read a
Query at a time until a page is full."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stepwise.infra import aws, dynamo, keys

_TESTS = {
    "=": "{name} = {value}",
    ">=": "{name} >= {value}",
    "<": "{name} < {value}",
    "begins_with": "begins_with({name}, {value})",
    "size=": "size({name}) = {value}",
}


@dataclass(frozen=True)
class Condition:
    """One term of a run list's filter: ``attribute`` passes ``test`` (a key of ``_TESTS``)
    against ``value``."""

    attribute: str
    test: str
    value: Any


def query_runs(
    table: str,
    index: keys.Index,
    pk: str,
    low: str,
    high: str,
    *,
    newest_first: bool,
    conditions: list[Condition],
    limit: int,
    keep: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The entries of ``index`` under ``pk`` with sort keys ``low`` to ``high`` (inclusive)
    that pass every condition, in key order (or its reverse), as ``keep`` keeps them from each
    Query's items: read until it has kept more than ``limit``, or the range ends."""
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": index.name,
        "KeyConditionExpression": f"{index.pk} = :pk AND {index.sk} BETWEEN :low AND :high",
        "ScanIndexForward": not newest_first,
    }
    named: dict[str, Any] = {":pk": pk, ":low": low, ":high": high}
    names: dict[str, str] = {}
    terms = []
    for number, condition in enumerate(conditions):
        name, value = f"#c{number}", f":c{number}"
        names[name] = condition.attribute
        named[value] = condition.value
        terms.append(_TESTS[condition.test].format(name=name, value=value))
    if terms:
        request["FilterExpression"] = " AND ".join(terms)
        request["ExpressionAttributeNames"] = names
    request["ExpressionAttributeValues"] = dynamo.values(named)
    found: list[dict[str, Any]] = []
    client = aws.client("dynamodb")
    while len(found) <= limit:
        request["Limit"] = limit + 2 - len(found)
        answer = client.query(**request)
        found.extend(keep([dynamo.from_item(raw) for raw in answer["Items"]]))
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return found


def runs(
    table: str, org_id: str, run_ids: list[str], attributes: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The runs of ``run_ids`` that exist, with only ``attributes``, in no particular order."""
    return dynamo.batch_get(table, [keys.run(org_id, i) for i in run_ids], attributes)
