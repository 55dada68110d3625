"""HMAC keys kept in Secrets Manager (cursor and signal-token signing), through Powertools
Parameters, which caches them for an hour. Loaded on first use: it imports boto3."""

import sys


def hmac_key(secret_arn: str) -> bytes:
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_secret(secret_arn, max_age=3600)).encode()


def clear() -> None:
    """Forget cached keys (tests and the local stack start fresh backends)."""
    module = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if module is not None:
        module.clear_caches()
