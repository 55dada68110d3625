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
from stepwise.access.store import ApiKeyStore
from stepwise.core.clock import now_iso
from stepwise.core.errors import NotFound
from stepwise.core.ids import new_id


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
        self.key_store = ApiKeyStore(table)

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
        fields = {
            "org_id": org_id,
            "id": key_id,
            "name": name,
            "scopes": [str(s) for s in scopes],
            "created_at": now_iso(),
            "created_by": created_by,
        }
        item = self.key_store.put(hash_api_key(key), org_id, key_id, fields)
        # The org joins the list of orgs the janitor sweeps (a no-op after its first key).
        self.key_store.add_org(org_id)
        return item

    def find(self, key: str) -> dict[str, Any] | None:
        """The key's record, or None; revoked keys are returned too (with ``revoked_at``)."""
        item = self.key_store.by_hash(hash_api_key(key))
        if item is not None and "scopes" not in item:
            item["scopes"] = [str(Scope.ADMIN)]
        return item

    def list(
        self, org_id: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        return self.key_store.page(org_id, limit, after)

    def revoke(self, org_id: str, key_id: str) -> dict[str, Any]:
        """Marks the key revoked (idempotent); its record."""
        item = self.key_store.by_id(org_id, key_id)
        if item is None:
            raise NotFound("API key", key_id)
        if "revoked_at" in item:
            return item
        return self.key_store.revoke(item, now_iso())


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
