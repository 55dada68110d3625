"""boto3 clients, created once per process with explicit timeouts and standard retries."""

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=3,
    read_timeout=10,
    tcp_keepalive=True,
)


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    return _session().client(service, config=_CONFIG)


def clear() -> None:
    """Forget the cached clients (tests and the local stack change region and credentials)."""
    client.cache_clear()
