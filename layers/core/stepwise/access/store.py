"""API keys in the table (found by the key's hash, listed by id) and the list of orgs."""

from typing import Any

from stepwise.infra import dynamo, keys


class ApiKeyStore:
    def __init__(self, table: str):
        self.table = table

    def put(
        self, key_hash: str, org_id: str, key_id: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """Writes a new key's record; the item as written."""
        item = {**keys.api_key(key_hash), **keys.api_keys_index(org_id, key_id), **fields}
        dynamo.put_new(self.table, item)
        return item

    def add_org(self, org_id: str) -> None:
        """Adds the org to the list of every org (a no-op once it is there)."""
        dynamo.put_if_absent(self.table, {**keys.org_entry(org_id), "org_id": org_id})

    def by_hash(self, key_hash: str) -> dict[str, Any] | None:
        return dynamo.get_item(self.table, keys.api_key(key_hash))

    def by_id(self, org_id: str, key_id: str) -> dict[str, Any] | None:
        found = dynamo.query_index_key(self.table, keys.api_keys_index_pk(org_id), key_id)
        return found[0] if found else None

    def page(
        self, org_id: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the org's keys, by id; the last id if more follow."""
        return dynamo.query_index(self.table, keys.api_keys_index_pk(org_id), limit, after)

    def revoke(self, item: dict[str, Any], at: str) -> dict[str, Any]:
        """Sets ``revoked_at`` on a key's record (once: a later revoke keeps the first time);
        the item as updated."""
        updated = dynamo.update_item(
            self.table,
            keys.key_of(item),
            "SET revoked_at = if_not_exists(revoked_at, :now)",
            {":now": at},
            returns="ALL_NEW",
        )
        assert updated is not None
        return updated
