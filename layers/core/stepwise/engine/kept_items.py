"""A for_each node a redrive runs again keeps the items that succeeded, for any kind of item:
only the others run again (their attempts numbered on), when the node's items are the same."""

from typing import Any

from stepwise.core.statuses import NodeStatus
from stepwise.engine.address import NodeAddress
from stepwise.engine.fan_out_plan import FanOutPlan
from stepwise.store import Store


def keep_settled_items(store: Store, address: NodeAddress, values: list[Any]) -> bool:
    """True when the node's item records from before its redrive are kept: ``for_each`` gave
    the same items again, so succeeded items keep their results and the rest are ready to run.
    False (nothing changed) when there were none or the items differ: they start afresh."""
    org_id, run_id, ref = address.org_id, address.run_id, address.ref
    node = store.runs.get_node(org_id, run_id, ref)
    if node.item_count != len(values) or not node.chunk_size or not node.chunk_lanes:
        return False
    items = store.nodes.list_items(org_id, run_id, ref)
    if len(items) != len(values) or [store.payloads.read(i.item) for i in items] != values:
        return False
    plan = FanOutPlan(node.item_count, node.chunk_size, node.chunk_lanes, node.max_concurrency or 1)
    succeeded = {i.index for i in items if i.status == NodeStatus.SUCCEEDED}
    done = {c for c in range(plan.chunks) if set(plan.indices(c)) <= succeeded}
    store.repairs.keep_items(org_id, run_id, ref, items, done)
    return True
