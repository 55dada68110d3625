"""Runs: start one, read one with its nodes, list an org's runs newest first."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status

from stepwise import components
from stepwise.access.api_keys import Scope
from stepwise.actions.signal_models import ReviewCreate
from stepwise.api import idempotency
from stepwise.api.dependencies import Caller, CallerDep, StoreDep, requires
from stepwise.api.envelopes import Envelope, Page
from stepwise.api.errors import ORG_ERRORS, RUN_START_QUOTA_ERRORS
from stepwise.api.idempotency import IdempotencyKey
from stepwise.api.pagination import CodecDep, CursorParam, cursor_page
from stepwise.core import settings
from stepwise.core.errors import Forbidden
from stepwise.core.ids import BATCH_ID_PATTERN, new_id
from stepwise.core.statuses import RunStatus
from stepwise.runs import cancel, pause, quotas, starts, views
from stepwise.runs.external import EXTERNAL, ExternalRunCreate, ExternalRunUpdate
from stepwise.runs.history import run_history
from stepwise.runs.logs import LogCreate, LogLine
from stepwise.runs.models import (
    HistoryEvent,
    NodeExecution,
    Run,
    RunCancel,
    RunCreate,
    RunPause,
    RunSummary,
)
from stepwise.runs.queries import (
    MAX_MERGED_WORKFLOWS,
    MAX_TAG_FILTERS,
    Position,
    RunFilter,
    merged_total,
    page_runs,
    page_runs_of,
    parse_tags,
)
from stepwise.runs.records import RunRecord
from stepwise.store import Store
from stepwise.workflows.models import REF_PATTERN, Workflow

router = APIRouter(prefix="/v1/orgs/{org_id}/runs", tags=["runs"], responses=ORG_ERRORS)
# How each route applies a workflow-limited key's limit (x-workflow-limited).
STARTS = requires(workflows="only runs of its workflows (403 for another)")
ITS_RUNS = requires(workflows="only runs of its workflows (404 for another)")
LISTED = requires(
    workflows="only runs of its workflows: without workflow_id, the runs of all of them (up to "
    "10 workflows; a key limited to more names one); another workflow_id is 403"
)
REVIEW = requires(
    Scope.APPROVE,
    note="the key that started the run (or its root run) cannot review it: 403",
    workflows="only runs of its workflows (404 for another)",
)


def _visible_run(store: Store, who: Caller, run_id: str) -> RunRecord:
    """The run, or 404 if it is another org's, or another workflow's for a limited key."""
    run = store.runs.get_run(who.org_id, run_id)
    who.check_visible(run.workflow_id, "run", run_id)
    return run


def _starting_key(store: Store, org_id: str, run: RunRecord) -> str | None:
    """The id of the API key that started the run, or the run it is a child of (child runs
    are started by the engine, for whoever started their root)."""
    for _ in range(32):  # child runs nest at most 10 deep: a bound, never reached
        if run.created_by_key or not run.parent_run_id:
            return run.created_by_key
        run = store.runs.get_run(org_id, run.parent_run_id)
    return None


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[Run],
    responses=RUN_START_QUOTA_ERRORS,
    openapi_extra=STARTS,
)
def start_run(
    who: CallerDep,
    body: RunCreate,
    store: StoreDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Starts a run of the workflow's latest version. With ``Idempotency-Key``, a retry of the
    same request gets the same run instead of a second one."""
    who.check_may_start(body.workflow_id)
    return idempotency.respond_once(
        request, who.org_id, "runs", idempotency_key, body, lambda: _start_run(who, body, store)
    )


def _start_run(who: Caller, body: RunCreate, store: Store) -> Envelope[Run]:
    org_id = who.org_id
    quotas.check_run_input(body.input)
    workflow = store.workflows.get_workflow(org_id, body.workflow_id)
    quotas.check_open_runs(store, org_id)
    run, nodes = starts.start_workflow_run(
        store,
        settings.api_settings().run_queue_url,
        org_id,
        new_id("run"),
        workflow,
        body.input,
        {
            "role": "key",
            "created_by": who.actor,
            "created_by_key": who.key_id,
            **({"tags": body.tags} if body.tags else {}),
        },
    )
    # The run as accepted (queued); its execution may already be moving it on.
    return Envelope(data=views.run_detail(store.payloads, run, nodes, workflow))


@router.post(
    "/external",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[Run],
    openapi_extra=STARTS,
)
def create_external_run(
    who: CallerDep,
    body: ExternalRunCreate,
    store: StoreDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """A run executed elsewhere and reported here (seed 002): no execution; its status is the
    phase its client sets with PUT. An ``id`` of your own is kept (409 if taken)."""
    who.check_may_start(body.workflow_id)

    def create() -> Envelope[Run]:
        item = components.external_runs().create(who.org_id, body, who.actor)
        return Envelope(data=views.run_detail(store.payloads, item, []))  # no nodes

    return idempotency.respond_once(
        request, who.org_id, "runs/external", idempotency_key, body, create
    )


@router.put(
    "/{run_id}",
    response_model=Envelope[Run],
    responses={201: {"description": "Created (an external run that did not exist)."}},
    openapi_extra=requires(
        workflows="only runs of its workflows (404 for another), and a new run only of one "
        "(403 for another)"
    ),
)
def upsert_run(
    who: CallerDep, run_id: str, body: ExternalRunUpdate, store: StoreDep, response: Response
) -> Envelope[Run]:
    """Creates or changes an external run: phase, actions, outputs, args, tags. On a run
    Stepwise executes, only tags can be set (409 for anything else)."""
    if who.workflows is not None:
        if store.runs.run_exists(who.org_id, run_id):
            _visible_run(store, who, run_id)
        if body.workflow_id is not None:
            who.check_may_start(body.workflow_id)
    if components.external_runs().update(who.org_id, run_id, body, who.actor):
        response.status_code = status.HTTP_201_CREATED
    return _run(store, who.org_id, run_id)


@router.delete("/{run_id}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=ITS_RUNS)
def delete_run(who: CallerDep, run_id: str, store: StoreDep) -> Response:
    """Deletes an external run (409 for a run Stepwise executes: cancel it instead)."""
    if who.workflows is not None:
        _visible_run(store, who, run_id)
    components.external_runs().delete(who.org_id, run_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _run(store: Store, org_id: str, run_id: str, who: Caller | None = None) -> Envelope[Run]:
    """The run with its nodes, placed in its workflow version's graph (an engine run); 404 for
    a run of a workflow ``who`` is not limited to."""
    run, nodes = store.runs.get_run_with_nodes(org_id, run_id)
    if who is not None:
        who.check_visible(run.workflow_id, "run", run_id)
    workflow = _pinned_workflow(store, org_id, run)
    return Envelope(data=views.run_detail(store.payloads, run, nodes, workflow))


def _pinned_workflow(store: Store, org_id: str, run: RunRecord) -> Workflow | None:
    """The workflow version an engine run executes; None for an external run (no graph)."""
    if run.kind == EXTERNAL or run.workflow_version is None:
        return None
    return store.workflows.get_workflow(org_id, run.workflow_id, run.workflow_version)


@router.get("/{run_id}", response_model=Envelope[Run], openapi_extra=ITS_RUNS)
def get_run(who: CallerDep, run_id: str, store: StoreDep) -> Envelope[Run]:
    return _run(store, who.org_id, run_id, who)


@router.get("/{run_id}/nodes/{ref}", response_model=Envelope[NodeExecution], openapi_extra=ITS_RUNS)
def get_node(
    who: CallerDep,
    run_id: str,
    ref: Annotated[str, Path(pattern=REF_PATTERN)],
    store: StoreDep,
) -> Envelope[NodeExecution]:
    """One node of the run with its output, however large (``GET /runs/{id}`` leaves an output
    stored apart out: ``output_omitted``)."""
    _visible_run(store, who, run_id)  # 404 for an unknown run (or another workflow's) first
    node = store.runs.get_node(who.org_id, run_id, ref)
    return Envelope(data=views.node_execution(store.payloads, node))


@router.post(
    "/{run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[Run],
    openapi_extra=ITS_RUNS,
)
def cancel_run(
    who: CallerDep, run_id: str, store: StoreDep, body: RunCancel | None = None
) -> Envelope[Run]:
    """Stops the run: running nodes are stopped, pending ones cancelled, nothing starts after."""
    if who.workflows is not None:
        _visible_run(store, who, run_id)
    reason = (body.reason if body else None) or "cancelled by the API"
    cancel.cancel_run(store, settings.api_settings().run_queue_url, who.org_id, run_id, reason)
    return _run(store, who.org_id, run_id)


PAUSE_CONFLICT = {409: {"description": "The run has ended, is finishing, or is external."}}


@router.post(
    "/{run_id}/pause",
    response_model=Envelope[Run],
    responses=PAUSE_CONFLICT,
    openapi_extra=ITS_RUNS,
)
def pause_run(
    who: CallerDep, run_id: str, store: StoreDep, body: RunPause | None = None
) -> Envelope[Run]:
    """Pauses the run: nodes already started finish, nothing new starts until it is resumed
    (status ``paused``). Pausing a paused run changes nothing (200). The run's ``timeout``
    keeps counting; cancel still ends it."""
    if who.workflows is not None:
        _visible_run(store, who, run_id)
    reason = body.reason if body else None
    pause.pause_run(store, who.org_id, run_id, who.actor, reason)
    return _run(store, who.org_id, run_id)


@router.post(
    "/{run_id}/resume",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[Run],
    responses={
        409: {
            "description": "The run is not paused: it is running, has ended, is "
            "finishing, or is external."
        }
    },
    openapi_extra=ITS_RUNS,
)
def resume_run(who: CallerDep, run_id: str, store: StoreDep) -> Envelope[Run]:
    """Resumes a paused run (status ``running``); what became ready while it was paused starts
    within moments. Resuming a run whose last pause was resumed already changes nothing (202)."""
    if who.workflows is not None:
        _visible_run(store, who, run_id)
    pause.resume_run(store, who.org_id, run_id, who.actor, components.bulk().queue_release)
    return _run(store, who.org_id, run_id)


@router.post(
    "/{run_id}/nodes/{ref}/approval",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[NodeExecution],
    responses={409: {"description": "The node is not an approval node waiting for a review."}},
    openapi_extra=REVIEW,
)
def review_node(
    who: CallerDep, run_id: str, ref: str, body: ReviewCreate, store: StoreDep
) -> Envelope[NodeExecution]:
    """Approves or rejects a waiting approval node; the node moves on within moments. The key
    that started the run (or its root run) may not review it: separation of duties."""
    run = _visible_run(store, who, run_id)  # 404 for another org's run before anything else
    if who.key_id is not None and who.key_id == _starting_key(store, who.org_id, run):
        raise Forbidden(
            "the API key that started this run cannot review its approvals (separation of "
            "duties): review with another key"
        )
    node = components.signals().review(who.org_id, run_id, ref, body, who.actor, who.key_id)
    return Envelope(data=views.node_execution(store.payloads, node))


@router.post(
    "/{run_id}/logs",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[LogLine],
    openapi_extra=ITS_RUNS,
)
def write_log(
    who: CallerDep,
    run_id: str,
    body: LogCreate,
    store: StoreDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Adds a line to the run's log (seed 002), from whoever runs or watches it. With
    ``Idempotency-Key``, a retry adds no second line."""
    org_id = who.org_id
    _visible_run(store, who, run_id)  # 404 for an unknown run

    def write() -> Envelope[LogLine]:
        item = components.run_logs().write(
            org_id, run_id, body.level, body.message, body.node_ref, "api", body.timestamp
        )
        return Envelope(data=LogLine.model_validate(item))

    # The run is part of the route: the same key and line on another run is another line.
    route = f"runs/{run_id}/logs"
    return idempotency.respond_once(request, org_id, route, idempotency_key, body, write)


@router.get("/{run_id}/logs", response_model=Page[LogLine], openapi_extra=ITS_RUNS)
def read_logs(
    who: CallerDep,
    run_id: str,
    store: StoreDep,
    codec: CodecDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: CursorParam = None,
) -> Page[LogLine]:
    """The run's log lines in the order they were written, the engine's among them."""
    org_id = who.org_id
    _visible_run(store, who, run_id)

    def fetch(after: str | None):
        items, last = components.run_logs().page(org_id, run_id, limit, after)
        return [LogLine.model_validate(i) for i in items], last

    return cursor_page(codec, f"logs:{org_id}:{run_id}", cursor, fetch)


@router.get("/{run_id}/history", response_model=Page[HistoryEvent], openapi_extra=ITS_RUNS)
def get_history(
    who: CallerDep,
    run_id: str,
    store: StoreDep,
    codec: CodecDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: CursorParam = None,
) -> Page[HistoryEvent]:
    """The run's typed events in order (seed 001), paged by event id."""
    org_id = who.org_id
    run, nodes = store.runs.get_run_with_nodes(org_id, run_id)
    who.check_visible(run.workflow_id, "run", run_id)
    workflow = _pinned_workflow(store, org_id, run)  # an external run: only its own events
    specs = {node.ref: node for node in workflow.nodes} if workflow else {}
    # Outputs are read for the page only, and never from S3 (``result_omitted``).
    events = run_history(run, nodes, specs, views.stored_output)

    def fetch(after: int | None):
        start = after or 0
        page = views.history_page(store.payloads, events[start : start + limit])
        return page, (start + limit if start + limit < len(events) else None)

    return cursor_page(codec, f"history:{org_id}:{run_id}", cursor, fetch)


@router.get("", response_model=Page[RunSummary], openapi_extra=LISTED)
def list_runs(
    who: CallerDep,
    store: StoreDep,
    codec: CodecDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: CursorParam = None,
    status: RunStatus | None = None,
    workflow_id: Annotated[str | None, Query(max_length=128)] = None,
    parent_run_id: Annotated[str | None, Query(max_length=512)] = None,
    batch_id: Annotated[str | None, Query(pattern=BATCH_ID_PATTERN)] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    tag: Annotated[
        list[str] | None,
        Query(
            max_length=MAX_TAG_FILTERS,
            description="key=value (split at the first '='); repeat it for runs with every tag.",
        ),
    ] = None,
) -> Page[RunSummary]:
    """Runs newest first, filtered; pages both ways with signed cursors that stay right while
    new runs arrive. ``total`` is kept by counters for no filter, a status, a workflow, or a
    batch (with or without a status)."""
    org_id = who.org_id
    workflow_id = _limited_filter(who, workflow_id)
    merged = sorted(who.workflows) if who.workflows is not None and not workflow_id else None
    query = RunFilter(
        status=str(status) if status else None,
        workflow_id=workflow_id,
        parent_run_id=parent_run_id,
        created_after=created_after,
        created_before=created_before,
        tags=parse_tags(tag),
        batch_id=batch_id,
    )
    scope = f"runs:{org_id}:{query.scope()}" + (f"|of={','.join(merged)}" if merged else "")
    position = None
    if cursor:
        at = codec.decode(scope, cursor)
        position = Position(at["at"], newer=bool(at.get("newer")), inclusive=bool(at.get("incl")))
    if merged:
        items, more = page_runs_of(store.table, org_id, query, merged, limit, position)
    else:
        items, more = page_runs(store.table, org_id, query, limit, position)
    page = Page[RunSummary](data=[views.run_summary(i) for i in items], current_page=cursor)
    if items:
        first, last = items[0].run_id, items[-1].run_id
        newer = bool(position and position.newer)
        if more or newer:
            page.next_page = codec.encode(scope, {"at": last})
        if (position is not None and not newer) or (newer and more):
            page.previous_page = codec.encode(scope, {"at": first, "newer": True})
        page.current_page = codec.encode(scope, {"at": first, "incl": True})
        page.current_page_backwards = codec.encode(scope, {"at": last, "newer": True, "incl": True})
    counted = query.counted()
    if merged:
        page.total = merged_total(store.runs.run_counts(org_id), query, merged)
        return page
    if counted is not None:
        page.total = store.runs.run_counts(org_id).get(counted, 0)
    batch_counted = query.batch_counted()
    if batch_counted is not None and batch_id is not None:
        batch = components.batches().find(org_id, batch_id)
        page.total = int(batch.get(batch_counted, 0)) if batch else 0
    return page


def _limited_filter(who: Caller, workflow_id: str | None) -> str | None:
    """The workflow filter of a workflow-limited key's list: its own (the one it is limited to
    when it gives none), never another's. None for a key limited to several (at most
    ``MAX_MERGED_WORKFLOWS``) that names none: its list merges theirs."""
    if who.workflows is None:
        return workflow_id
    if workflow_id is None and len(who.workflows) == 1:
        return next(iter(who.workflows))
    if workflow_id is None and len(who.workflows) <= MAX_MERGED_WORKFLOWS:
        return None
    if workflow_id is None or workflow_id not in who.workflows:
        allowed = ", ".join(sorted(who.workflows))
        raise Forbidden(
            f"this API key is limited to workflows {allowed}: list runs with workflow_id set "
            "to one of them"
        )
    return workflow_id
