"""DynamoDB transactions for moto without copying whole tables.

moto's TransactWriteItems deep-copies every table it touches before applying, to roll back on
a failed condition: each transaction costs time in proportion to the table, and the local stack
slowed down as runs piled up (a 200-run burst fell from 3.2 to 0.9 runs/s once every run
status change became a transaction). DynamoDB evaluates every condition against the state
before the transaction, so this checks all of them first and applies only if all hold: the same
outcome, nothing to roll back. Requests are already serialised by ``atomicity``.
"""

from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend

_original = DynamoDBBackend.transact_write_items


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    planned: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    reasons: list[tuple[Any, Any, Any]] = []
    seen: set[tuple[str, str]] = set()
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        table = self.get_table(op["TableName"])
        if op_type == "Put":
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        unique = (op["TableName"], str(dict(sorted(key.items()))))
        if unique in seen:
            raise MultipleTransactionsException()
        seen.add(unique)
        holds = True
        if op.get("ConditionExpression") is not None:
            current = self.get_item(op["TableName"], key)
            condition = get_filter_expression(
                op["ConditionExpression"],
                op.get("ExpressionAttributeNames"),
                op.get("ExpressionAttributeValues"),
            )
            holds = condition.expr(current)
        reasons.append(
            (None, None, None)
            if holds
            else ("ConditionalCheckFailed", "The conditional request failed", None)
        )
        planned.append((op_type, op, key))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)
    for op_type, op, key in planned:
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        if op_type == "Put":
            self.put_item(op["TableName"], op["Item"])
        elif op_type == "Delete":
            self.delete_item(op["TableName"], key)
        elif op_type == "Update":
            self.update_item(
                op["TableName"],
                key,
                update_expression=op["UpdateExpression"],
                expression_attribute_names=names,
                expression_attribute_values=values,
            )


def install() -> None:
    DynamoDBBackend.transact_write_items = _transact_write_items


def uninstall() -> None:
    DynamoDBBackend.transact_write_items = _original
