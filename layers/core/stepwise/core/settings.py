"""Configuration read once from the environment that template.yaml gives each function."""

import os
from functools import cache

from pydantic import BaseModel, Field


class CoreSettings(BaseModel):
    """What every function needs."""

    table_name: str = Field(alias="TABLE_NAME")
    payload_bucket: str = Field(alias="PAYLOAD_BUCKET")
    stage: str = Field(alias="STAGE")
    run_retention_days: int = Field(alias="RUN_RETENTION_DAYS", ge=1)


# The hard maxima: what the engine's design holds to whatever an operator sets (a Step Functions
# history within 25,000 events, a rendered text far under the 256 KB state and 400 KB item limits).
MAX_FOR_EACH_ITEMS = 10_000
MAX_RENDERED_BYTES = 256 * 1024
MAX_NODES_PER_WORKFLOW = 500


class Quotas(BaseModel):
    """Limits an operator sets per stack (template parameters ``Quota*``), the same for every org.

    Each default is one a single well-behaved run stays under; going over is a 4xx naming the
    quota at the API, or a node failure of type ``QuotaExceeded`` naming it in the engine. Read
    with defaults, so a process without the variables (a unit test) gets the defaults.
    """

    open_runs_per_org: int = Field(10_000, alias="QUOTA_OPEN_RUNS_PER_ORG", ge=1)
    descendants_per_run: int = Field(1_000, alias="QUOTA_DESCENDANTS_PER_RUN", ge=0)
    nodes_per_workflow: int = Field(
        MAX_NODES_PER_WORKFLOW, alias="QUOTA_NODES_PER_WORKFLOW", ge=1, le=MAX_NODES_PER_WORKFLOW
    )
    for_each_items: int = Field(
        MAX_FOR_EACH_ITEMS, alias="QUOTA_FOR_EACH_ITEMS", ge=1, le=MAX_FOR_EACH_ITEMS
    )
    run_input_bytes: int = Field(1024 * 1024, alias="QUOTA_RUN_INPUT_BYTES", ge=1024)
    node_output_bytes: int = Field(1024 * 1024, alias="QUOTA_NODE_OUTPUT_BYTES", ge=1024)
    expression_length: int = Field(2_000, alias="QUOTA_EXPRESSION_LENGTH", ge=16, le=2_000)
    template_length: int = Field(20_000, alias="QUOTA_TEMPLATE_LENGTH", ge=16, le=100_000)
    rendered_bytes: int = Field(
        MAX_RENDERED_BYTES, alias="QUOTA_RENDERED_BYTES", ge=1024, le=MAX_RENDERED_BYTES
    )


# The template parameter of each quota (docs and errors name the parameter an operator sets).
QUOTA_PARAMETERS = {
    "open_runs_per_org": "QuotaOpenRunsPerOrg",
    "descendants_per_run": "QuotaDescendantsPerRun",
    "nodes_per_workflow": "QuotaNodesPerWorkflow",
    "for_each_items": "QuotaForEachItems",
    "run_input_bytes": "QuotaRunInputBytes",
    "node_output_bytes": "QuotaNodeOutputBytes",
    "expression_length": "QuotaExpressionLength",
    "template_length": "QuotaTemplateLength",
    "rendered_bytes": "QuotaRenderedBytes",
}


class ApiSettings(CoreSettings):
    run_queue_url: str = Field(alias="RUN_QUEUE_URL")
    cursor_secret_arn: str = Field(alias="CURSOR_SECRET_ARN")
    secrets_prefix: str = Field(alias="SECRETS_PREFIX")
    allow_loopback_destinations: bool = Field(alias="ALLOW_LOOPBACK_DESTINATIONS")
    signal_secret_arn: str = Field(alias="SIGNAL_SECRET_ARN")
    signal_queue_url: str = Field(alias="SIGNAL_QUEUE_URL")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")


class ScheduleSettings(CoreSettings):
    """Where schedules live (the API writes them) and what they invoke."""

    schedule_group_name: str = Field(alias="SCHEDULE_GROUP_NAME")
    trigger_function_arn: str = Field(alias="TRIGGER_FUNCTION_ARN")
    scheduler_role_arn: str = Field(alias="SCHEDULER_ROLE_ARN")
    dead_letter_queue_arn: str = Field(alias="SCHEDULE_DLQ_ARN")


class TriggerSettings(CoreSettings):
    run_queue_url: str = Field(alias="RUN_QUEUE_URL")


class BatchSettings(CoreSettings):
    """Where batches are queued (the API) and what starts their runs (the batches function)."""

    batch_queue_url: str = Field(alias="BATCH_QUEUE_URL")
    run_queue_url: str = Field(alias="RUN_QUEUE_URL")


class EngineSettings(CoreSettings):
    node_state_machine_arn: str = Field(alias="NODE_STATE_MACHINE_ARN")
    node_express_state_machine_arn: str = Field(alias="NODE_EXPRESS_STATE_MACHINE_ARN")
    items_state_machine_arn: str = Field(alias="ITEMS_STATE_MACHINE_ARN")
    items_express_state_machine_arn: str = Field(alias="ITEMS_EXPRESS_STATE_MACHINE_ARN")
    run_queue_url: str = Field(alias="RUN_QUEUE_URL")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    node_start_rate: float = Field(
        alias="NODE_START_RATE", gt=0, description="Node executions one process starts a second."
    )


class BulkSettings(CoreSettings):
    """Where bulk jobs and releases of resumed runs are queued (the API and the bulk function)."""

    bulk_queue_url: str = Field(alias="BULK_QUEUE_URL")


class DispatcherSettings(CoreSettings):
    secrets_prefix: str = Field(alias="SECRETS_PREFIX")
    allow_loopback_destinations: bool = Field(alias="ALLOW_LOOPBACK_DESTINATIONS")
    signal_secret_arn: str = Field(alias="SIGNAL_SECRET_ARN")
    public_api_url: str = Field(alias="PUBLIC_API_URL", description="Base of signal URLs.")


@cache
def dispatcher_settings() -> DispatcherSettings:
    return DispatcherSettings.model_validate(os.environ)


@cache
def quotas() -> Quotas:
    return Quotas.model_validate(os.environ)


@cache
def core_settings() -> CoreSettings:
    return CoreSettings.model_validate(os.environ)


@cache
def api_settings() -> ApiSettings:
    return ApiSettings.model_validate(os.environ)


@cache
def engine_settings() -> EngineSettings:
    return EngineSettings.model_validate(os.environ)


@cache
def schedule_settings() -> ScheduleSettings:
    return ScheduleSettings.model_validate(os.environ)


@cache
def trigger_settings() -> TriggerSettings:
    return TriggerSettings.model_validate(os.environ)


@cache
def batch_settings() -> BatchSettings:
    return BatchSettings.model_validate(os.environ)


@cache
def bulk_settings() -> BulkSettings:
    return BulkSettings.model_validate(os.environ)


def clear() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    for reader in (
        quotas,
        core_settings,
        api_settings,
        engine_settings,
        dispatcher_settings,
        schedule_settings,
        trigger_settings,
        batch_settings,
        bulk_settings,
    ):
        reader.cache_clear()
