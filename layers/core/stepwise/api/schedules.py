"""Schedules: start a workflow on a cron or rate expression (EventBridge Scheduler)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from stepwise import components
from stepwise.api import idempotency
from stepwise.api.dependencies import Caller, CallerDep, requires
from stepwise.api.envelopes import Envelope, Page
from stepwise.api.errors import ORG_ERRORS
from stepwise.api.idempotency import IdempotencyKey
from stepwise.api.pagination import CodecDep, CursorParam, cursor_page
from stepwise.schedules.models import Schedule, ScheduleCreate, ScheduleUpdate
from stepwise.schedules.service import Schedules

router = APIRouter(prefix="/v1/orgs/{org_id}/schedules", tags=["schedules"], responses=ORG_ERRORS)
STARTS = requires(workflows="only schedules of its workflows (403 for another)")
ITS_SCHEDULES = requires(workflows="only schedules of its workflows (404 for another)")


def _visible(who: Caller, schedule_id: str) -> dict[str, Any]:
    item = components.schedules().get(who.org_id, schedule_id)
    who.check_visible(item.get("workflow_id"), "schedule", schedule_id)
    return item


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=Envelope[Schedule], openapi_extra=STARTS
)
def create_schedule(
    who: CallerDep,
    body: ScheduleCreate,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """A schedule that starts runs of the workflow (role ``schedule``). An invalid expression,
    timezone or workflow is a 422 naming the field."""
    who.check_may_start(body.workflow_id)

    def create() -> Envelope[Schedule]:
        item = components.schedules().create(who.org_id, body, who.actor, who.key_id)
        return Envelope(data=Schedules.view(item))

    return idempotency.respond_once(request, who.org_id, "schedules", idempotency_key, body, create)


@router.get(
    "",
    response_model=Page[Schedule],
    openapi_extra=requires(workflows="only schedules of its workflows (the others are left out)"),
)
def list_schedules(
    who: CallerDep,
    codec: CodecDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorParam = None,
):
    """The org's schedules, oldest first."""

    def fetch(after: str | None):
        items, last = components.schedules().list(who.org_id, limit, after)
        return [Schedules.view(i) for i in items if who.sees_workflow(i.get("workflow_id"))], last

    return cursor_page(codec, f"schedules:{who.org_id}", cursor, fetch)


@router.get("/{schedule_id}", response_model=Envelope[Schedule], openapi_extra=ITS_SCHEDULES)
def get_schedule(who: CallerDep, schedule_id: str):
    return Envelope(data=Schedules.view(_visible(who, schedule_id)))


@router.patch(
    "/{schedule_id}",
    response_model=Envelope[Schedule],
    openapi_extra=requires(
        workflows="only schedules of its workflows (404 for another), and a new workflow_id "
        "only of one (403 for another)"
    ),
)
def update_schedule(who: CallerDep, schedule_id: str, body: ScheduleUpdate):
    """Changes the fields given; ``enabled: false`` pauses it without losing it."""
    if who.workflows is not None:
        _visible(who, schedule_id)
        if body.workflow_id is not None:
            who.check_may_start(body.workflow_id)
    item = components.schedules().update(who.org_id, schedule_id, body, who.actor)
    return Envelope(data=Schedules.view(item))


@router.delete(
    "/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=ITS_SCHEDULES
)
def delete_schedule(who: CallerDep, schedule_id: str) -> Response:
    """Deletes it; runs it started are kept."""
    if who.workflows is not None:
        _visible(who, schedule_id)
    components.schedules().delete(who.org_id, schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
