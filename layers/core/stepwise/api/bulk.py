"""Bulk actions: cancel, pause, resume or redrive every run a filter matches, in the
background, and read how far the job got."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status

from stepwise import components
from stepwise.api import idempotency
from stepwise.api.dependencies import Caller, CallerDep, requires
from stepwise.api.envelopes import Envelope
from stepwise.api.errors import ORG_ERRORS
from stepwise.api.idempotency import IdempotencyKey
from stepwise.bulk.models import BulkCreate, BulkJob
from stepwise.bulk.service import Bulk
from stepwise.core.errors import Forbidden, NotFound

router = APIRouter(prefix="/v1/orgs/{org_id}/runs/bulk", tags=["runs"], responses=ORG_ERRORS)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[BulkJob],
    openapi_extra=requires(
        workflows="only runs of its workflows: filter.workflow_id defaults to its one workflow "
        "and must be one of them (403 for another)"
    ),
)
def create_bulk_job(
    who: CallerDep,
    body: BulkCreate,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Applies ``action`` to every run ``filter`` matches (the query parameters of
    ``GET /runs``, as fields), in the background, a page at a time: 202 with the job (status
    ``queued``). A run the action no longer applies to when its turn comes is skipped, with
    the reason counted. With ``Idempotency-Key``, a retry gets the same job."""
    body.filter.workflow_id = _limited_workflow(who, body.filter.workflow_id)

    def create() -> Envelope[BulkJob]:
        item = components.bulk().create(who.org_id, body, who.actor, who.key_id)
        return Envelope(data=Bulk.view(item))

    return idempotency.respond_once(request, who.org_id, "runs/bulk", idempotency_key, body, create)


@router.get(
    "/{job_id}",
    response_model=Envelope[BulkJob],
    openapi_extra=requires(workflows="only jobs over its workflows (404 for another)"),
)
def get_bulk_job(who: CallerDep, job_id: Annotated[str, Path(max_length=128)]) -> Envelope[BulkJob]:
    """The job with its counts: matched, done, skipped (by reason), failed, and its status
    (``queued``, ``running``, ``succeeded``, ``failed``)."""
    item = components.bulk().get(who.org_id, job_id)
    if who.workflows is not None:
        workflow_id = (item.get("filter") or {}).get("workflow_id")
        if workflow_id is None or workflow_id not in who.workflows:
            raise NotFound("bulk job", job_id)
    return Envelope(data=Bulk.view(item))


def _limited_workflow(who: Caller, workflow_id: str | None) -> str | None:
    """A workflow-limited key acts only on runs of its workflows, as its list does."""
    if who.workflows is None:
        return workflow_id
    if workflow_id is None and len(who.workflows) == 1:
        return next(iter(who.workflows))
    if workflow_id is None or workflow_id not in who.workflows:
        allowed = ", ".join(sorted(who.workflows))
        raise Forbidden(
            f"this API key is limited to workflows {allowed}: set filter.workflow_id to one of them"
        )
    return workflow_id
