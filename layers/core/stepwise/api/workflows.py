"""Workflow definitions: create and read."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status

from stepwise import components
from stepwise.api import idempotency
from stepwise.api.dependencies import CallerDep, Org, StoreDep, requires
from stepwise.api.envelopes import Envelope, Page
from stepwise.api.errors import ORG_ERRORS
from stepwise.api.idempotency import IdempotencyKey
from stepwise.api.pagination import CodecDep, CursorParam, cursor_page
from stepwise.core.errors import NotFound, ValidationFailed, field_error
from stepwise.core.ids import new_id
from stepwise.runs.node_events import EventPage, EventsMeta
from stepwise.store import Store
from stepwise.workflows import graph, machines
from stepwise.workflows.failure_handler import failure_handler_errors
from stepwise.workflows.models import REF_PATTERN, Workflow, WorkflowCreate, WorkflowSummary

router = APIRouter(prefix="/v1/orgs/{org_id}/workflows", tags=["workflows"], responses=ORG_ERRORS)
ITS_WORKFLOWS = requires(workflows="only its workflows (404 for another)")


def _its_workflow(who: CallerDep, workflow_id: str) -> str:
    """The caller's org, if its key may see the workflow (404 as for another org's if not)."""
    who.check_visible(workflow_id, "workflow", workflow_id)
    return who.org_id


# A workflow-limited key reads its workflows and changes none: a new version could start child
# runs of any workflow.
WorkflowOrg = Annotated[str, Depends(_its_workflow)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Envelope[Workflow])
def create_workflow(
    org_id: Org,
    body: WorkflowCreate,
    store: StoreDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Version 1 of a new workflow. With ``Idempotency-Key``, a retry gets the same one."""

    def create() -> Envelope[Workflow]:
        _validate(body, store, org_id)
        express = _express_nodes(body, org_id)
        return Envelope(data=store.workflows.create_workflow(org_id, new_id("wf"), body, express))

    return idempotency.respond_once(request, org_id, "workflows", idempotency_key, body, create)


@router.get("", response_model=Page[WorkflowSummary])
def list_workflows(
    org_id: Org,
    store: StoreDep,
    codec: CodecDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorParam = None,
) -> Page[WorkflowSummary]:
    """The org's workflows, newest first, each with its latest version's name."""
    return cursor_page(
        codec,
        f"workflows:{org_id}",
        cursor,
        lambda after: store.workflows.list_workflows(org_id, limit, after),
    )


@router.put("/{workflow_id}", response_model=Envelope[Workflow])
def update_workflow(
    org_id: Org, workflow_id: str, body: WorkflowCreate, store: StoreDep
) -> Envelope[Workflow]:
    """Saves a new immutable version; runs already started keep theirs."""
    _validate(body, store, org_id)
    express = _express_nodes(body, org_id)
    return Envelope(data=store.workflows.add_workflow_version(org_id, workflow_id, body, express))


@router.get("/{workflow_id}", response_model=Envelope[Workflow], openapi_extra=ITS_WORKFLOWS)
def get_workflow(
    org_id: WorkflowOrg,
    workflow_id: str,
    store: StoreDep,
    version: Annotated[int | None, Query(ge=1, description="Default: the latest.")] = None,
) -> Envelope[Workflow]:
    return Envelope(data=store.workflows.get_workflow(org_id, workflow_id, version))


@router.get("/{workflow_id}/versions", response_model=Page[Workflow], openapi_extra=ITS_WORKFLOWS)
def list_versions(
    org_id: WorkflowOrg,
    workflow_id: str,
    store: StoreDep,
    codec: CodecDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorParam = None,
) -> Page[Workflow]:
    """Every version, oldest first."""
    return cursor_page(
        codec,
        f"versions:{org_id}:{workflow_id}",
        cursor,
        lambda after: store.workflows.list_workflow_versions(org_id, workflow_id, limit, after),
    )


@router.get(
    "/{workflow_id}/nodes/{ref}/events", response_model=EventPage, openapi_extra=ITS_WORKFLOWS
)
def list_node_events(
    org_id: WorkflowOrg,
    workflow_id: str,
    ref: Annotated[str, Path(pattern=REF_PATTERN)],
    request: Request,
    since_id: Annotated[
        str | None,
        Query(pattern=r"^[a-z0-9_.-]+$", max_length=64, description="Only events newer than it."),
    ] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> EventPage:
    """The events a node with ``emit_event`` recorded on success (seed 003), newest first, in
    pages by number; ``meta`` links the pages around this one."""
    events, count = components.node_events().page(
        org_id, workflow_id, ref, since_id, page, per_page
    )
    pages = None if count is None else -(-count // per_page)  # None: more follow this page

    def link(number: int) -> str:
        params: dict[str, Any] = {"page": number, "per_page": per_page}
        if since_id:
            params["since_id"] = since_id
        return str(request.url.replace_query_params(**params))

    meta = EventsMeta(
        current_page=link(page),
        previous_page=link(page - 1 if pages is None else min(page - 1, pages))
        if page > 1 and pages != 0
        else None,
        next_page=link(page + 1) if pages is None or page < pages else None,
        per_page=per_page,
        pages=pages,
        count=count,
    )
    return EventPage(data=events, meta=meta)


def _express_nodes(body: WorkflowCreate, org_id: str) -> list[str]:
    """The nodes of the version being saved that run as Express executions."""
    resolve = machines.destination_resolver(components.action_definitions(), org_id)
    return machines.express_nodes(body.nodes, resolve)


def _validate(body: WorkflowCreate, store: Store, org_id: str) -> None:
    errors = graph.validation_errors(body.nodes, body.returns)
    for loc, workflow_id in graph.literal_child_workflows(body.nodes):
        try:
            store.workflows.get_workflow(org_id, workflow_id)
        except NotFound:
            errors.append(field_error(loc, f"unknown workflow {workflow_id!r}", "unknown_workflow"))
    if body.on_failure is not None:
        errors += failure_handler_errors(body.on_failure, store, org_id)
    if errors:
        raise ValidationFailed(errors)
