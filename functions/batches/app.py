"""BatchQueue -> runs: fans a batch out into chunks, and starts each chunk's runs once."""

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from stepwise.components import batches
from stepwise.core.observability import log_metrics, logger, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def apply(record: SQSRecord) -> None:
    message = record.json_body
    logger.append_keys(batch_id=message.get("batch_id"), chunk=message.get("chunk"))
    batches().process(message)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict, context: object) -> dict:
    return process_partial_response(
        event=event, record_handler=apply, processor=processor, context=context
    )
