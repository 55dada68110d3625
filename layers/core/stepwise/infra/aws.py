"""boto3 clients, created once per process with explicit timeouts and standard retries.

boto3 is imported on first use (about 0.25 s of a cold start), so a request that touches no
AWS service does not pay for it.

Retries. botocore's ``standard`` mode retries throttling errors (ThrottlingException,
ProvisionedThroughputExceededException, RequestLimitExceeded, RequestThrottled,
TooManyRequestsException, SlowDown, ...) and transient ones (5xx, timeouts) with full-jitter
exponential backoff, but only up to ``max_attempts``, and only while the client's retry quota
lasts: every retry takes tokens from a bucket of 500 that successes refill, so a burst of
throttling empties it and every later throttled call then fails at its first attempt. (``adaptive``
mode adds a client-side rate limiter on top of the same quota.) A throttled call changed nothing,
so it is always safe to send again: ``_retry_throttled`` keeps retrying throttling errors after
botocore gives up, with full jitter, up to ``THROTTLE_ATTEMPTS`` attempts in all, whatever the
quota says. Errors that are not throttling keep botocore's attempts (``STANDARD_RETRIES``
retries after the first).
"""

import random
from functools import cache
from typing import Any

STANDARD_RETRIES = 3  # botocore's ``max_attempts`` counts retries: four attempts in all
# Attempts of a throttled call in all. botocore's own retries wait up to 1, 2 and 4 s; each
# later wait is drawn from [0, min(THROTTLE_CAP_SECONDS, THROTTLE_BASE_SECONDS * 2**n)]: at
# most 19 s of waiting in all, inside the 30 s timeout of the shortest function.
THROTTLE_ATTEMPTS = 10
THROTTLE_BASE_SECONDS = 0.25
THROTTLE_CAP_SECONDS = 2.0
# The throttling codes of the services Stepwise calls (botocore's standard mode knows the same).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)


@cache
def _session() -> Any:
    import boto3

    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": STANDARD_RETRIES},
        connect_timeout=3,
        read_timeout=10,
        tcp_keepalive=True,
    )
    made = _session().client(service, config=config)
    service_event = made.meta.service_model.service_id.hyphenize()
    # Registered after botocore's own handler: consulted only when that one says "no retry".
    made.meta.events.register(f"needs-retry.{service_event}", _retry_throttled)
    return made


def throttled(code: str | None) -> bool:
    return code in THROTTLING_CODES


def _retry_throttled(
    attempts: int, response: Any = None, caught_exception: Any = None, **_: Any
) -> float | None:
    """botocore's ``needs-retry`` event: seconds to wait before sending a throttled call again,
    or None. ``attempts`` counts the attempts made so far."""
    if response is None or caught_exception is not None or attempts >= THROTTLE_ATTEMPTS:
        return None
    code = response[1].get("Error", {}).get("Code")
    if not throttled(code):
        return None
    ceiling = min(THROTTLE_CAP_SECONDS, THROTTLE_BASE_SECONDS * 2**attempts)
    return random.uniform(0, ceiling)  # noqa: S311 (jitter, not a secret)


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
