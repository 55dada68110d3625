"""API keys: shown once, stored as a hash, one org each, with scopes.

Scopes nest: ``read`` (GET), ``write`` (read, and every request that changes something),
``admin`` (write, and managing keys). A key item made before scopes existed has every scope,
as it had then.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stepwise.access.auth import hash_api_key, new_api_key
from stepwise.core.clock import now_iso
from stepwise.core.errors import NotFound
from stepwise.core.ids import new_id
from stepwise.infra import dynamo, keys


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


_RANK = {Scope.READ: 1, Scope.WRITE: 2, Scope.ADMIN: 3}


def allows(scopes: list[str], needed: Scope) -> bool:
    return any(_RANK.get(Scope(s), 0) >= _RANK[needed] for s in scopes if s in _RANK)


class ApiKeys:
    def __init__(self, table: str):
        self.table = table

    def create(
        self, org_id: str, name: str, scopes: list[Scope], created_by: str
    ) -> tuple[dict[str, Any], str]:
        """A new key: its record and the key itself (returned this once)."""
        key = new_api_key()
        return self.store(key, org_id, name, scopes, created_by), key

    def store(
        self, key: str, org_id: str, name: str, scopes: list[Scope], created_by: str
    ) -> dict[str, Any]:
        """Stores the hash of a key with its org, name and scopes; the record."""
        key_id = new_id("key")
        item = {
            **keys.api_key(hash_api_key(key)),
            **keys.api_keys_index(org_id, key_id),
            "org_id": org_id,
            "id": key_id,
            "name": name,
            "scopes": [str(s) for s in scopes],
            "created_at": now_iso(),
            "created_by": created_by,
        }
        dynamo.put_new(self.table, item)
        # The org joins the list of orgs the janitor sweeps (a no-op after its first key).
        dynamo.put_if_absent(self.table, {**keys.org_entry(org_id), "org_id": org_id})
        return item

    def find(self, key: str) -> dict[str, Any] | None:
        """The key's record, or None; revoked keys are returned too (with ``revoked_at``)."""
        item = dynamo.get_item(self.table, keys.api_key(hash_api_key(key)))
        if item is not None and "scopes" not in item:
            item["scopes"] = [str(Scope.ADMIN)]
        return item

    def list(
        self, org_id: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        return dynamo.query_index(self.table, keys.api_keys_index_pk(org_id), limit, after)

    def revoke(self, org_id: str, key_id: str) -> dict[str, Any]:
        """Marks the key revoked (idempotent); its record."""
        found = dynamo.query_index_key(self.table, keys.api_keys_index_pk(org_id), key_id)
        if not found:
            raise NotFound("API key", key_id)
        item = found[0]
        if "revoked_at" in item:
            return item
        updated = dynamo.update_item(
            self.table,
            {"PK": item["PK"], "SK": item["SK"]},
            "SET revoked_at = if_not_exists(revoked_at, :now)",
            {":now": now_iso()},
            returns="ALL_NEW",
        )
        assert updated is not None
        return updated


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "dashboard", "scopes": ["read"]}]},
    )

    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1, max_length=3)


class ApiKey(BaseModel):
    id: str
    org_id: str
    name: str
    scopes: list[Scope]
    created_at: datetime
    created_by: str | None = None
    revoked_at: datetime | None = None


class ApiKeyWithSecret(ApiKey):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")
