"""The operator's quotas on starting runs (``core.settings.Quotas``): how many an org may have
open, and how large a run's input may be."""

from typing import Any

from stepwise.core import settings
from stepwise.core.errors import QuotaExceeded
from stepwise.core.statuses import RunStatus
from stepwise.infra import keys
from stepwise.infra.payloads import dumps
from stepwise.store import Store

OPEN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)


def open_runs(store: Store, org_id: str) -> int:
    """The org's runs queued or running, from its sharded totals (one BatchGetItem)."""
    totals = store.runs.run_counts(org_id)
    return sum(totals.get(keys.status_counter(str(s)), 0) for s in OPEN_STATUSES)


def check_open_runs(store: Store, org_id: str, adding: int = 1) -> None:
    """Refuses ``adding`` more runs when the org would go over ``open_runs_per_org``.

    A read, not a transaction: requests racing each other may each see room for themselves,
    so an org can pass the quota by about as many runs as it starts at the same instant."""
    limit = settings.quotas().open_runs_per_org
    current = open_runs(store, org_id)
    if current + adding > limit:
        detail = f"the org has {current} runs queued or running; {adding} more would pass it"
        raise QuotaExceeded("open_runs_per_org", limit, detail, status=429)


def input_size(value: Any) -> int:
    return len(dumps(value).encode())


def check_run_input(value: Any, status: int = 413) -> None:
    """Refuses a run input larger than ``run_input_bytes`` (its compact JSON)."""
    limit = settings.quotas().run_input_bytes
    size = input_size(value)
    if size > limit:
        detail = f"the run input is {size} bytes of JSON"
        raise QuotaExceeded("run_input_bytes", limit, detail, status=status)
