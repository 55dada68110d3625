"""Every task step of RunStateMachine and NodeStateMachine (dispatched on ``step``)."""

from stepwise.components import engine
from stepwise.core.observability import log_metrics, logger, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict, context: object) -> dict:
    return engine().handle(event)
