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
