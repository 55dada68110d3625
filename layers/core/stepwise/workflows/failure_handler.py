"""A workflow's ``on_failure`` handler as it is saved: the handler workflow must exist and its
``input`` template must compile (engine/failure_handlers.py starts the handler runs)."""

from typing import Any

from stepwise.core.errors import NotFound, field_error
from stepwise.engine.expressions import find_errors
from stepwise.store import Store
from stepwise.workflows.models import OnFailure

LOC = ("body", "on_failure")


def failure_handler_errors(
    on_failure: OnFailure, store: Store, org_id: str
) -> list[dict[str, Any]]:
    """422 errors naming ``on_failure.workflow_id`` (unknown) or each placeholder of
    ``on_failure.input`` that does not compile."""
    errors = [
        field_error([*LOC, "input", *tail], reason, "expression")
        for tail, reason in find_errors(on_failure.input)
    ]
    try:
        store.workflows.get_workflow(org_id, on_failure.workflow_id)
    except NotFound:
        message = f"unknown workflow {on_failure.workflow_id!r}"
        errors.append(field_error([*LOC, "workflow_id"], message, "unknown_workflow"))
    return errors
