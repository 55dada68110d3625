"""Secret values (credentials, signing secrets) in Secrets Manager: written here, never returned
by the API, never logged. The table keeps only the secret's ARN."""

import json
from typing import Any

from botocore.exceptions import ClientError

from stepwise.infra import aws

DELETE_RECOVERY_DAYS = 7


class Vault:
    def __init__(self, prefix: str):
        self.prefix = prefix

    def create(self, name: str, value: dict[str, Any], description: str) -> str:
        """Stores ``value`` under ``prefix + name``; returns the secret's ARN."""
        answer = aws.client("secretsmanager").create_secret(
            Name=f"{self.prefix}{name}",
            SecretString=json.dumps(value),
            Description=description,
        )
        return answer["ARN"]

    def read(self, arn: str) -> dict[str, Any]:
        answer = aws.client("secretsmanager").get_secret_value(SecretId=arn)
        return json.loads(answer["SecretString"])

    def read_previous(self, arn: str) -> dict[str, Any] | None:
        """The version ``replace`` superseded last (``AWSPREVIOUS``), or None if none was."""
        try:
            answer = aws.client("secretsmanager").get_secret_value(
                SecretId=arn, VersionStage="AWSPREVIOUS"
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            return None
        return json.loads(answer["SecretString"])

    def replace(self, arn: str, value: dict[str, Any]) -> None:
        """A new version, labelled ``AWSCURRENT``: Secrets Manager moves ``AWSPREVIOUS`` to the
        version it replaces, so a writer never needs to read the old value to keep it."""
        aws.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=json.dumps(value))

    def delete(self, arn: str) -> None:
        """Schedules deletion (recoverable for a week); an already-deleted secret is fine."""
        try:
            aws.client("secretsmanager").delete_secret(
                SecretId=arn, RecoveryWindowInDays=DELETE_RECOVERY_DAYS
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {
                "ResourceNotFoundException",
                "InvalidRequestException",
            }:
                raise
