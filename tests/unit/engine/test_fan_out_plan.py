"""How a for_each node's items are split into chunks and lanes."""

import pytest

from stepwise.engine.fan_out_plan import HISTORY_BUDGET, chunk_size, item_events, plan


@pytest.mark.parametrize("items", [1, 4, 5, 6, 12, 356, 10_000])
@pytest.mark.parametrize("max_attempts", [1, 3, 100])
@pytest.mark.parametrize("max_concurrency", [1, 3, 10, 40])
def test_every_item_is_in_exactly_one_chunk_and_lanes_never_pass_max_concurrency(
    items, max_attempts, max_concurrency
):
    chunks = plan(items, max_attempts, max_concurrency)
    covered = [i for c in range(chunks.chunks) for i in chunks.indices(c)]
    assert covered == list(range(items))
    assert all(len(chunks.indices(c)) <= chunks.chunk_size for c in range(chunks.chunks))
    lanes = list(chunks.first_chunks())
    assert sum(chunks.concurrency(c) for c in lanes) <= max_concurrency
    # Each lane reaches every chunk of its lane, one after the other.
    reached = set()
    for first in lanes:
        chunk = first
        while chunk is not None:
            reached.add(chunk)
            chunk = chunks.next_in_lane(chunk)
    assert reached == set(range(chunks.chunks))


def test_lanes_fill_max_concurrency_when_chunks_are_small():
    """100 attempts make chunks of 5: 40 at once needs 8 lanes of 5."""
    chunks = plan(10_000, 100, 40)
    assert (chunks.chunk_size, chunks.chunks, chunks.lanes) == (5, 2000, 8)
    assert [chunks.concurrency(c) for c in chunks.first_chunks()] == [5] * 8


def test_one_lane_when_a_chunk_holds_more_items_than_max_concurrency():
    chunks = plan(10_000, 1, 10)
    assert (chunks.chunk_size, chunks.chunks, chunks.lanes) == (355, 29, 1)
    assert chunks.concurrency(0) == 10


def test_the_chunk_size_shrinks_with_the_retry_policy_and_stays_in_the_budget():
    sizes = [chunk_size(a) for a in range(1, 101)]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] >= 1
    assert all(size * item_events(a) < HISTORY_BUDGET for a, size in enumerate(sizes, 1))


def test_running_chunks_are_each_lane_s_first_not_done():
    chunks = plan(12, 100, 10)  # chunks 0, 2 in lane 0; 1 in lane 1
    assert chunks.running(frozenset()) == [0, 1]
    assert chunks.running(frozenset({0})) == [2, 1]
    assert chunks.running(frozenset({0, 1})) == [2]
    assert chunks.running(frozenset({0, 1, 2})) == []


# -- Express chunks ----------------------------------------------------------------------------

from stepwise.engine import fan_out_plan  # noqa: E402
from stepwise.engine.fan_out_plan import (  # noqa: E402
    EXPRESS_BUDGET_SECONDS,
    choose,
    express_chunk_size,
    express_plan,
    item_seconds,
)
from stepwise.workflows.models import RetryPolicy  # noqa: E402


def test_an_item_s_worst_case_is_every_attempt_and_every_backoff():
    assert item_seconds(RetryPolicy(), 5) == 5
    # 3 attempts of 5 s, backoffs 1 and 2 (initial 1, coefficient 2)
    assert item_seconds(RetryPolicy(max_attempts=3), 5) == 3 * 5 + 1 + 2
    # retry.timeout bounds an attempt instead; backoffs are capped at max_interval
    policy = RetryPolicy(max_attempts=4, timeout=20, initial_interval=10, max_interval=15)
    assert item_seconds(policy, 5) == 4 * 20 + 10 + 15 + 15


@pytest.mark.parametrize(
    ("seconds", "concurrency", "size"),
    [(5, 10, 480), (60, 2, 8), (80, 10, 30), (120, 1, 2), (240, 3, 3), (241, 40, 0)],
)
def test_an_express_chunk_holds_as_many_rounds_of_the_lane_as_fit_in_240_seconds(
    seconds, concurrency, size
):
    assert express_chunk_size(seconds, concurrency) == size
    if size:  # ceil(size / concurrency) rounds of the slowest item end within the budget
        assert -(-size // concurrency) * seconds <= EXPRESS_BUDGET_SECONDS
        assert (-(-size // concurrency) + 1) * seconds > EXPRESS_BUDGET_SECONDS


@pytest.mark.parametrize("items", [1, 7, 30, 481, 10_000])
@pytest.mark.parametrize("max_concurrency", [1, 10, 40])
def test_express_chunks_cover_every_item_once_in_one_lane_within_the_budget(items, max_concurrency):
    chunks = express_plan(items, 5, max_concurrency)
    assert chunks is not None and chunks.express
    covered = [i for c in range(chunks.chunks) for i in chunks.indices(c)]
    assert covered == list(range(items))
    assert chunks.lanes == 1 and chunks.concurrency(0) == max_concurrency
    worst = max(-(-len(chunks.indices(c)) // max_concurrency) * 5 for c in range(chunks.chunks))
    assert worst <= EXPRESS_BUDGET_SECONDS


def test_the_choice_follows_the_retry_policy():
    fast = choose(30, RetryPolicy(), 10, fan_out_plan.TRANSFORM_ATTEMPT_SECONDS, False)
    assert (fast.machine, fast.chunks, fast.chunk_size) == ("express", 1, 30)
    long_backoff = RetryPolicy(max_attempts=2, initial_interval=300)
    slow = choose(30, long_backoff, 10, fan_out_plan.TRANSFORM_ATTEMPT_SECONDS, False)
    assert slow.machine == "standard" and slow == plan(30, 2, 10)
    # The 30 items of a default transform node at max_concurrency 1: 30 rounds of 5 s fit.
    assert choose(30, RetryPolicy(), 1, 5, False).chunk_size == 30
    # Many attempts: 100 x 5 s is past the budget for one item, so Standard.
    many = RetryPolicy(max_attempts=100, initial_interval=0)
    assert choose(12, many, 10, 5, False).machine == "standard"
