"""Batches: start one run per input (in the background), and count the runs by status."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status

from stepwise import components
from stepwise.api import idempotency
from stepwise.api.dependencies import CallerDep, requires
from stepwise.api.envelopes import Envelope
from stepwise.api.errors import ORG_ERRORS, RUN_START_QUOTA_ERRORS
from stepwise.api.idempotency import IdempotencyKey
from stepwise.batches.models import Batch, BatchCreate
from stepwise.batches.service import Batches

router = APIRouter(prefix="/v1/orgs/{org_id}/batches", tags=["batches"], responses=ORG_ERRORS)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[Batch],
    responses={429: RUN_START_QUOTA_ERRORS[429]},
    openapi_extra=requires(workflows="only batches of its workflows (403 for another)"),
)
def create_batch(
    who: CallerDep,
    body: BatchCreate,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Accepts 1 to 1,000 inputs and starts one run per input in the background (status
    ``starting``, then ``started`` once every run exists). List them with
    ``GET /runs?batch_id=``. With ``Idempotency-Key``, a retry gets the same batch."""
    who.check_may_start(body.workflow_id)

    def create() -> Envelope[Batch]:
        item = components.batches().create(who.org_id, body, who.actor, who.key_id)
        return Envelope(data=Batches.view(item))

    return idempotency.respond_once(request, who.org_id, "batches", idempotency_key, body, create)


@router.get(
    "/{batch_id}",
    response_model=Envelope[Batch],
    openapi_extra=requires(workflows="only batches of its workflows (404 for another)"),
)
def get_batch(who: CallerDep, batch_id: Annotated[str, Path(max_length=128)]) -> Envelope[Batch]:
    """The batch with its runs counted per status (exact: moved with every status change)."""
    item = components.batches().get(who.org_id, batch_id)
    who.check_visible(item.get("workflow_id"), "batch", batch_id)
    return Envelope(data=Batches.view(item))
