"""Request-scoped dependencies: the caller's org (from its API key) and shared services."""

from functools import cache
from typing import Annotated

from aws_lambda_powertools.utilities import parameters
from fastapi import Depends, Header, Path

from stepwise import components, settings
from stepwise.auth import hash_api_key, key_from_headers
from stepwise.catalog import Catalog
from stepwise.cursors import CursorCodec
from stepwise.errors import NotFound, Unauthorized
from stepwise.store import Store

ORG_PATH = Path(pattern=r"^[a-z0-9_.-]+$", max_length=64, description="The org's id.")


def get_store() -> Store:
    return components.store()


def cursor_codec() -> CursorCodec:
    return _codec(settings.api_settings().cursor_secret_arn)


@cache
def _codec(secret_arn: str) -> CursorCodec:
    secret = parameters.get_secret(secret_arn, max_age=3600)
    return CursorCodec(str(secret).encode())


def caller_org(
    org_id: Annotated[str, ORG_PATH],
    store: Annotated[Store, Depends(get_store)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str:
    """The org in the path, if the caller's key belongs to it; another org's key sees 404."""
    key = key_from_headers(authorization, x_api_key)
    if key is None:
        raise Unauthorized("an API key is required (Authorization: Bearer <key> or x-api-key)")
    key_org = store.org_for_api_key(hash_api_key(key))
    if key_org is None:
        raise Unauthorized("the API key is not valid")
    if key_org != org_id:
        raise NotFound("org", org_id)
    return org_id


def get_catalog() -> Catalog:
    return components.catalog()


Org = Annotated[str, Depends(caller_org)]
StoreDep = Annotated[Store, Depends(get_store)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def clear_caches() -> None:
    """Forget the cursor secret (tests and the local stack start fresh backends)."""
    _codec.cache_clear()
    parameters.clear_caches()
