"""The whole of Stepwise in one process: moto resources from template.yaml, executing state
machines, in-process handlers, and the API served by uvicorn."""

import contextlib
import json
import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn
from moto import mock_aws

from stepwise import components
from stepwise.access.api_keys import Scope
from stepwise.api import dependencies, rate_limits
from stepwise.api.app import create_app
from stepwise.core import settings
from stepwise.core.observability import logger
from stepwise.infra import aws, vault
from stepwise_local import (
    asl_cache,
    atomicity,
    call_log,
    execution_names,
    express,
    faults,
    lambdas,
    limits,
    stops,
    transactions,
    wakeups,
)
from stepwise_local.events import DEFAULT_KEY
from stepwise_local.lifecycle_events import LifecycleEventLog
from stepwise_local.provision import ProvisionedStack, local_client, provision
from stepwise_local.queues import QueuePoller
from stepwise_local.reset import reset as reset_resources
from stepwise_local.scheduler import Fired, LocalScheduler
from stepwise_local.template import REGION

DEFAULT_ORG = "acme"
DEFAULT_API_KEY = DEFAULT_KEY  # a documented, local-only key

# What the local process sets besides the template's environment: fake credentials (moto
# accepts any), tracing off (no X-Ray daemon here).
_LOCAL_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}


def reset_process_caches() -> None:
    """Forget every client, setting and secret cached in this process."""
    settings.clear()
    aws.clear()
    components.clear()
    dependencies.clear_caches()
    rate_limits.clear()
    vault.clear_cache()


class LocalStack:
    def __init__(
        self,
        org_id: str = DEFAULT_ORG,
        api_key: str = DEFAULT_API_KEY,
        execute_state_machines: bool = True,
        parameters: dict[str, Any] | None = None,
        tick_seconds: float = 1.0,
        faults_spec: str | None = None,
    ):
        """``tick_seconds``: how often an executing stack fires due schedules and collects
        lifecycle events (tests of a stack that does not execute call ``tick`` themselves).
        ``faults_spec``: the faults to inject (``stepwise_local.faults``), by default
        ``STEPWISE_FAULTS``'s; a bad value raises FaultsError at once."""
        self.org_id = org_id
        self.api_key = api_key
        self.execute = execute_state_machines
        # Local receivers run on 127.0.0.1, so the local stack allows loopback destinations.
        self.parameters = {"AllowLoopbackDestinations": "true", **(parameters or {})}
        self.stack: ProvisionedStack | None = None
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._started_env: dict[str, str | None] = {}
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self._pollers: list[QueuePoller] = []
        self.tick_seconds = tick_seconds
        self.scheduler: LocalScheduler | None = None
        self.lifecycle: LifecycleEventLog | None = None
        self._ticker: threading.Thread | None = None
        self._stopping = threading.Event()
        self.scheduler_paused = False
        spec = os.environ.get(faults.ENVIRONMENT_VARIABLE) if faults_spec is None else faults_spec
        self.fault_spec = faults.parse(spec)
        self.faults: faults.FaultInjector | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> "LocalStack":
        # moto logs every failed execution at ERROR with the whole state: the engine records
        # failures itself, so keep the local output readable.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._set_env(_LOCAL_ENV)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": self.execute}})
        self._mock.start()
        atomicity.install()
        transactions.install()
        express.install()  # wrapped by execution_names: the caller's name is checked
        execution_names.install()
        stops.install()
        limits.install()
        asl_cache.install()
        wakeups.install()
        self.faults = faults.install(self.fault_spec)
        self.stack = provision(parameters=self.parameters)
        self._set_env(self.stack.environment)
        self._started_env = {key: os.environ.get(key) for key in self._saved_env}
        lambdas.register(self.stack.functions)
        call_log.register(self.stack.principals)
        self._begin()
        if self.execute:
            self._stopping.clear()
            self._ticker = threading.Thread(target=self._tick_forever, daemon=True)
            self._ticker.start()
            self._pollers = [
                QueuePoller(q.queue_url, q.queue_arn, f.name, q.batch_size)
                for f in self.stack.functions.values()
                for q in f.queues
            ]
            for poller in self._pollers:
                poller.start()
        return self

    def _begin(self) -> None:
        """What the process holds besides the resources, as every (re)start begins with it."""
        assert self.stack is not None, "start the stack first"
        # The shared logger was built at import time, before the template's level was known.
        logger.setLevel(self.stack.environment.get("POWERTOOLS_LOG_LEVEL", "INFO"))
        reset_process_caches()
        self.add_api_key(self.org_id, self.api_key)
        self.scheduler = LocalScheduler(self.stack.functions, os.environ["SCHEDULE_GROUP_NAME"])
        self.scheduler_paused = False
        events_file = os.environ.get("STEPWISE_EVENTS_FILE")
        self.lifecycle = LifecycleEventLog(
            os.environ["EVENT_BUS_NAME"], Path(events_file) if events_file else None
        )

    def reset(self) -> "LocalStack":
        """The state ``start`` left, much faster than stopping and starting again: resources
        emptied or made again (``stepwise_local.reset``), every variable the stack set back to
        its value then, caches forgotten, the API key stored, a new local scheduler and lifecycle
        event log. For a stack whose state machines do not execute (nothing runs meanwhile)."""
        assert self.stack is not None, "start the stack first"
        assert not self.execute, "only a stack whose state machines do not execute resets"
        self.stop_server()
        reset_resources(self.stack)
        for key, before in self._saved_env.items():
            value = self._started_env.get(key, before)
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._begin()
        return self

    def stop(self) -> None:
        self.stop_server()
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join(timeout=30)
            self._ticker = None
        for poller in self._pollers:
            poller.stop()
        self._pollers = []
        if self._mock is not None:
            self.stop_executions()
            lambdas.unregister()
            atomicity.uninstall()
            transactions.uninstall()
            execution_names.uninstall()
            express.uninstall()
            stops.uninstall()
            limits.uninstall()
            asl_cache.uninstall()
            wakeups.uninstall()
            faults.uninstall()
            self._mock.stop()
            self._mock = None
        reset_process_caches()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tick_forever(self) -> None:
        """Fires due schedules and collects lifecycle events until the stack stops."""
        while not self._stopping.wait(self.tick_seconds):
            try:
                if not self.scheduler_paused:
                    self.tick()
                assert self.lifecycle is not None
                self.lifecycle.collect()
            except Exception:  # noqa: BLE001 the ticker outlives one bad tick, and says so
                logger.exception("local scheduler tick failed")

    @contextlib.contextmanager
    def scheduler_paused_for_test(self):
        """The stack's own ticker fires nothing meanwhile (a tick under way is waited for), so
        only ``tick(now)`` does: an injected clock."""
        assert self.scheduler is not None, "start the stack first"
        self.scheduler_paused = True
        try:
            with self.scheduler.idle():
                pass
            yield self
        finally:
            self.scheduler_paused = False

    def tick(self, now: datetime | None = None) -> list[Fired]:
        """Fires every schedule and rule due up to ``now`` (default: the real clock)."""
        assert self.scheduler is not None, "start the stack first"
        return self.scheduler.tick(now)

    def lifecycle_events(self) -> list[dict[str, Any]]:
        """Every lifecycle event the stack's bus carried so far, oldest first."""
        assert self.lifecycle is not None, "start the stack first"
        return self.lifecycle.events()

    @contextlib.contextmanager
    def injecting_faults(self, spec: str):
        """Injects the faults ``spec`` names (as in STEPWISE_FAULTS) for a while (a test); the
        counts ``/local/faults`` serves meanwhile are theirs."""
        before = self.faults
        with faults.injecting(faults.parse(spec)) as injector:
            self.faults = injector
            try:
                yield injector
            finally:
                self.faults = before

    def fault_counts(self) -> dict[str, Any]:
        """What ``STEPWISE_FAULTS`` injected so far, per kind and per operation."""
        assert self.faults is not None, "start the stack first"
        return self.faults.counts()

    # -- the API --------------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 3000, log_level: str = "info") -> None:
        """Serves the API in this thread until interrupted (Ctrl-C)."""
        self._public_url(f"http://{host}:{port}")
        uvicorn.Server(self._server_config(host, port, log_level)).run()

    def serve_in_background(
        self, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
    ) -> str:
        """Serves the API from a thread; returns its base URL once it accepts connections."""
        self._server = uvicorn.Server(self._server_config(host, port, log_level))
        self._server_thread = threading.Thread(target=self._server.run, daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._server_thread.is_alive():
                raise RuntimeError("the local API did not start")
            time.sleep(0.02)
        bound = self._server.servers[0].sockets[0].getsockname()
        url = f"http://{bound[0]}:{bound[1]}"
        self._public_url(url)
        return url

    def _public_url(self, url: str) -> None:
        """Signal URLs point at the served API (the template's default is the execute-api URL)."""
        self._set_env({"PUBLIC_API_URL": url})
        settings.clear()
        components.dispatcher.cache_clear()

    def stop_server(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=10)
            self._server = None
            self._server_thread = None

    def _server_config(self, host: str, port: int, log_level: str) -> uvicorn.Config:
        app = create_app()
        # Local only: what a rule on the bus would have received (not part of the product API).
        app.add_api_route(
            "/local/lifecycle-events",
            lambda: {"data": self.lifecycle_events()},
            methods=["GET"],
            include_in_schema=False,
        )
        app.add_api_route(
            "/local/faults",
            lambda: {"data": self.fault_counts()},
            methods=["GET"],
            include_in_schema=False,
        )
        served = call_log.ActingAs(app, "ApiFunction")  # its AWS calls are the API role's
        return uvicorn.Config(served, host=host, port=port, log_level=log_level, lifespan="off")

    # -- operations -----------------------------------------------------------------------------

    def add_api_key(self, org_id: str, api_key: str, name: str = "local") -> None:
        components.api_keys().store(api_key, org_id, name, [Scope.ADMIN], created_by="local")

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Calls a function of the template by logical id, in-process, as Lambda would."""
        assert self.stack is not None, "start the stack first"
        [name] = [f.name for f in self.stack.functions.values() if f.logical_id == logical_id]
        return lambdas.invoke(name, event)

    def drain(self, logical_id: str) -> int:
        """Feeds everything waiting on a function's SQS queues to it, once (tests that drive the
        stack step by step); the number of messages it took."""
        assert self.stack is not None, "start the stack first"
        [function] = [f for f in self.stack.functions.values() if f.logical_id == logical_id]
        taken = 0
        for source in function.queues:
            poller = QueuePoller(
                source.queue_url, source.queue_arn, function.name, source.batch_size
            )
            while count := poller.poll_once():
                taken += count
        return taken

    def executions(self, logical_id: str) -> list[dict[str, Any]]:
        """Every execution of one of the template's state machines."""
        assert self.stack is not None, "start the stack first"
        pages = (
            local_client("stepfunctions")
            .get_paginator("list_executions")
            .paginate(stateMachineArn=self.stack.names[logical_id])
        )
        return [execution for page in pages for execution in page["executions"]]

    def node_executions(self) -> list[dict[str, Any]]:
        """Every node execution, Standard and Express, each under the name its starter gave
        (tests and benches only: AWS lists no Express execution)."""
        found = []
        for machine in ("NodeStateMachine", "NodeExpressStateMachine"):
            for execution in self.executions(machine):
                name = express.given_name(execution["name"])
                found.append({**execution, "name": name, "machine": machine})
        return found

    def execution_history(self, logical_id: str, name: str) -> str:
        """The raw event history (JSON text) of one execution, for asserting what it carried."""
        assert self.stack is not None, "start the stack first"
        arn = self.stack.names[logical_id].replace(":stateMachine:", ":execution:") + f":{name}"
        events = local_client("stepfunctions").get_execution_history(executionArn=arn)["events"]
        return json.dumps(events, default=str)

    def running_executions(self) -> list[str]:
        sfn = local_client("stepfunctions")
        running: list[str] = []
        for machine in sfn.list_state_machines()["stateMachines"]:
            pages = sfn.get_paginator("list_executions").paginate(
                stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
            )
            running.extend(e["executionArn"] for page in pages for e in page["executions"])
        return running

    def wait_idle(self, timeout: float = 60) -> bool:
        """Waits until no execution is running; False if some still run after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.running_executions():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def stop_executions(self) -> None:
        sfn = local_client("stepfunctions")
        for arn in self.running_executions():
            with contextlib.suppress(sfn.exceptions.ExecutionDoesNotExist):
                sfn.stop_execution(executionArn=arn, cause="local stack stopping")
        self.wait_idle(timeout=5)

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
