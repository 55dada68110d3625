"""EventBridge rate rule -> settles orphaned and overdue runs, a bounded slice per invocation."""

from dataclasses import asdict
from datetime import UTC, datetime

from stepwise.components import janitor
from stepwise.core.observability import log_metrics, logger, tracer


def sweep_time(event: dict) -> datetime | None:
    """The rule's firing time (a retried invocation judges by it, erring towards waiting)."""
    stamp = event.get("time")
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC) if stamp else None


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict, context: object) -> dict:
    report = janitor().sweep(sweep_time(event))
    logger.info("janitor sweep", extra={"report": asdict(report)})
    return asdict(report)
