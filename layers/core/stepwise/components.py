"""The long-lived objects of a function, built once per process from its settings."""

from functools import cache

from stepwise import settings
from stepwise.engine import Engine
from stepwise.payloads import PayloadStore
from stepwise.store import Store


@cache
def store() -> Store:
    core = settings.core_settings()
    return Store(core.table_name, PayloadStore(core.payload_bucket), core.run_retention_days)


@cache
def engine() -> Engine:
    engine_settings = settings.engine_settings()
    return Engine(
        store(), engine_settings.node_state_machine_arn, engine_settings.run_state_machine_arn
    )


def clear() -> None:
    """Forget the built objects (tests and the local stack change the environment)."""
    store.cache_clear()
    engine.cache_clear()
