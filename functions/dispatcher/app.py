"""WebhookQueue -> destinations: one signed POST per action attempt (partial batch failures);
and the same delivery called synchronously (``mode: now``) by an Express execution started
before the engine's attempt step delivered itself (kept for one release)."""

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from stepwise.actions.dispatcher import parse_message
from stepwise.components import dispatcher
from stepwise.core.observability import log_metrics, logger, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def deliver(record: SQSRecord) -> None:
    dispatcher().deliver(parse_message(record.body))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict, context: object) -> dict:
    if event.get("mode") == "now":
        return dispatcher().deliver_now(event)
    return process_partial_response(
        event=event, record_handler=deliver, processor=processor, context=context
    )
