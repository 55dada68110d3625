"""BulkQueue -> runs: one page of a bulk job at a time, or the release of a resumed run."""

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from stepwise.components import bulk_worker
from stepwise.core.observability import log_metrics, logger, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def apply(record: SQSRecord) -> None:
    message = record.json_body
    logger.append_keys(
        job_id=message.get("job_id"), page=message.get("page"), run_id=message.get("run_id")
    )
    receives = int(record.attributes.approximate_receive_count or 1)
    bulk_worker().process(message, receives)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict, context: object) -> dict:
    return process_partial_response(
        event=event, record_handler=apply, processor=processor, context=context
    )
