"""When a failed attempt is tried again (pure)."""

import math

from stepwise.workflows.models import RetryPolicy


def retry_delay(policy: RetryPolicy, attempt: int) -> int | None:
    """Seconds to wait before attempt ``attempt + 1``, or None when no attempt is left.

    The n-th retry waits ``initial_interval * backoff_coefficient ** (n - 1)``, capped at
    ``max_interval``; Step Functions' Wait takes whole seconds, so the delay is rounded up.
    """
    if attempt >= policy.max_attempts:
        return None
    delay = policy.initial_interval * policy.backoff_coefficient ** (attempt - 1)
    return math.ceil(min(delay, policy.max_interval))
