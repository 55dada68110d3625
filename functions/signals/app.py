"""SignalQueue -> Step Functions: resumes (or heartbeats) tasks waiting on signalled attempts,
and settles the attempts that await their callback with no execution (the engine's callbacks)."""

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from stepwise.actions import signals
from stepwise.components import engine, store
from stepwise.core.observability import log_metrics, logger, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def apply(record: SQSRecord) -> None:
    signals.resume(store(), record.json_body, settle=settle)


def settle(org_id: str, run_id: str, ref: str, attempt: int) -> None:
    engine().callbacks.signalled(org_id, run_id, ref, attempt)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict, context: object) -> dict:
    return process_partial_response(
        event=event, record_handler=apply, processor=processor, context=context
    )
