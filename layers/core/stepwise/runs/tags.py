"""A run's tag index: one small item per tag, so ``GET /runs?tag=k=v`` is one Query."""

from typing import Any

from stepwise.infra import dynamo, keys


def unchanged(old: dict[str, str], names: dict[str, str], values: dict[str, Any]) -> str:
    """A condition that the run's tags are still ``old`` (as read just before)."""
    names["#tags"] = "tags"
    values[":old_tags"] = old
    if old:
        return "#tags = :old_tags"
    return "(attribute_not_exists(#tags) OR #tags = :old_tags)"


def index_writes(
    table: str,
    org_id: str,
    run_id: str,
    old: dict[str, str],
    new: dict[str, str],
    expires_at: int,
) -> list[dict[str, Any]]:
    """Transaction items that move a run's tag index from ``old`` tags to ``new``: one item per
    tag in slots by key order, so at most 50 writes (the tag limit) for any change.

    A tag item takes the run's expiry as it is now. A run's expiry only ever comes closer, so a
    tag item never goes before its run; one left behind a run that expired first is skipped by
    the lists."""
    before, after = sorted(old.items()), sorted(new.items())
    writes: list[dict[str, Any]] = []
    for slot in range(max(len(before), len(after))):
        key = keys.run_tag(org_id, run_id, slot)
        if slot >= len(after):
            writes.append({"Delete": {"TableName": table, "Key": dynamo.to_item(key)}})
        elif slot >= len(before) or before[slot] != after[slot]:
            name, value = after[slot]
            item = {
                **key,
                **keys.runs_by_tag(org_id, name, value, run_id),
                "org_id": org_id,
                "run_id": run_id,
                "expires_at": expires_at,
            }
            writes.append({"Put": {"TableName": table, "Item": dynamo.to_item(item)}})
    return writes
