"""Run totals kept as sharded counters, moved in the same transaction as the change they count.

The org's totals (every run, per status, per workflow) and a batch's counts answer ``total`` and
``GET /batches/{id}`` without counting items per request, and never drift: a status change and
its counter moves commit together or not at all.

DynamoDB cancels a transaction that touches an item another in-flight transaction holds
(``TransactionConflict``), and one item takes about 1,000 write units a second. One counter item
per org would make every run of a busy org contend on it, so the counts live in ``SHARDS`` items
(per org, and per batch), each under a partition key of its own. A run always moves the shard its
id hashes to, so each write touches exactly one shard; a read gets every shard in one
BatchGetItem and sums them. A shard alone may go negative (a run created on one release and
settled on the next), only the sum means anything.

Why 64: 1,000 node starts a second per account is about 200 five-node runs a second, each
moving the counters three times (created, running, settled): 600 moves a second, 1,000 if the
runs are smaller, possibly all in one org or, with a synchronised settle (``wait_until``), one
batch. A transaction holds its items for tens of milliseconds; a simulation of that (Poisson
arrivals, each shard held 20 ms per transaction, the retries of ``infra.dynamo._send``) gave, at
1,000 moves a second, 60 % of transactions exhausting their retries on 8 shards, 2.8 % on 32 and
0.05 % (1.6 attempts each) on 64; at 600 a second on 64 shards, 0.02 % (1.35 attempts). Each shard
then takes about 16 transactions (32 write units) a second, far from the item's limit, and 64
shards plus the legacy item are 65 keys: one BatchGetItem (100 keys at most) per read. Raise
``SHARDS`` for more (reads cover ``range(SHARDS)``, so it may grow, never shrink).

Stacks from before sharding kept the org's totals on one item (``keys.run_counts``) and a
batch's counts on the batch item. Nothing writes those any more, but every read adds them in, so
an upgrade loses no count.
"""

import zlib
from typing import Any

from stepwise.core.ids import batch_of
from stepwise.infra import dynamo, keys

SHARDS = 64
BATCH_SHARD_GRACE_SECONDS = 86_400  # the batch item outlives its runs by a day too
_KEY_ATTRIBUTES = frozenset({"PK", "SK", "expires_at"})


def shard_of(run_id: str) -> int:
    """The counter shard a run moves: the same for every write of the run, in every process."""
    return zlib.crc32(run_id.encode()) % SHARDS


def org_totals(table: str, org_id: str, run_id: str, changes: dict[str, int]) -> dict[str, Any]:
    """A transaction item that moves the org's run totals, on the shard of ``run_id``."""
    return dynamo.add_counts(table, keys.run_counts_shard(org_id, shard_of(run_id)), changes)


def batch_counts(
    table: str,
    org_id: str,
    run_id: str,
    changes: dict[str, int],
    expires_at: int | None = None,
) -> list[Any]:
    """The transaction item that moves the counts of the batch a run belongs to (none for a run
    of no batch), on the shard of ``run_id``. ADD needs no condition, so a status change never
    fails on it. ``expires_at`` (a run's creation gives it) lets the shard expire a day after
    the run, as the batch item does."""
    batch_id = batch_of(run_id)
    if not batch_id:
        return []
    key = keys.batch_counts_shard(org_id, batch_id, shard_of(run_id))
    if expires_at is None:
        return [dynamo.add_counts(table, key, changes)]
    names = {f"#c{i}": name for i, name in enumerate(changes)}
    adds = ", ".join(f"#c{i} :v{i}" for i in range(len(names)))
    return [
        dynamo.update_request(
            table,
            key,
            f"SET #expires = if_not_exists(#expires, :expires) ADD {adds}",
            {
                **{f":v{i}": delta for i, delta in enumerate(changes.values())},
                ":expires": expires_at + BATCH_SHARD_GRACE_SECONDS,
            },
            names={**names, "#expires": "expires_at"},
        )
    ]


def status_move(old: str, new: str) -> dict[str, int]:
    """The counter changes of a run moving from status ``old`` to ``new``."""
    return {keys.status_counter(old): -1, keys.status_counter(new): 1}


def new_run(status: str, workflow_id: str) -> dict[str, int]:
    """The org's counter changes of a run that comes into being (-1 each when it is deleted)."""
    return {keys.ALL_RUNS: 1, keys.status_counter(status): 1, keys.workflow_counter(workflow_id): 1}


def read_totals(table: str, org_id: str) -> dict[str, int]:
    """The org's run totals (``all``, ``status:<s>``, ``workflow:<id>``): every shard and the
    legacy single item, summed, in one consistent BatchGetItem."""
    wanted = [keys.run_counts(org_id), *(keys.run_counts_shard(org_id, s) for s in range(SHARDS))]
    return _sum(dynamo.batch_get(table, wanted, consistent=True))


def read_batch(table: str, org_id: str, batch_id: str) -> dict[str, Any] | None:
    """The batch item with its counts (``runs``, ``status:<s>``) summed over its shards and the
    counts a release before sharding kept on the item itself; None if there is no batch."""
    batch_key = keys.batch(org_id, batch_id)
    shard_keys = [keys.batch_counts_shard(org_id, batch_id, s) for s in range(SHARDS)]
    items = dynamo.batch_get(table, [batch_key, *shard_keys], consistent=True)
    batch = next((i for i in items if i["PK"] == batch_key["PK"]), None)
    if batch is None:
        return None
    counts = _sum(items)  # the batch item's own (legacy) counts are among them
    plain = {k: v for k, v in batch.items() if not _is_count(k)}
    return {**plain, **counts}


def _is_count(name: str) -> bool:
    return name == keys.BATCH_RUNS or name.startswith(keys.status_counter(""))


def _sum(items: list[dict[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for item in items:
        for name, value in item.items():
            if name in _KEY_ATTRIBUTES or not _counter(name, item):
                continue
            totals[name] = totals.get(name, 0) + int(value)
    return totals


def _counter(name: str, item: dict[str, Any]) -> bool:
    """Whether an attribute of a read item is a count: a shard (and the legacy totals item)
    holds only counts; a batch item holds its counts among its own fields."""
    return item.get("SK") != keys.BATCH_SK or _is_count(name)
