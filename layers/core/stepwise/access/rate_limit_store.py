"""Per-org API request counts in the table: one item per org per second, expired by TTL."""

from stepwise.infra import dynamo, keys

# TTL deletion runs within days, not at the second: the items only need to outlive their second.
WINDOW_TTL_SECONDS = 120


class RateWindows:
    def __init__(self, table: str):
        self.table = table

    def take(self, org_id: str, second: int, limit: int) -> bool:
        """Counts one request of the org in this second, unless ``limit`` are counted already:
        one conditional UpdateItem; whether the request fits."""
        counted = dynamo.update_item(
            self.table,
            keys.rate_window(org_id, second),
            "ADD #n :one SET expires_at = if_not_exists(expires_at, :expires)",
            {":one": 1, ":limit": limit, ":expires": second + WINDOW_TTL_SECONDS},
            condition="attribute_not_exists(#n) OR #n < :limit",
            names={"#n": "requests"},
        )
        return counted is not None
