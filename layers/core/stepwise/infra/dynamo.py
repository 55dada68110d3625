"""DynamoDB plumbing shared by the data-access modules: item conversion and conditional updates."""

import random
import time
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from stepwise.core.errors import NotFound
from stepwise.infra import aws
from stepwise.infra.keys import GSI1


@cache
def _types() -> Any:
    """boto3's (de)serializers, loaded with boto3 on first use."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Python values to DynamoDB's typed form; None attributes are left out."""
    serializer = _types()[0]
    return {k: serializer.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    deserializer = _types()[1]
    return {k: deserializer.deserialize(v) for k, v in item.items()}


def values(named: dict[str, Any]) -> dict[str, Any]:
    """ExpressionAttributeValues (None kept, as NULL)."""
    serializer = _types()[0]
    return {k: serializer.serialize(v) for k, v in named.items()}


def condition_failed(exc: ClientError) -> bool:
    """Whether a write failed on its condition (plain or inside a transaction)."""
    code = exc.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


# DynamoDB cancels a transaction that touches an item another transaction holds
# (TransactionConflict), and an UpdateItem on such an item fails with TransactionConflictException.
# Nothing was written either way, so the request is safe to send again; botocore's standard retry
# mode does not retry these (nor a transaction cancelled with a ThrottlingError reason). Full-jitter
# backoff spreads the retries of a burst: conflicts clear in milliseconds, throttling may take
# seconds, so waits start small and grow to 2 s (at most about 6.5 s of waiting in all).
CONTENTION_ATTEMPTS = 10
CONTENTION_BASE_SECONDS = 0.02
CONTENTION_CAP_SECONDS = 2.0
_CONTENDED_REASONS = frozenset({"TransactionConflict", "ThrottlingError"})


def contended(exc: ClientError) -> bool:
    """Whether a write failed only because of contention (another transaction, throttling),
    not on a condition or a validation: sending it again may succeed."""
    code = exc.response["Error"]["Code"]
    if code == "TransactionConflictException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])} - {"None"}
    return bool(reasons) and reasons <= _CONTENDED_REASONS


def _send(call: Any, **request: Any) -> Any:
    """One DynamoDB write, sent again (with jittered backoff) while it fails on contention."""
    for attempt in range(CONTENTION_ATTEMPTS):
        try:
            return call(**request)
        except ClientError as exc:
            if attempt == CONTENTION_ATTEMPTS - 1 or not contended(exc):
                raise
            ceiling = min(CONTENTION_CAP_SECONDS, CONTENTION_BASE_SECONDS * 2**attempt)
            time.sleep(random.uniform(0, ceiling))  # noqa: S311 (jitter, not a secret)
    raise AssertionError("unreachable")


def update_item(
    table: str,
    key: dict[str, str],
    expression: str,
    attribute_values: dict[str, Any],
    condition: str | None = None,
    names: dict[str, str] | None = None,
    returns: str = "NONE",
) -> dict[str, Any] | None:
    """One UpdateItem; None when its condition does not hold, else the returned attributes."""
    request = update_request(table, key, expression, attribute_values, condition, names)
    try:
        answer = _send(
            aws.client("dynamodb").update_item, **request["Update"], ReturnValues=returns
        )
    except ClientError as exc:
        if condition_failed(exc):
            return None
        raise
    return from_item(answer.get("Attributes", {}))


def update_if(
    table: str,
    key: dict[str, str],
    expression: str,
    attribute_values: dict[str, Any],
    condition: str | None = None,
    names: dict[str, str] | None = None,
) -> bool:
    """One conditional UpdateItem; whether its condition held."""
    found = update_item(table, key, expression, attribute_values, condition, names)
    return found is not None


def get_item(table: str, key: dict[str, str], consistent: bool = True) -> dict[str, Any] | None:
    """One item, strongly consistent unless ``consistent`` is False; None if there is none."""
    found = aws.client("dynamodb").get_item(
        TableName=table, Key=to_item(key), ConsistentRead=consistent
    )
    return from_item(found["Item"]) if "Item" in found else None


def get_immutable(table: str, key: dict[str, str]) -> dict[str, Any] | None:
    """An item that is put once and never changed (a workflow version, an action definition
    version): read eventually consistent, at half the read units, and strongly only when that
    finds nothing. DynamoDB's reads are read-committed, so a copy found is the item as it was
    put, whole; an eventually consistent read "may not reflect the results of a recently
    completed write operation" (Amazon DynamoDB Developer Guide, "DynamoDB read consistency",
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html),
    so only a miss can be stale (an item put moments ago) and is asked for again, strongly."""
    found = get_item(table, key, consistent=False)
    return found if found is not None else get_item(table, key)


def batch_get(
    table: str,
    keys: list[dict[str, str]],
    attributes: tuple[str, ...] = (),
    consistent: bool = False,
) -> list[dict[str, Any]]:
    """The items at ``keys`` that exist, in no particular order, with only ``attributes`` when
    they are given. Unprocessed keys are asked for again."""
    client = aws.client("dynamodb")
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):  # BatchGetItem's limit
        request: dict[str, Any] = {"Keys": [to_item(k) for k in keys[start : start + 100]]}
        if consistent:
            request["ConsistentRead"] = True
        if attributes:
            request["ProjectionExpression"] = ", ".join(f"#a{i}" for i in range(len(attributes)))
            request["ExpressionAttributeNames"] = {f"#a{i}": a for i, a in enumerate(attributes)}
        pending, delay = {table: request}, 0.05
        while pending:
            answer = client.batch_get_item(RequestItems=pending)
            found.extend(from_item(i) for i in answer["Responses"].get(table, []))
            pending = answer.get("UnprocessedKeys") or {}
            if pending:  # throttled keys: again, with full jitter
                time.sleep(random.uniform(0, delay))  # noqa: S311 (jitter, not a secret)
                delay = min(delay * 2, 2.0)
    return found


def put_new(table: str, item: dict[str, Any]) -> None:
    """Puts an item that must not exist yet."""
    _send(
        aws.client("dynamodb").put_item,
        TableName=table,
        Item=to_item(item),
        ConditionExpression="attribute_not_exists(PK)",
    )


def put_new_item(table: str, item: dict[str, Any]) -> dict[str, Any]:
    """A transaction's Put of an item that must not exist yet."""
    return {
        "Put": {
            "TableName": table,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def put_if_absent(table: str, item: dict[str, Any]) -> bool:
    """Puts an item unless one with its key exists; whether it was put."""
    try:
        put_new(table, item)
    except ClientError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def query_prefix(
    table: str, pk: str, prefix: str, limit: int, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the items of partition ``pk`` whose sort key starts with ``prefix``, after
    the item whose sort key ends in ``after``; that of the last one if more may follow."""
    low = prefix + after if after else prefix
    page = aws.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
        ExpressionAttributeValues=values({":pk": pk, ":low": low, ":high": prefix + "~"}),
        ConsistentRead=True,
        Limit=limit + 1,
    )
    items = [from_item(i) for i in page["Items"]]
    if after and items and items[0]["SK"] == low:
        items = items[1:]  # BETWEEN is inclusive: the item the page starts after
    more = len(items) > limit or "LastEvaluatedKey" in page
    items = items[:limit]
    return items, (items[-1]["SK"].removeprefix(prefix) if more and items else None)


def query_index_key(table: str, index_pk: str, index_sk: str) -> list[dict[str, Any]]:
    """The GSI1 entries with exactly this key (one, for ids that are unique in their list)."""
    page = aws.client("dynamodb").query(
        TableName=table,
        IndexName=GSI1.name,
        KeyConditionExpression=f"{GSI1.pk} = :pk AND {GSI1.sk} = :sk",
        ExpressionAttributeValues=values({":pk": index_pk, ":sk": index_sk}),
    )
    return [from_item(i) for i in page["Items"]]


def query_index(
    table: str, index_pk: str, limit: int, after: str | None, newest_first: bool = False
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of GSI1 under ``index_pk`` after sort key ``after``; the last key if more follow."""
    condition = f"{GSI1.pk} = :pk"
    named: dict[str, Any] = {":pk": index_pk}
    if after:
        condition += f" AND {GSI1.sk} {'<' if newest_first else '>'} :after"
        named[":after"] = after
    page = aws.client("dynamodb").query(
        TableName=table,
        IndexName=GSI1.name,
        KeyConditionExpression=condition,
        ExpressionAttributeValues=values(named),
        ScanIndexForward=not newest_first,
        Limit=limit,
    )
    items = [from_item(i) for i in page["Items"]]
    more = "LastEvaluatedKey" in page and len(items) == limit
    return items, (items[-1][GSI1.sk] if more else None)


def get_required(table: str, key: dict[str, str], kind: str, ident: str) -> dict[str, Any]:
    """One item (consistent read), or NotFound naming it."""
    item = get_item(table, key)
    if item is None:
        raise NotFound(kind, ident)
    return item


def exists(table: str, key: dict[str, str]) -> bool:
    found = aws.client("dynamodb").get_item(
        TableName=table, Key=to_item(key), ProjectionExpression="PK", ConsistentRead=True
    )
    return "Item" in found


def write_all(items: list[dict[str, Any]]) -> None:
    """One TransactWriteItems; a condition that does not hold raises (TransactionCanceled)."""
    _send(aws.client("dynamodb").transact_write_items, TransactItems=items)


def transact(items: list[dict[str, Any]]) -> bool:
    """One TransactWriteItems; False when a condition in it does not hold."""
    try:
        write_all(items)
    except ClientError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def failed_positions(exc: ClientError) -> set[int]:
    """The positions of a cancelled transaction's items whose condition did not hold (DynamoDB
    lists a reason per item, in the request's order)."""
    reasons = exc.response.get("CancellationReasons", [])
    return {i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"}


def update_request(
    table: str,
    key: dict[str, str],
    expression: str,
    attribute_values: dict[str, Any],
    condition: str | None = None,
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A transaction's Update."""
    update: dict[str, Any] = {
        "TableName": table,
        "Key": to_item(key),
        "UpdateExpression": expression,
    }
    if attribute_values:  # DynamoDB refuses an empty map (a bare REMOVE has no values)
        update["ExpressionAttributeValues"] = values(attribute_values)
    if condition:
        update["ConditionExpression"] = condition
    if names:
        update["ExpressionAttributeNames"] = names
    return {"Update": update}


def add_counts(table: str, key: dict[str, str], changes: dict[str, int]) -> dict[str, Any]:
    """A transaction's Update that moves counters by ``changes`` (ADD needs no condition)."""
    names = {f"#c{i}": name for i, name in enumerate(changes)}
    return update_request(
        table,
        key,
        "ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(names))),
        {f":v{i}": delta for i, delta in enumerate(changes.values())},
        names=names,
    )


def query_partition(table: str, pk: str, from_sk: str | None = None) -> list[dict[str, Any]]:
    """Every item of one partition (consistent, paged), in sort-key order; from ``from_sk`` on
    when it is given."""
    condition, named = "PK = :pk", {":pk": pk}
    if from_sk is not None:
        condition += " AND SK >= :from"
        named[":from"] = from_sk
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values(named),
        "ConsistentRead": True,
    }
    items: list[dict[str, Any]] = []
    while True:
        page = aws.client("dynamodb").query(**kwargs)
        items.extend(from_item(i) for i in page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


BATCH_WRITE_LIMIT = 25


def put_all(table: str, items: list[dict[str, Any]]) -> None:
    """Puts every item, 25 to a BatchWriteItem, asking again for unprocessed ones."""
    for start in range(0, len(items), BATCH_WRITE_LIMIT):
        requests = [
            {"PutRequest": {"Item": to_item(i)}} for i in items[start : start + BATCH_WRITE_LIMIT]
        ]
        delay = 0.05
        while requests:
            answer = aws.client("dynamodb").batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table, [])
            if requests:  # throttled items: again, with full jitter
                time.sleep(random.uniform(0, delay))  # noqa: S311 (jitter, not a secret)
                delay = min(delay * 2, 2.0)
