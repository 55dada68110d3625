"""API keys: shown once, stored as a hash, one org each, with scopes.

Scopes match the harm a request can do: ``read`` (GET), ``write`` (read, and the requests
that change something without reaching a secret), ``approve`` (read, and reviewing approval
nodes: ``write`` does not include it, so the keys that start runs are not the ones that approve
them), ``admin`` (every scope, and what reaches a secret: credentials, giving or re-pointing a
destination's credential, signing secrets, keys). A key may also be limited to named workflows
(``workflows``). A key item made before scopes existed has every scope, as it had then.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from stepwise.access.auth import hash_api_key, new_api_key
from stepwise.access.store import ApiKeyStore
from stepwise.core.clock import now_iso
from stepwise.core.errors import NotFound
from stepwise.core.ids import new_id


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    APPROVE = "approve"
    ADMIN = "admin"


# What each scope a key holds lets it do (admin: everything; approve and write: apart).
_GRANTS = {
    Scope.READ: frozenset({Scope.READ}),
    Scope.WRITE: frozenset({Scope.READ, Scope.WRITE}),
    Scope.APPROVE: frozenset({Scope.READ, Scope.APPROVE}),
    Scope.ADMIN: frozenset(Scope),
}


def allows(scopes: list[str], needed: Scope) -> bool:
    return any(needed in _GRANTS[Scope(s)] for s in scopes if s in _GRANTS)


class ApiKeys:
    def __init__(self, table: str):
        self.table = table
        self.key_store = ApiKeyStore(table)

    def create(
        self,
        org_id: str,
        name: str,
        scopes: list[Scope],
        created_by: str,
        workflows: list[str] | None = None,
    ) -> tuple[dict[str, Any], str]:
        """A new key: its record and the key itself (returned this once)."""
        key = new_api_key()
        return self.store(key, org_id, name, scopes, created_by, workflows), key

    def store(
        self,
        key: str,
        org_id: str,
        name: str,
        scopes: list[Scope],
        created_by: str,
        workflows: list[str] | None = None,
    ) -> dict[str, Any]:
        """Stores the hash of a key with its org, name, scopes and the workflows it is limited
        to (None: every workflow); the record."""
        key_id = new_id("key")
        fields = {
            "org_id": org_id,
            "id": key_id,
            "name": name,
            "scopes": [str(s) for s in scopes],
            "created_at": now_iso(),
            "created_by": created_by,
            **({"workflows": sorted(set(workflows))} if workflows is not None else {}),
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
        json_schema_extra={
            "examples": [
                {"name": "dashboard", "scopes": ["read"]},
                {"name": "deployer", "scopes": ["write"], "workflows": ["wf_deploy"]},
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1, max_length=4)
    workflows: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Limits the key to these workflows: it starts runs (and schedules) only "
        "of them, and sees and acts on only their runs. Omitted: every workflow.",
    )


class ApiKey(BaseModel):
    id: str
    org_id: str
    name: str
    scopes: list[Scope]
    workflows: list[str] | None = None
    created_at: datetime
    created_by: str | None = None
    revoked_at: datetime | None = None


class ApiKeyWithSecret(ApiKey):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")
