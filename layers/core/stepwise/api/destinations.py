"""Webhook destinations: URL, headers, signaling, SLA, credential; a signing secret shown once."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from stepwise.actions.models import (
    Destination,
    DestinationCreate,
    DestinationUpdate,
    DestinationWithSecret,
    SecretRotation,
    destination_view,
)
from stepwise.api import idempotency
from stepwise.api.dependencies import CatalogDep, Org
from stepwise.api.envelopes import Envelope, Page
from stepwise.api.errors import ORG_ERRORS
from stepwise.api.idempotency import IdempotencyKey
from stepwise.api.pagination import CodecDep, CursorParam, cursor_page

router = APIRouter(
    prefix="/v1/orgs/{org_id}/destinations", tags=["destinations"], responses=ORG_ERRORS
)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=Envelope[DestinationWithSecret]
)
def create_destination(
    org_id: Org,
    body: DestinationCreate,
    catalog: CatalogDep,
    idempotency_key: IdempotencyKey = None,
):
    """The answer carries ``signing_secret`` this once; store it to verify deliveries."""
    idempotency.refuse_key(idempotency_key)
    item, secret = catalog.create_destination(org_id, body)
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


@router.patch("/{destination_id}", response_model=Envelope[Destination])
def update_destination(
    org_id: Org, destination_id: str, body: DestinationUpdate, catalog: CatalogDep
):
    item = catalog.update_destination(org_id, destination_id, body)
    return Envelope(data=destination_view(item))


@router.delete("/{destination_id}", response_model=Envelope[Destination])
def delete_destination(org_id: Org, destination_id: str, catalog: CatalogDep):
    """Soft delete: the destination stays readable with ``deleted_at`` and receives nothing."""
    return Envelope(data=destination_view(catalog.delete_destination(org_id, destination_id)))


@router.post("/{destination_id}/rotate-secret", response_model=Envelope[dict])
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
