"""Powertools idempotency records, kept in the stack's table: their persistence layer."""

from typing import Any

from stepwise.infra import aws


def persistence_layer(table: str, partition: str) -> Any:
    """Powertools' DynamoDB persistence layer, writing the records in partition ``partition``
    of ``table`` (with the process's DynamoDB client)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(
        table_name=table,
        key_attr="PK",
        sort_key_attr="SK",
        static_pk_value=partition,
        expiry_attr="expires_at",
        boto3_client=aws.client("dynamodb"),
    )
