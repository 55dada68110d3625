"""EventBridge rate rule -> settles orphaned and overdue runs, a bounded slice per invocation."""

from dataclasses import asdict

from stepwise.components import janitor
from stepwise.observability import logger, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict, context: object) -> dict:
    report = janitor().sweep()
    logger.info("janitor sweep", extra={"report": asdict(report)})
    return asdict(report)
