"""What a node attempt does, by kind. Pure: the engine records the outcome."""

from typing import Any

from stepwise.core.statuses import NodeKind
from stepwise.engine.expressions import TemplateError, render
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


def execute(spec: NodeSpec, context: dict[str, Any]) -> Any:
    """The attempt's output, or NodeFailure."""
    if spec.kind in (NodeKind.TRANSFORM, NodeKind.WAIT):
        # A wait node's delay has passed by now (the state machine waited); its output, like a
        # transform's, is its args rendered.
        try:
            return render(spec.args, context)
        except TemplateError as exc:
            # The same expression on the same context fails the same way: no point retrying.
            raise NodeFailure("ExpressionError", str(exc), retryable=False) from None
    raise NodeFailure("UnsupportedKind", f"node kind {spec.kind!r} is not executable", False)
