"""What a node attempt does, by kind. Pure: the engine records the outcome."""

from typing import Any

from stepwise.core import settings
from stepwise.core.errors import QuotaExceeded
from stepwise.core.statuses import NodeKind
from stepwise.engine.expressions import TemplateError, render
from stepwise.infra.payloads import dumps
from stepwise.workflows.models import NodeSpec


class NodeFailure(Exception):
    """An attempt that failed; ``retryable`` says whether another attempt could succeed."""

    def __init__(self, type_: str, message: str, retryable: bool = True):
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message
        self.retryable = retryable

    def as_error(self) -> dict[str, str]:
        return {"type": self.type, "message": self.message}


def output_over_quota(output: Any) -> str | None:
    """Why ``output`` is over the quota ``node_output_bytes`` (its compact JSON), or None."""
    limit = settings.quotas().node_output_bytes
    size = len(dumps(output).encode())
    if size <= limit:
        return None
    return str(QuotaExceeded("node_output_bytes", limit, f"the output is {size} bytes of JSON"))


def execute(spec: NodeSpec, context: dict[str, Any]) -> Any:
    """The attempt's output, or NodeFailure."""
    if spec.kind in (NodeKind.TRANSFORM, NodeKind.WAIT):
        # A wait node's delay has passed by now (the state machine waited); its output, like a
        # transform's, is its args rendered.
        try:
            output = render(spec.args, context)
        except TemplateError as exc:
            # The same expression on the same context fails the same way: no point retrying.
            raise NodeFailure("ExpressionError", str(exc), retryable=False) from None
        over = output_over_quota(output)
        if over is not None:  # nor is a retry smaller
            raise NodeFailure("QuotaExceeded", over, retryable=False)
        return output
    raise NodeFailure("UnsupportedKind", f"node kind {spec.kind!r} is not executable", False)
