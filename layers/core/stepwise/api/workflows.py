"""Workflow definitions: create and read."""

from fastapi import APIRouter, status

from stepwise import graph
from stepwise.api.dependencies import Org, StoreDep
from stepwise.errors import ValidationFailed
from stepwise.ids import new_id
from stepwise.models import Envelope, Workflow, WorkflowCreate

router = APIRouter(prefix="/v1/orgs/{org_id}/workflows", tags=["workflows"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Envelope[Workflow])
def create_workflow(org_id: Org, body: WorkflowCreate, store: StoreDep) -> Envelope[Workflow]:
    errors = graph.validation_errors(body.nodes, body.returns)
    if errors:
        raise ValidationFailed(errors)
    workflow = store.create_workflow(org_id, new_id("wf"), body)
    return Envelope(data=workflow)


@router.get("/{workflow_id}", response_model=Envelope[Workflow])
def get_workflow(org_id: Org, workflow_id: str, store: StoreDep) -> Envelope[Workflow]:
    return Envelope(data=store.get_workflow(org_id, workflow_id))
