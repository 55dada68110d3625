"""Repairing runs: redrive a failed run (the same run resumes), rerun a run from a node (a new
run). docs/engine.md, "Repairing runs", has the rules."""

from typing import Any

from fastapi import APIRouter, Request, status

from stepwise.api import idempotency
from stepwise.api.dependencies import Caller, CallerDep, StoreDep, requires
from stepwise.api.envelopes import Envelope
from stepwise.api.errors import ORG_ERRORS, RUN_START_QUOTA_ERRORS
from stepwise.api.idempotency import IdempotencyKey
from stepwise.core import settings
from stepwise.runs import redrive, rerun, views
from stepwise.runs.models import Run
from stepwise.runs.repair_models import RunRedrive, RunRerun
from stepwise.store import Store

router = APIRouter(prefix="/v1/orgs/{org_id}/runs", tags=["runs"], responses=ORG_ERRORS)
ITS_RUNS = requires(workflows="only runs of its workflows (404 for another)")
REDRIVE_ERRORS = {
    409: {"description": "The run is queued, running or succeeded, external, or changed meanwhile."}
}
RERUN_ERRORS = {409: {"description": "The run has not settled, or is external."}}


def _run_view(store: Store, org_id: str, run_id: str) -> Envelope[Run]:
    run, nodes = store.runs.get_run_with_nodes(org_id, run_id)
    workflow = store.workflows.get_workflow(org_id, run.workflow_id, run.workflow_version)
    return Envelope(data=views.run_detail(store.payloads, run, nodes, workflow))


def _visible(store: Store, who: Caller, run_id: str) -> None:
    """404 for another org's run (the key's org is checked first), or another workflow's."""
    run = store.runs.get_run(who.org_id, run_id)
    who.check_visible(run.workflow_id, "run", run_id)


@router.post(
    "/{run_id}/redrive",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[Run],
    responses={**REDRIVE_ERRORS, **RUN_START_QUOTA_ERRORS},
    openapi_extra=ITS_RUNS,
)
def redrive_run(
    who: CallerDep,
    run_id: str,
    store: StoreDep,
    request: Request,
    body: RunRedrive | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Resumes a failed, timed-out or cancelled run as the same run: succeeded nodes keep their
    outputs and are not run (or delivered) again; failed, cancelled and unreached nodes run
    again, attempts numbered on. With ``Idempotency-Key``, a retry redrives once."""
    body = body or RunRedrive()
    _visible(store, who, run_id)

    def act() -> Envelope[Run]:
        fields: dict[str, Any] = {}
        if "input" in body.model_fields_set:
            fields["run_input"] = body.input
        redrive.redrive_run(
            store,
            who.org_id,
            run_id,
            workflow_version=body.workflow_version,
            reason=body.reason,
            key_id=who.key_id,
            key_name=who.key_name,
            run_queue_url=settings.api_settings().run_queue_url,
            **fields,
        )
        return _run_view(store, who.org_id, run_id)

    route = f"runs/{run_id}/redrive"
    return idempotency.respond_once(request, who.org_id, route, idempotency_key, body, act)


@router.post(
    "/{run_id}/rerun",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[Run],
    responses={**RERUN_ERRORS, **RUN_START_QUOTA_ERRORS},
    openapi_extra=ITS_RUNS,
)
def rerun_run(
    who: CallerDep,
    run_id: str,
    body: RunRerun,
    store: StoreDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Starts a new run that copies the outcome of every node not downstream of ``from`` and
    runs ``from`` and everything after it (``rerun_of`` names this run, whose ``reruns`` list
    it). Any settled run, succeeded ones too."""
    _visible(store, who, run_id)

    def act() -> Envelope[Run]:
        fields: dict[str, Any] = {}
        if "input" in body.model_fields_set:
            fields["run_input"] = body.input
        run, nodes, workflow = rerun.rerun_run(
            store,
            who.org_id,
            run_id,
            body.from_,
            run_queue_url=settings.api_settings().run_queue_url,
            workflow_version=body.workflow_version,
            key_id=who.key_id,
            key_name=who.key_name,
            **fields,
        )
        return Envelope(data=views.run_detail(store.payloads, run, nodes, workflow))

    route = f"runs/{run_id}/rerun"
    return idempotency.respond_once(request, who.org_id, route, idempotency_key, body, act)
