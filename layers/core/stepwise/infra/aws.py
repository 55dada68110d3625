"""boto3 clients, created once per process with explicit timeouts and standard retries.

boto3 is imported on first use (about 0.25 s of a cold start), so a request that touches no
AWS service does not pay for it.
"""

from functools import cache
from typing import Any


@cache
def _session() -> Any:
    import boto3

    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=3,
        read_timeout=10,
        tcp_keepalive=True,
    )
    return _session().client(service, config=config)


def load_models(services: tuple[str, ...]) -> None:
    """Imports boto3 and reads these services' API models, without making a client (no
    credentials are looked up): a SnapStart snapshot keeps them, a cold request skips them."""
    session = _session()._session
    for service in services:
        session.get_service_model(service)


def clear(session: bool = False) -> None:
    """Forget the cached clients (tests and the local stack change region and credentials), and
    with ``session`` the session too, with any credentials it resolved for them."""
    client.cache_clear()
    if session:
        _session.cache_clear()
