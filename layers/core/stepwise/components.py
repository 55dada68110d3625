"""The long-lived objects of a function, built once per process from its settings.

Each builder imports what it builds, so a function (or an API route) loads only the services
it uses: the API does not load the engine or the dispatcher, and a request that reads runs
does not load the action catalog.
"""

from functools import cache
from typing import TYPE_CHECKING

from stepwise.core import settings

if TYPE_CHECKING:
    from stepwise.access.api_keys import ApiKeys
    from stepwise.actions.catalog import Catalog
    from stepwise.actions.definitions import ActionDefinitions
    from stepwise.actions.dispatcher import Dispatcher
    from stepwise.actions.records import ActionRecords
    from stepwise.actions.signals import Signals
    from stepwise.actions.webhooks.signal_tokens import SignalTokens
    from stepwise.batches.service import Batches
    from stepwise.bulk.service import Bulk
    from stepwise.engine.engine import Engine
    from stepwise.engine.held_nodes import HeldNodes
    from stepwise.ops.janitor import Janitor
    from stepwise.runs.external import ExternalRuns
    from stepwise.runs.logs import RunLogs
    from stepwise.runs.node_events import NodeEvents
    from stepwise.schedules.firing import ScheduledRuns
    from stepwise.schedules.service import Schedules
    from stepwise.store import Store


@cache
def api_keys() -> "ApiKeys":
    from stepwise.access.api_keys import ApiKeys

    return ApiKeys(settings.core_settings().table_name)


@cache
def external_runs() -> "ExternalRuns":
    from stepwise.runs.external import ExternalRuns

    return ExternalRuns(store(), settings.api_settings().event_bus_name)


@cache
def run_logs() -> "RunLogs":
    from stepwise.runs.logs import RunLogs

    core = settings.core_settings()
    return RunLogs(core.table_name, core.run_retention_days)


@cache
def node_events() -> "NodeEvents":
    from stepwise.runs.node_events import NodeEvents

    return NodeEvents(store().table, store().payloads)


@cache
def store() -> "Store":
    from stepwise.infra.payloads import PayloadStore
    from stepwise.store import Store

    core = settings.core_settings()
    return Store.build(core.table_name, PayloadStore(core.payload_bucket), core.run_retention_days)


@cache
def catalog() -> "Catalog":
    from stepwise.actions.catalog import Catalog
    from stepwise.infra.vault import Vault

    api = settings.api_settings()
    return Catalog(api.table_name, Vault(api.secrets_prefix), api.allow_loopback_destinations)


@cache
def action_definitions() -> "ActionDefinitions":
    from stepwise.actions.definitions import ActionDefinitions

    return ActionDefinitions(settings.core_settings().table_name)


@cache
def action_records() -> "ActionRecords":
    from stepwise.actions.records import ActionRecords

    return ActionRecords(store(), action_definitions())


@cache
def engine() -> "Engine":
    from stepwise.engine.engine import Engine

    engine_settings = settings.engine_settings()
    return Engine(
        store(),
        engine_settings.node_state_machine_arn,
        engine_settings.run_queue_url,
        action_definitions(),
        logs=run_logs(),
        event_bus_name=engine_settings.event_bus_name,
        node_start_rate=engine_settings.node_start_rate,
        items_state_machine_arn=engine_settings.items_state_machine_arn,
        items_express_state_machine_arn=engine_settings.items_express_state_machine_arn,
        node_express_state_machine_arn=engine_settings.node_express_state_machine_arn,
        # An Express execution's action attempt is delivered within its engine step.
        deliverer=dispatcher,
    )


@cache
def dispatcher() -> "Dispatcher":
    from stepwise.actions.catalog import Catalog
    from stepwise.actions.dispatcher import Dispatcher
    from stepwise.infra.vault import SECRET_CACHE_SECONDS, Vault

    config = settings.dispatcher_settings()
    # Secrets are read on every delivery: kept for SECRET_CACHE_SECONDS (rotation and
    # deletion still act at once: actions/catalog.py, dispatcher.py).
    vault = Vault(config.secrets_prefix, cache_seconds=SECRET_CACHE_SECONDS)
    catalog = Catalog(config.table_name, vault, config.allow_loopback_destinations)
    return Dispatcher(
        store(),
        catalog,
        action_definitions(),
        config.allow_loopback_destinations,
        lambda: signal_tokens(config.signal_secret_arn),
        config.public_api_url,
    )


@cache
def signal_tokens(secret_arn: str) -> "SignalTokens":
    from stepwise.actions.webhooks.signal_tokens import SignalTokens
    from stepwise.infra.hmac_keys import hmac_key

    return SignalTokens(hmac_key(secret_arn))


@cache
def signals() -> "Signals":
    from stepwise.actions.signals import Signals

    return Signals(store(), settings.api_settings().signal_queue_url)


@cache
def schedules() -> "Schedules":
    from stepwise.schedules.service import SchedulerTarget, Schedules

    config = settings.schedule_settings()
    target = SchedulerTarget(
        config.schedule_group_name,
        config.trigger_function_arn,
        config.scheduler_role_arn,
        config.dead_letter_queue_arn,
    )
    return Schedules(config.table_name, store(), target)


@cache
def scheduled_runs() -> "ScheduledRuns":
    from stepwise.schedules.firing import ScheduledRuns
    from stepwise.schedules.service import Schedules

    config = settings.trigger_settings()
    return ScheduledRuns(store(), Schedules(config.table_name, store(), None), config.run_queue_url)


@cache
def janitor() -> "Janitor":
    from stepwise.ops.janitor import Janitor

    return Janitor(store(), engine())


@cache
def batches() -> "Batches":
    from stepwise.batches.service import Batches

    config = settings.batch_settings()
    return Batches(store(), config.batch_queue_url, config.run_queue_url)


@cache
def bulk() -> "Bulk":
    """The API's side of bulk jobs: create, read, queue a resumed run's release."""
    from stepwise.bulk.service import Bulk

    return Bulk(store(), settings.bulk_settings().bulk_queue_url)


@cache
def held_nodes() -> "HeldNodes":
    from stepwise.engine.held_nodes import HeldNodes

    built = engine()
    return HeldNodes(built.advance, built.for_each)


@cache
def bulk_worker() -> "Bulk":
    """The bulk function's side: pages of jobs through the action table, and releases."""
    from stepwise.bulk.actions import BulkActions
    from stepwise.bulk.service import Bulk

    actions = BulkActions(store(), held_nodes().release)
    return Bulk(store(), settings.bulk_settings().bulk_queue_url, actions)


def clear() -> None:
    """Forget the built objects (tests and the local stack change the environment)."""
    store.cache_clear()
    api_keys.cache_clear()
    run_logs.cache_clear()
    node_events.cache_clear()
    external_runs.cache_clear()
    engine.cache_clear()
    catalog.cache_clear()
    action_definitions.cache_clear()
    dispatcher.cache_clear()
    action_records.cache_clear()
    signal_tokens.cache_clear()
    signals.cache_clear()
    schedules.cache_clear()
    scheduled_runs.cache_clear()
    janitor.cache_clear()
    batches.cache_clear()
    bulk.cache_clear()
    held_nodes.cache_clear()
    bulk_worker.cache_clear()
