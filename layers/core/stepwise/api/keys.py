"""API keys of an org: create (shown once), list, revoke. Admin scope only."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from stepwise import components
from stepwise.access.api_keys import ApiKey, ApiKeyCreate, ApiKeyWithSecret, Scope
from stepwise.api import idempotency
from stepwise.api.dependencies import CallerDep, requires
from stepwise.api.envelopes import Envelope, Page
from stepwise.api.errors import ORG_ERRORS
from stepwise.api.idempotency import IdempotencyKey
from stepwise.api.pagination import CodecDep, CursorParam, cursor_page

router = APIRouter(prefix="/v1/orgs/{org_id}/keys", tags=["api keys"], responses=ORG_ERRORS)
ADMIN = requires(Scope.ADMIN)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[ApiKeyWithSecret],
    openapi_extra=ADMIN,
)
def create_key(who: CallerDep, body: ApiKeyCreate, idempotency_key: IdempotencyKey = None):
    """A new key with the given scopes; the answer is the only time the key is shown."""
    idempotency.refuse_key(idempotency_key)
    item, key = components.api_keys().create(
        who.org_id, body.name, body.scopes, who.actor, body.workflows
    )
    return Envelope(data=ApiKeyWithSecret(**ApiKey.model_validate(item).model_dump(), key=key))


@router.get("", response_model=Page[ApiKey], openapi_extra=ADMIN)
def list_keys(
    who: CallerDep,
    codec: CodecDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorParam = None,
):
    """The org's keys, oldest first; never the keys themselves."""

    def fetch(after: str | None):
        items, last = components.api_keys().list(who.org_id, limit, after)
        return [ApiKey.model_validate(i) for i in items], last

    return cursor_page(codec, f"keys:{who.org_id}", cursor, fetch)


@router.delete("/{key_id}", response_model=Envelope[ApiKey], openapi_extra=ADMIN)
def revoke_key(who: CallerDep, key_id: str):
    """Revokes a key at once (idempotent): it answers 401 from now on."""
    return Envelope(data=ApiKey.model_validate(components.api_keys().revoke(who.org_id, key_id)))
