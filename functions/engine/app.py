"""Every task step of NodeStateMachine and ItemsStateMachine (dispatched on ``step``), and
RunQueue's messages (an SQS event: start, deadline, finalize of a run)."""

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from stepwise.components import engine
from stepwise.core.observability import log_metrics, logger, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def run_message(record: SQSRecord) -> None:
    engine().run_message(record.json_body)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict, context: object) -> dict:
    if "Records" in event:  # RunQueue
        return process_partial_response(
            event=event, record_handler=run_message, processor=processor, context=context
        )
    return engine().handle(event)
