"""The local stack's transactions: all or nothing, conditions read before any write."""

import boto3
import pytest
from botocore.exceptions import ClientError

from stepwise import components


def put(client, table, pk, **attrs):
    item = {"PK": {"S": pk}, "SK": {"S": "X"}, **{k: {"S": v} for k, v in attrs.items()}}
    return {"Put": {"TableName": table, "Item": item}}


def test_a_failed_condition_applies_nothing(stack):
    client, table = boto3.client("dynamodb"), components.store().table
    client.put_item(TableName=table, Item={"PK": {"S": "b"}, "SK": {"S": "X"}, "v": {"S": "1"}})
    failing = {
        "Update": {
            "TableName": table,
            "Key": {"PK": {"S": "b"}, "SK": {"S": "X"}},
            "UpdateExpression": "SET v = :new",
            "ConditionExpression": "v = :expected",
            "ExpressionAttributeValues": {":new": {"S": "2"}, ":expected": {"S": "9"}},
        }
    }
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(TransactItems=[put(client, table, "a", v="1"), failing])
    reasons = raised.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert "Item" not in client.get_item(TableName=table, Key={"PK": {"S": "a"}, "SK": {"S": "X"}})
    b = client.get_item(TableName=table, Key={"PK": {"S": "b"}, "SK": {"S": "X"}})["Item"]
    assert b["v"] == {"S": "1"}


def test_conditions_see_the_state_before_the_transaction(stack):
    """A Put and a ConditionCheck on other items: the check reads what was there before."""
    client, table = boto3.client("dynamodb"), components.store().table
    check = {
        "ConditionCheck": {
            "TableName": table,
            "Key": {"PK": {"S": "c"}, "SK": {"S": "X"}},
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }
    client.transact_write_items(TransactItems=[put(client, table, "d", v="1"), check])
    got = client.get_item(TableName=table, Key={"PK": {"S": "d"}, "SK": {"S": "X"}})["Item"]
    assert got["v"] == {"S": "1"}
    same = put(client, table, "d", v="2")
    with pytest.raises(ClientError):
        client.transact_write_items(TransactItems=[same, put(client, table, "d", v="3")])
