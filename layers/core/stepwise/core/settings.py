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


class ApiSettings(CoreSettings):
    run_state_machine_arn: str = Field(alias="RUN_STATE_MACHINE_ARN")
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
    run_state_machine_arn: str = Field(alias="RUN_STATE_MACHINE_ARN")


class BatchSettings(CoreSettings):
    """Where batches are queued (the API) and what starts their runs (the batches function)."""

    batch_queue_url: str = Field(alias="BATCH_QUEUE_URL")
    run_state_machine_arn: str = Field(alias="RUN_STATE_MACHINE_ARN")


class EngineSettings(CoreSettings):
    node_state_machine_arn: str = Field(alias="NODE_STATE_MACHINE_ARN")
    items_state_machine_arn: str = Field(alias="ITEMS_STATE_MACHINE_ARN")
    run_state_machine_arn: str = Field(alias="RUN_STATE_MACHINE_ARN")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    node_start_rate: float = Field(
        alias="NODE_START_RATE", gt=0, description="Node executions one process starts a second."
    )


class DispatcherSettings(CoreSettings):
    secrets_prefix: str = Field(alias="SECRETS_PREFIX")
    allow_loopback_destinations: bool = Field(alias="ALLOW_LOOPBACK_DESTINATIONS")
    signal_secret_arn: str = Field(alias="SIGNAL_SECRET_ARN")
    public_api_url: str = Field(alias="PUBLIC_API_URL", description="Base of signal URLs.")


@cache
def dispatcher_settings() -> DispatcherSettings:
    return DispatcherSettings.model_validate(os.environ)


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


def clear() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    for reader in (
        core_settings,
        api_settings,
        engine_settings,
        dispatcher_settings,
        schedule_settings,
        trigger_settings,
        batch_settings,
    ):
        reader.cache_clear()
