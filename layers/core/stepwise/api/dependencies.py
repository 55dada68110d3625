"""Request-scoped dependencies: the caller's org (from its API key) and shared services."""

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Path, Request

from stepwise import components
from stepwise.access.api_keys import Scope, allows
from stepwise.access.auth import key_from_headers
from stepwise.access.cursors import CursorCodec
from stepwise.api import idempotency
from stepwise.core import settings
from stepwise.core.errors import Forbidden, NotFound, Unauthorized
from stepwise.infra import hmac_keys
from stepwise.infra.hmac_keys import hmac_key
from stepwise.store import Store

if TYPE_CHECKING:  # only the catalog's routes load it (webhook signing, SSRF guard, models)
    from stepwise.actions.catalog import Catalog

ORG_PATH = Path(pattern=r"^[a-z0-9_.-]+$", max_length=64, description="The org's id.")


def get_store() -> Store:
    return components.store()


def cursor_codec() -> CursorCodec:
    return _codec(settings.api_settings().cursor_secret_arn)


@cache
def _codec(secret_arn: str) -> CursorCodec:
    return CursorCodec(hmac_key(secret_arn))


@dataclass(frozen=True)
class Caller:
    org_id: str
    key_name: str
    scopes: list[str]

    @property
    def actor(self) -> str:
        """How the caller is named in ``*_by`` fields."""
        return f"key:{self.key_name}"

    def require(self, scope: Scope) -> None:
        if not allows(self.scopes, scope):
            held = ", ".join(self.scopes) or "none"
            raise Forbidden(f"this API key's scopes ({held}) do not include {scope}")


def caller(org_id: Annotated[str, ORG_PATH], request: Request) -> Caller:
    """The caller, if its key belongs to the org in the path (another org's key sees 404) and
    its scopes allow the request: ``read`` for GET, ``write`` for anything else."""
    # Read here rather than declared as Header parameters (undocumented either way): FastAPI
    # builds a validator for each declared parameter of every route, at every cold start.
    key = key_from_headers(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if key is None:
        raise Unauthorized("an API key is required (Authorization: Bearer <key> or x-api-key)")
    item = components.api_keys().find(key)
    if item is None:
        raise Unauthorized("the API key is not valid")
    if "revoked_at" in item:
        raise Unauthorized("the API key was revoked")
    if item["org_id"] != org_id:
        raise NotFound("org", org_id)
    who = Caller(org_id, item["name"], list(item["scopes"]))
    needed = Scope.READ if request.method in ("GET", "HEAD") else Scope.WRITE
    who.require(needed)
    return who


def caller_org(who: Annotated[Caller, Depends(caller)]) -> str:
    return who.org_id


def get_catalog() -> "Catalog":
    return components.catalog()


Org = Annotated[str, Depends(caller_org)]
CallerDep = Annotated[Caller, Depends(caller)]
StoreDep = Annotated[Store, Depends(get_store)]
CatalogDep = Annotated["Catalog", Depends(get_catalog)]


def clear_caches() -> None:
    """Forget the cursor secret (tests and the local stack start fresh backends)."""
    _codec.cache_clear()
    hmac_keys.clear()
    idempotency.clear()
