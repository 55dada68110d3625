"""How run totals pick their counter shard (pure): the same shard for every write of a run,
spread evenly over the shards, and few enough shards that one BatchGetItem reads them all."""

from collections import Counter

from stepwise.core.ids import batch_run_id, new_id
from stepwise.runs import counters

BATCH_GET_LIMIT = 100  # keys per BatchGetItem


def test_a_run_always_moves_the_same_shard():
    run_id = new_id("run")
    assert len({counters.shard_of(run_id) for _ in range(10)}) == 1
    assert 0 <= counters.shard_of(run_id) < counters.SHARDS


def test_the_runs_of_one_batch_spread_over_every_shard():
    # Batch run ids differ only in their last digits; they must not bunch on a few shards.
    per_shard = Counter(counters.shard_of(batch_run_id("bat_01jexample", i)) for i in range(1000))
    assert len(per_shard) == counters.SHARDS
    mean = 1000 / counters.SHARDS
    assert max(per_shard.values()) < 2.5 * mean


def test_time_ordered_run_ids_spread_over_every_shard():
    per_shard = Counter(counters.shard_of(new_id("run")) for _ in range(3200))
    assert len(per_shard) == counters.SHARDS
    assert max(per_shard.values()) < 2.5 * 3200 / counters.SHARDS


def test_every_shard_and_the_single_item_of_earlier_releases_fit_one_batch_get():
    assert counters.SHARDS + 1 <= BATCH_GET_LIMIT
