"""Schedules: start a workflow on a cron or rate expression (EventBridge Scheduler)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from stepwise import components
from stepwise.api import idempotency
from stepwise.api.dependencies import CallerDep
from stepwise.api.envelopes import Envelope, Page
from stepwise.api.errors import ORG_ERRORS
from stepwise.api.idempotency import IdempotencyKey
from stepwise.api.pagination import CodecDep, CursorParam, cursor_page
from stepwise.schedules.models import Schedule, ScheduleCreate, ScheduleUpdate
from stepwise.schedules.service import Schedules

router = APIRouter(prefix="/v1/orgs/{org_id}/schedules", tags=["schedules"], responses=ORG_ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Envelope[Schedule])
def create_schedule(
    who: CallerDep,
    body: ScheduleCreate,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """A schedule that starts runs of the workflow (role ``schedule``). An invalid expression,
    timezone or workflow is a 422 naming the field."""

    def create() -> Envelope[Schedule]:
        item = components.schedules().create(who.org_id, body, who.actor)
        return Envelope(data=Schedules.view(item))

    return idempotency.respond_once(request, who.org_id, "schedules", idempotency_key, body, create)


@router.get("", response_model=Page[Schedule])
def list_schedules(
    who: CallerDep,
    codec: CodecDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorParam = None,
):
    """The org's schedules, oldest first."""

    def fetch(after: str | None):
        items, last = components.schedules().list(who.org_id, limit, after)
        return [Schedules.view(i) for i in items], last

    return cursor_page(codec, f"schedules:{who.org_id}", cursor, fetch)


@router.get("/{schedule_id}", response_model=Envelope[Schedule])
def get_schedule(who: CallerDep, schedule_id: str):
    return Envelope(data=Schedules.view(components.schedules().get(who.org_id, schedule_id)))


@router.patch("/{schedule_id}", response_model=Envelope[Schedule])
def update_schedule(who: CallerDep, schedule_id: str, body: ScheduleUpdate):
    """Changes the fields given; ``enabled: false`` pauses it without losing it."""
    item = components.schedules().update(who.org_id, schedule_id, body, who.actor)
    return Envelope(data=Schedules.view(item))


@router.delete("/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_schedule(who: CallerDep, schedule_id: str) -> Response:
    """Deletes it; runs it started are kept."""
    components.schedules().delete(who.org_id, schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
