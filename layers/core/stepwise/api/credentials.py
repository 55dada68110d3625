"""Credentials a destination presents (bearer, basic, custom header); values never come back."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from stepwise.access.api_keys import Scope
from stepwise.actions.models import Credential, CredentialCreate
from stepwise.api import idempotency
from stepwise.api.dependencies import CatalogDep, Org, requires
from stepwise.api.envelopes import Envelope, Page
from stepwise.api.errors import ORG_ERRORS
from stepwise.api.idempotency import IdempotencyKey
from stepwise.api.pagination import CodecDep, CursorParam, cursor_page

router = APIRouter(
    prefix="/v1/orgs/{org_id}/credentials", tags=["credentials"], responses=ORG_ERRORS
)
# A credential is a secret presented to whatever URL its destination names: admin changes them.
ADMIN = requires(Scope.ADMIN)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[Credential],
    openapi_extra=ADMIN,
)
def create_credential(
    org_id: Org,
    body: CredentialCreate,
    catalog: CatalogDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
):
    """Stores the value in Secrets Manager; the answer never contains it (so a retry with
    ``Idempotency-Key`` can be answered from the record)."""
    return idempotency.respond_once(
        request,
        org_id,
        "credentials",
        idempotency_key,
        body,
        lambda: Envelope(data=catalog.create_credential(org_id, body)),
    )


@router.get("/{credential_id}", response_model=Envelope[Credential])
def get_credential(org_id: Org, credential_id: str, catalog: CatalogDep):
    return Envelope(data=Credential.model_validate(catalog.get_credential(org_id, credential_id)))


@router.get("", response_model=Page[Credential])
def list_credentials(
    org_id: Org,
    catalog: CatalogDep,
    codec: CodecDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorParam = None,
):
    return cursor_page(
        codec,
        f"credentials:{org_id}",
        cursor,
        lambda after: catalog.list_credentials(org_id, limit, after),
    )


@router.delete("/{credential_id}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=ADMIN)
def delete_credential(org_id: Org, credential_id: str, catalog: CatalogDep) -> Response:
    catalog.delete_credential(org_id, credential_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
