"""The operator's quotas on a workflow's shape (``core.settings.Quotas``), checked when it is
saved, before any expression is compiled: how many nodes, how long one expression, how long one
templated string. Each error names its quota."""

from collections.abc import Iterator, Sequence
from typing import Any

from stepwise.core import settings
from stepwise.core.errors import field_error
from stepwise.engine.expressions import placeholder_expressions
from stepwise.workflows.models import NodeSpec

Loc = list[str | int]
QUOTA_ERROR = "quota_exceeded"


def quota_errors(nodes: Sequence[NodeSpec], returns: Any = None) -> list[dict[str, Any]]:
    """Every quota the workflow goes over, each located at the offending field."""
    quotas = settings.quotas()
    if len(nodes) > quotas.nodes_per_workflow:
        message = _message(
            "nodes_per_workflow", quotas.nodes_per_workflow, f"the workflow has {len(nodes)} nodes"
        )
        return [field_error(["body", "nodes"], message, QUOTA_ERROR)]
    errors: list[dict[str, Any]] = []
    for index, node in enumerate(nodes):
        loc: Loc = ["body", "nodes", index]
        errors += _template_errors(node.args, [*loc, "args"])
        for field, value in (
            (["run_if"], node.run_if),
            (["for_each"], node.for_each),
            (["wait_until"], node.wait_until),
            (["retry", "retry_until"], node.retry.retry_until),
        ):
            errors += _template_errors(value, [*loc, *field])
    errors += _template_errors(returns, ["body", "returns"])
    return errors


def _template_errors(template: Any, loc: Loc) -> list[dict[str, Any]]:
    quotas = settings.quotas()
    errors = []
    for where, text in _strings(template, loc):
        if "{{" not in text:
            continue  # plain text: bounded by the request, not a template
        if len(text) > quotas.template_length:
            detail = f"this templated string has {len(text)} characters"
            message = _message("template_length", quotas.template_length, detail)
            errors.append(field_error(where, message, QUOTA_ERROR))
            continue  # not scanned further: its expressions need not be measured
        for expression in placeholder_expressions(text):
            if len(expression) > quotas.expression_length:
                detail = f"an expression has {len(expression)} characters"
                message = _message("expression_length", quotas.expression_length, detail)
                errors.append(field_error(where, message, QUOTA_ERROR))
                break
    return errors


def _strings(template: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(template, str):
        yield loc, template
    elif isinstance(template, list):
        for index, item in enumerate(template):
            yield from _strings(item, [*loc, index])
    elif isinstance(template, dict):
        for key, value in template.items():
            yield from _strings(value, [*loc, key])


def _message(quota: str, limit: int, detail: str) -> str:
    parameter = settings.QUOTA_PARAMETERS[quota]
    return f"quota {quota} ({parameter} = {limit}) exceeded: {detail}"
