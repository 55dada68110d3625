"""EventBridge Scheduler -> a scheduled run (role ``schedule``), once per scheduled time."""

from stepwise.components import scheduled_runs
from stepwise.core.observability import log_metrics, logger, tracer
from stepwise.schedules.firing import Firing


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@log_metrics
def handler(event: dict, context: object) -> dict:
    firing = Firing.from_event(event)
    logger.append_keys(org_id=firing.org_id, schedule_id=firing.schedule_id)
    return scheduled_runs().fire(firing)
