"""Run totals kept as counters, moved in the same transaction as the change they count.

The org's totals (every run, per status, per workflow) and a batch's counts answer ``total`` and
``GET /batches/{id}`` without counting items per request, and never drift: a status change and
its counter moves commit together or not at all.
"""

from typing import Any

from stepwise.core.ids import batch_of
from stepwise.infra import dynamo, keys


def org_totals(table: str, org_id: str, changes: dict[str, int]) -> dict[str, Any]:
    """A transaction item that moves the org's run totals."""
    return dynamo.add_counts(table, keys.run_counts(org_id), changes)


def batch_counts(table: str, org_id: str, run_id: str, changes: dict[str, int]) -> list[Any]:
    """The transaction item that moves the counts of the batch a run belongs to (none for a run
    of no batch). ADD needs no condition, so a status change never fails on it."""
    batch_id = batch_of(run_id)
    return [dynamo.add_counts(table, keys.batch(org_id, batch_id), changes)] if batch_id else []


def status_move(old: str, new: str) -> dict[str, int]:
    """The counter changes of a run moving from status ``old`` to ``new``."""
    return {keys.status_counter(old): -1, keys.status_counter(new): 1}


def new_run(status: str, workflow_id: str) -> dict[str, int]:
    """The org's counter changes of a run that comes into being (-1 each when it is deleted)."""
    return {keys.ALL_RUNS: 1, keys.status_counter(status): 1, keys.workflow_counter(workflow_id): 1}


def read_totals(table: str, org_id: str) -> dict[str, int]:
    """The org's run totals (``all``, ``status:<s>``, ``workflow:<id>``)."""
    item = dynamo.get_item(table, keys.run_counts(org_id)) or {}
    return {k: int(v) for k, v in item.items() if k not in ("PK", "SK")}
