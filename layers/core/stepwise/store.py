"""The data access the run services share, as one value: each domain's store, built once per
process (``components.store()``) over the same table and payload bucket.

``workflows`` keeps workflow versions; ``runs`` creates and reads runs and nodes and keeps
their totals and tag index; ``run_state`` and ``nodes`` are every state transition of a run and
of a node or item, each one conditional write; ``attempts`` is what a waiting attempt records;
``repairs`` the writes of a redrive or a rerun.
"""

from dataclasses import dataclass
from datetime import timedelta

from stepwise.actions.attempt_state import AttemptState
from stepwise.engine.node_state import NodeTransitions
from stepwise.engine.run_state import RunTransitions
from stepwise.infra.payloads import PayloadStore
from stepwise.runs.repair_store import RepairStore
from stepwise.runs.store import RunStore
from stepwise.workflows.store import WorkflowStore


@dataclass(frozen=True)
class Store:
    table: str
    payloads: PayloadStore
    retention: timedelta
    workflows: WorkflowStore
    runs: RunStore
    run_state: RunTransitions
    nodes: NodeTransitions
    attempts: AttemptState
    repairs: RepairStore

    @classmethod
    def build(cls, table: str, payloads: PayloadStore, retention_days: int) -> "Store":
        retention = timedelta(days=retention_days)
        return cls(
            table=table,
            payloads=payloads,
            retention=retention,
            workflows=WorkflowStore(table, payloads),
            runs=RunStore(table, payloads, retention),
            run_state=RunTransitions(table, payloads, retention),
            nodes=NodeTransitions(table, payloads),
            attempts=AttemptState(table, payloads),
            repairs=RepairStore(table, payloads),
        )
