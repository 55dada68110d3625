"""Action definitions (seed 000 ``definition``): versions, aliases, input schema, destinations."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from stepwise import components
from stepwise.actions.definitions import ActionDefinitions
from stepwise.actions.models import (
    ALIAS_NAME,
    ActionDefinition,
    ActionDefinitionCreate,
    ActionRecord,
    AliasUpdate,
)
from stepwise.actions.records import ActionRecords
from stepwise.api import idempotency
from stepwise.api.dependencies import CallerDep, Org, StoreDep, requires
from stepwise.api.envelopes import Envelope, Page
from stepwise.api.errors import ORG_ERRORS
from stepwise.api.idempotency import IdempotencyKey
from stepwise.api.pagination import CodecDep, CursorParam, cursor_page

router = APIRouter(
    prefix="/v1/orgs/{org_id}/actions/definitions", tags=["actions"], responses=ORG_ERRORS
)
Definitions = Annotated[ActionDefinitions, Depends(lambda: components.action_definitions())]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Envelope[ActionDefinition])
def create_definition(
    org_id: Org,
    body: ActionDefinitionCreate,
    definitions: Definitions,
    request: Request,
    idempotency_key: IdempotencyKey = None,
):
    """Version 1 of a new name, or the next immutable version of an existing one. With
    ``Idempotency-Key``, a retry gets the same version instead of adding another."""
    return idempotency.respond_once(
        request,
        org_id,
        "actions/definitions",
        idempotency_key,
        body,
        lambda: Envelope(data=definitions.create_version(org_id, body)),
    )


@router.get("", response_model=Page[ActionDefinition])
def list_definitions(
    org_id: Org,
    definitions: Definitions,
    codec: CodecDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorParam = None,
):
    return cursor_page(
        codec, f"actions:{org_id}", cursor, lambda after: definitions.list(org_id, limit, after)
    )


@router.get("/{name}", response_model=Envelope[ActionDefinition])
def get_definition(
    org_id: Org,
    name: str,
    definitions: Definitions,
    version: Annotated[int | None, Query(ge=1)] = None,
    alias: Annotated[str | None, Query(pattern=ALIAS_NAME)] = None,
):
    """The latest version, or the one at ``version`` or ``alias``."""
    return Envelope(data=definitions.resolve(org_id, name, version=version, alias=alias))


@router.put("/{name}/aliases/{alias}", response_model=Envelope[ActionDefinition])
def set_alias(
    org_id: Org,
    name: str,
    alias: Annotated[str, Path(pattern=ALIAS_NAME)],
    body: AliasUpdate,
    definitions: Definitions,
):
    """Points ``alias`` at a version (``name@alias`` in an action node resolves through it)."""
    return Envelope(data=definitions.set_alias(org_id, name, alias, body.version))


@router.delete("/{name}", response_model=Envelope[ActionDefinition])
def delete_definition(org_id: Org, name: str, definitions: Definitions):
    """Soft delete: stays readable with ``deleted_at``; no new versions."""
    return Envelope(data=definitions.delete(org_id, name))


records_router = APIRouter(prefix="/v1/orgs/{org_id}", tags=["actions"], responses=ORG_ERRORS)
Records = Annotated[ActionRecords, Depends(lambda: components.action_records())]


ITS_RUNS = requires(workflows="only runs of its workflows (404 for another)")


@records_router.get(
    "/actions/records/{record_id}", response_model=Envelope[ActionRecord], openapi_extra=ITS_RUNS
)
def get_record(who: CallerDep, record_id: str, records: Records, store: StoreDep):
    """One action node execution (id ``{run_id}.{node_ref}``, the webhook-id it was sent with;
    ``{run_id}.{node_ref}[{index}]`` for one item of a for_each action node): state, definition
    with destinations, and events per attempt."""
    record = records.get(who.org_id, record_id)
    if who.workflows is not None:
        run = store.runs.get_run(who.org_id, record.run_id)
        who.check_visible(run.workflow_id, "action record", record_id)
    return Envelope(data=record)


@records_router.get(
    "/runs/{run_id}/actions", response_model=Page[ActionRecord], openapi_extra=ITS_RUNS
)
def list_run_records(who: CallerDep, run_id: str, records: Records, store: StoreDep):
    """The action records of one run, in node order; a for_each action node's items in its
    place, one record each, in item order."""
    if who.workflows is not None:
        run = store.runs.get_run(who.org_id, run_id)
        who.check_visible(run.workflow_id, "run", run_id)
    return Page(data=records.list_for_run(who.org_id, run_id))
