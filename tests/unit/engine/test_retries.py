"""Retry delays grow by the backoff coefficient and stop at max_attempts."""

from stepwise.engine.retries import retry_delay
from stepwise.workflows.models import RetryPolicy


def test_no_retry_by_default():
    assert retry_delay(RetryPolicy(), 1) is None


def test_delays_grow_by_the_coefficient_until_capped():
    policy = RetryPolicy(max_attempts=6, initial_interval=2, backoff_coefficient=3, max_interval=50)
    assert [retry_delay(policy, n) for n in range(1, 7)] == [2, 6, 18, 50, 50, None]


def test_fractional_delays_round_up_to_whole_seconds():
    policy = RetryPolicy(max_attempts=3, initial_interval=0.2, backoff_coefficient=1)
    assert retry_delay(policy, 1) == 1
    assert retry_delay(RetryPolicy(max_attempts=2, initial_interval=0), 1) == 0
