"""Secret values (credentials, signing secrets) in Secrets Manager: written here, never returned
by the API, never logged. The table keeps only the secret's ARN."""

import json
import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from stepwise.infra import aws

DELETE_RECOVERY_DAYS = 7
# How long the dispatcher keeps a secret it read (a warm container delivers many times to one
# destination); AWS's own Parameters and Secrets extension defaults to the same bound.
SECRET_CACHE_SECONDS = 300


# One per process (a Lambda container), whatever builds a Vault in it.
_cache: dict[tuple[str, str, str], tuple[float, Any]] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every secret value kept in this process."""
    with _lock:
        _cache.clear()


class Vault:
    def __init__(self, prefix: str, cache_seconds: float = 0):
        """``cache_seconds`` > 0: values read are kept that long in this process (the
        dispatcher's, which reads a destination's secrets on every delivery); a caller that
        knows a value changed passes a new ``stamp`` and reads it afresh."""
        self.prefix = prefix
        self.cache_seconds = cache_seconds

    def _cached(self, key: tuple[str, str, str], load: Any) -> Any:
        if self.cache_seconds <= 0:
            return load()
        with _lock:
            found = _cache.get(key)
        if found is not None and time.monotonic() < found[0]:
            return found[1]
        value = load()
        with _lock:
            if len(_cache) >= 1024:  # a bound on memory; the oldest entries go first
                for stale in list(_cache)[:256]:
                    del _cache[stale]
            _cache[key] = (time.monotonic() + self.cache_seconds, value)
        return value

    def create(self, name: str, value: dict[str, Any], description: str) -> str:
        """Stores ``value`` under ``prefix + name``; returns the secret's ARN."""
        answer = aws.client("secretsmanager").create_secret(
            Name=f"{self.prefix}{name}",
            SecretString=json.dumps(value),
            Description=description,
        )
        return answer["ARN"]

    def read(self, arn: str, stamp: str = "") -> dict[str, Any]:
        return self._cached((arn, "AWSCURRENT", stamp), lambda: self._get(arn))

    def _get(self, arn: str) -> dict[str, Any]:
        answer = aws.client("secretsmanager").get_secret_value(SecretId=arn)
        return json.loads(answer["SecretString"])

    def read_previous(self, arn: str, stamp: str = "") -> dict[str, Any] | None:
        """The version ``replace`` superseded last (``AWSPREVIOUS``), or None if none was."""
        return self._cached((arn, "AWSPREVIOUS", stamp), lambda: self._get_previous(arn))

    def _get_previous(self, arn: str) -> dict[str, Any] | None:
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
