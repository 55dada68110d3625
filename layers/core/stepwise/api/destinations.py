"""Webhook destinations: URL, headers, signaling, SLA, credential; a signing secret shown once."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from stepwise.access.api_keys import Scope
from stepwise.actions.models import (
    Destination,
    DestinationCreate,
    DestinationUpdate,
    DestinationWithSecret,
    SecretRotation,
    destination_view,
)
from stepwise.api import idempotency
from stepwise.api.dependencies import CallerDep, CatalogDep, Org, requires
from stepwise.api.envelopes import Envelope, Page
from stepwise.api.errors import ORG_ERRORS
from stepwise.api.idempotency import IdempotencyKey
from stepwise.api.pagination import CodecDep, CursorParam, cursor_page

router = APIRouter(
    prefix="/v1/orgs/{org_id}/destinations", tags=["destinations"], responses=ORG_ERRORS
)
# The dispatcher presents a destination's credential to its url: whoever can choose where a
# credential goes can read it, so that needs admin; the rest of a destination needs write.
GRANTS_CREDENTIAL = requires(note="admin when the body gives credential_id")
REDIRECTS_CREDENTIAL = requires(
    note="admin when the body gives credential_id, or changes the url of a destination that "
    "has a credential"
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[DestinationWithSecret],
    openapi_extra=GRANTS_CREDENTIAL,
)
def create_destination(
    who: CallerDep,
    body: DestinationCreate,
    catalog: CatalogDep,
    idempotency_key: IdempotencyKey = None,
):
    """The answer carries ``signing_secret`` this once; store it to verify deliveries."""
    idempotency.refuse_key(idempotency_key)
    item, secret = catalog.create_destination(who.org_id, body, who.holds(Scope.ADMIN))
    view = destination_view(item)
    return Envelope(data=DestinationWithSecret(**view.model_dump(), signing_secret=secret))


@router.get("/{destination_id}", response_model=Envelope[Destination])
def get_destination(org_id: Org, destination_id: str, catalog: CatalogDep):
    return Envelope(data=destination_view(catalog.get_destination(org_id, destination_id)))


@router.get("", response_model=Page[Destination])
def list_destinations(
    org_id: Org,
    catalog: CatalogDep,
    codec: CodecDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorParam = None,
    include_deleted: bool = False,
):
    def fetch(after: str | None):
        items, last = catalog.list_destinations(org_id, limit, after, include_deleted)
        return [destination_view(i) for i in items], last

    return cursor_page(codec, f"destinations:{org_id}:{include_deleted}", cursor, fetch)


@router.patch(
    "/{destination_id}", response_model=Envelope[Destination], openapi_extra=REDIRECTS_CREDENTIAL
)
def update_destination(
    who: CallerDep, destination_id: str, body: DestinationUpdate, catalog: CatalogDep
):
    item = catalog.update_destination(who.org_id, destination_id, body, who.holds(Scope.ADMIN))
    return Envelope(data=destination_view(item))


@router.delete("/{destination_id}", response_model=Envelope[Destination])
def delete_destination(org_id: Org, destination_id: str, catalog: CatalogDep):
    """Soft delete: the destination stays readable with ``deleted_at`` and receives nothing."""
    return Envelope(data=destination_view(catalog.delete_destination(org_id, destination_id)))


# The answer hands out the new signing secret: with it, anyone can forge deliveries.
@router.post(
    "/{destination_id}/rotate-secret",
    response_model=Envelope[dict],
    openapi_extra=requires(Scope.ADMIN),
)
def rotate_secret(
    org_id: Org,
    destination_id: str,
    catalog: CatalogDep,
    body: SecretRotation | None = None,
):
    """A new signing secret (shown once); the old one also signs during the grace period."""
    grace = (body or SecretRotation()).grace_period_seconds
    secret = catalog.rotate_signing_secret(org_id, destination_id, grace)
    return Envelope(data={"signing_secret": secret, "previous_valid_for_seconds": grace})
