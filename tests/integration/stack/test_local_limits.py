"""The local stack refuses the payloads AWS refuses and moto takes (stepwise_local/limits.py)."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from stepwise import components
from stepwise.infra import event_bus

LIMIT = 262_144


def refused(call, *args, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value


def test_start_execution_takes_at_most_256_kb_of_input(stack):
    sfn = boto3.client("stepfunctions")
    machine = stack.stack.names["NodeStateMachine"]
    fits = json.dumps({"v": "x" * (LIMIT - 9)})
    assert len(fits.encode()) == LIMIT
    sfn.start_execution(stateMachineArn=machine, name="fits", input=fits)
    # Counted in UTF-8 bytes: fewer characters than the limit, more bytes.
    wide = json.dumps({"v": "é" * (LIMIT // 2)}, ensure_ascii=False)
    assert len(wide) < LIMIT < len(wide.encode())
    error = refused(sfn.start_execution, stateMachineArn=machine, name="wide", input=wide)
    assert error.response["Error"]["Code"] == "ValidationException"
    assert "length less than or equal to 262144" in error.response["Error"]["Message"]
    names = {e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    assert names == {"fits"}


def test_send_task_success_takes_at_most_256_kb_of_output(stack):
    sfn = boto3.client("stepfunctions")
    output = json.dumps({"v": "x" * LIMIT})
    error = refused(sfn.send_task_success, taskToken="any-token", output=output)
    assert error.response["Error"]["Code"] == "ValidationException"
    sfn.send_task_success(taskToken="any-token", output=json.dumps({"v": "x" * 1000}))


def test_an_sqs_message_counts_its_bytes_and_attributes(stack):
    sqs = boto3.client("sqs")
    queue = stack.stack.environment["SIGNAL_QUEUE_URL"]
    limit = int(
        sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["MaximumMessageSize"])[
            "Attributes"
        ]["MaximumMessageSize"]
    )
    wide = "é" * (limit // 2 + 1)  # fewer characters than the limit, more bytes
    error = refused(sqs.send_message, QueueUrl=queue, MessageBody=wide)
    assert error.response["Error"]["Code"] == "InvalidParameterValue"
    attribute = {"trace": {"DataType": "String", "StringValue": "t" * 100}}
    error = refused(
        sqs.send_message,
        QueueUrl=queue,
        MessageBody="x" * (limit - 50),
        MessageAttributes=attribute,
    )
    assert error.response["Error"]["Code"] == "InvalidParameterValue"
    sqs.send_message(QueueUrl=queue, MessageBody="x" * (limit - 150), MessageAttributes=attribute)


def test_put_events_refuses_entries_over_256_kb(stack):
    bus = stack.stack.environment["EVENT_BUS_NAME"]
    events = boto3.client("events")
    big = {
        "Source": "s",
        "DetailType": "d",
        "Detail": json.dumps({"v": "x" * LIMIT}),
        "EventBusName": bus,
    }
    error = refused(events.put_events, Entries=[big])
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    # The product's own put (a lifecycle event with a huge error message) fails the same way.
    with pytest.raises(ClientError):
        event_bus.put(bus, "stepwise", "Run Failed", {"error": {"message": "e" * LIMIT}})
    event_bus.put(bus, "stepwise", "Run Failed", {"error": {"message": "e" * 1000}})


def test_moto_itself_refuses_a_dynamodb_item_over_400_kb(stack):
    """No check is added for DynamoDB's item size: moto refuses it (PutItem, UpdateItem and
    transactions alike). This keeps that true as moto changes."""
    client, table = boto3.client("dynamodb"), components.store().table
    item = {"PK": {"S": "big"}, "SK": {"S": "X"}, "v": {"S": "é" * 205_000}}  # 410 KB
    error = refused(client.put_item, TableName=table, Item=item)
    assert error.response["Error"]["Code"] == "ValidationException"
    error = refused(
        client.transact_write_items, TransactItems=[{"Put": {"TableName": table, "Item": item}}]
    )
    assert error.response["Error"]["Code"] == "ValidationException"
