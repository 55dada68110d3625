"""Counts what a workload would be billed for, on the local stack.

Every AWS call the process makes goes through botocore's ``_make_api_call``, so the meter counts
calls by service and operation there. DynamoDB request units are computed from item sizes by
DynamoDB's rules (moto's ``ConsumedCapacity`` is a constant): a write costs 1 unit per started
KB of the larger of the item before and after, also for a failed condition, plus, for each global
secondary index of the template that the write changes, a unit per started KB of its entry (two
entries when its keys move); a transaction doubles the table's units, not its indexes'; a read
costs 1 unit per started 4 KB (half when eventually consistent). Lambda invocations are counted
where the local stack runs handlers, and each is billed for what AWS would take to run it
(bench/aws_time.py: the handler's CPU, its AWS calls and destination requests). State transitions
come from execution histories.

Only what Stepwise's own AWS bill would hold is billed. SQS requests are billed for the queues
template.yaml declares; the local stack's own queue (``stepwise_local.lifecycle_events``, a
stand-in for a consumer's rule) is the consumer's bill. A poller's empty receive is not counted
at all (Lambda's long polling makes few). EventBridge bills PutEvents per entry published, each
started 64 KB of an entry one event, as EventBridge sizes it; an entry it refused is not one.
``calls`` keeps every other call as made, billed or not.
"""

import contextlib
import contextvars
import json
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import urllib3
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

from bench.aws_time import Invocation
from stepwise_local import atomicity, lambdas
from stepwise_local.limits import put_events_entry_size
from stepwise_local.provision import resolver_for
from stepwise_local.template import ACCOUNT_ID, REGION, load_template

WRITE_UNIT = 1024
EVENT_CHUNK = 64 * 1024  # EventBridge bills each started 64 KB of an entry as one event
LOCAL_STACK_NAME = "stepwise-local"  # the name LocalStack provisions under unless told
# Set while the bench reads for itself: a context variable, not a thread-local, because the API
# runs its synchronous routes in worker threads that carry the caller's context along.
_PAUSED: contextvars.ContextVar[bool] = contextvars.ContextVar("meter_paused", default=False)
READ_UNIT = 4096
# The invocation the current code runs in: a context variable, so that the worker threads the API
# hands its synchronous routes to (they carry the caller's context along) add to it too.
_INVOCATION: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar(
    "meter_invocation", default=None
)


@dataclass
class Usage:
    calls: Counter = field(default_factory=Counter)  # "service:Operation" -> count, as made
    sqs_requests: int = 0  # billed: to the template's queues
    events: int = 0  # EventBridge custom events as billed: each entry's 64 KB chunks
    write_units: float = 0.0
    read_units: float = 0.0
    units_by_operation: Counter = field(default_factory=Counter)  # "dynamodb:Op" -> units
    lambda_invocations: Counter = field(default_factory=Counter)  # function -> count
    lambda_seconds: Counter = field(default_factory=Counter)  # function -> in-process wall time
    lambda_billed_seconds: Counter = field(default_factory=Counter)  # function -> as on AWS
    lambda_memory_mb: dict[str, int] = field(default_factory=dict)

    def minus(self, other: "Usage") -> "Usage":
        return Usage(
            calls=self.calls - other.calls,
            sqs_requests=self.sqs_requests - other.sqs_requests,
            events=self.events - other.events,
            write_units=self.write_units - other.write_units,
            read_units=self.read_units - other.read_units,
            units_by_operation=Counter(
                {
                    k: v - other.units_by_operation.get(k, 0)
                    for k, v in self.units_by_operation.items()
                }
            ),
            lambda_invocations=self.lambda_invocations - other.lambda_invocations,
            lambda_seconds=_minus(self.lambda_seconds, other.lambda_seconds),
            lambda_billed_seconds=_minus(self.lambda_billed_seconds, other.lambda_billed_seconds),
            lambda_memory_mb=dict(self.lambda_memory_mb),
        )

    def copy(self) -> "Usage":
        return self.minus(Usage())


def _minus(mine: Counter, theirs: Counter) -> Counter:
    return Counter({k: v - theirs.get(k, 0) for k, v in mine.items()})


class Meter:
    def __init__(self, stack_name: str = LOCAL_STACK_NAME):
        """``stack_name``: the local stack's, whose template queues are billed."""
        self.usage = Usage()
        self.queues = template_queues(stack_name)
        self._lock = threading.Lock()
        self._original_call = BaseClient._make_api_call
        self._original_invoke = lambdas.invoke
        self._original_urlopen = urllib3.HTTPConnectionPool.urlopen
        self._original_run_sync = anyio.to_thread.run_sync
        self._gsis = indexes()
        # (function, its event as canonical JSON) -> billed seconds of each such invocation:
        # how the Express executions' Lambda tasks are priced (bench/executions.py).
        self.invocations: dict[tuple[str, str], list[float]] = {}

    @contextlib.contextmanager
    def paused(self):
        """What this context calls meanwhile is not counted: the bench's own reads (waiting for
        a run to end through the API), which no deployment would make. Other threads (the
        executions, the pollers) are counted as ever."""
        token = _PAUSED.set(True)
        try:
            yield
        finally:
            _PAUSED.reset(token)

    def _counting(self) -> bool:
        return not _PAUSED.get()

    def __enter__(self) -> "Meter":
        meter = self

        def metered_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            invocation = _INVOCATION.get()
            if invocation is None or not meter._counting():
                return counted_call(client, operation, params)
            service = client.meta.service_model.service_name
            invocation.calls[f"{service}:{operation}"] += 1
            invocation.in_aws_call += 1
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return counted_call(client, operation, params)
            finally:
                invocation.in_aws_call -= 1
                invocation.aws_wall_seconds += time.perf_counter() - wall
                invocation.aws_cpu_seconds += time.thread_time() - cpu

        def counted_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            if not meter._counting():
                return meter._original_call(client, operation, params)
            if service != "dynamodb":
                response = meter._original_call(client, operation, params)
                meter._count(service, operation, params, response)
                return response
            # Sizes before and after are read under the local stack's DynamoDB lock, so no
            # other request lands between them.
            with atomicity._lock:
                before = _sizes(operation, params)
                try:
                    response = meter._original_call(client, operation, params)
                except ClientError:
                    meter._dynamodb(operation, params, before, None, failed=True)
                    raise
                meter._dynamodb(operation, params, before, response, failed=False)
            return response

        def metered_invoke(name: str, event: Any) -> Any:
            if not meter._counting():
                return meter._original_invoke(name, event)
            outer = _INVOCATION.get()
            invocation = Invocation(name)
            token = _INVOCATION.set(invocation)
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return meter._original_invoke(name, event)
            finally:
                invocation.cpu_seconds += time.thread_time() - cpu
                _INVOCATION.reset(token)
                elapsed = time.perf_counter() - started
                memory = lambdas.memory_mb(name)
                billed = invocation.billed_seconds(memory)
                if outer is not None:  # invoked synchronously from another: it waited
                    outer.nested_seconds += billed
                    outer.nested_cpu_seconds += invocation.cpu_seconds
                with meter._lock:
                    meter.usage.lambda_invocations[name] += 1
                    meter.usage.lambda_seconds[name] += elapsed
                    meter.usage.lambda_billed_seconds[name] += billed
                    meter.usage.lambda_memory_mb[name] = memory
                    meter.invocations.setdefault((name, canonical(event)), []).append(billed)

        def metered_urlopen(pool: Any, *args: Any, **kwargs: Any) -> Any:
            invocation = _INVOCATION.get()
            if invocation is not None and not invocation.in_aws_call:
                invocation.destination_requests += 1
            return meter._original_urlopen(pool, *args, **kwargs)

        async def metered_run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
            invocation = _INVOCATION.get()
            if invocation is None:
                return await meter._original_run_sync(func, *args, **kwargs)

            def timed(*inner: Any) -> Any:
                cpu = time.thread_time()
                try:
                    return func(*inner)
                finally:
                    invocation.cpu_seconds += time.thread_time() - cpu

            return await meter._original_run_sync(timed, *args, **kwargs)

        BaseClient._make_api_call = metered_call
        lambdas.invoke = metered_invoke
        urllib3.HTTPConnectionPool.urlopen = metered_urlopen
        anyio.to_thread.run_sync = metered_run_sync
        return self

    def __exit__(self, *exc: object) -> None:
        BaseClient._make_api_call = self._original_call
        lambdas.invoke = self._original_invoke
        urllib3.HTTPConnectionPool.urlopen = self._original_urlopen
        anyio.to_thread.run_sync = self._original_run_sync

    def billed_seconds(self, name: str, event_json: str) -> float | None:
        """The billed seconds of an invocation of ``name`` with this event (JSON), taken once:
        None when the meter saw no such invocation."""
        with self._lock:
            found = self.invocations.get((name, canonical(json.loads(event_json))))
            return found.pop(0) if found else None

    def snapshot(self) -> Usage:
        with self._lock:
            return self.usage.copy()

    def _count(self, service: str, operation: str, params: dict[str, Any], response: Any) -> None:
        if service == "sqs" and operation == "ReceiveMessage" and not response.get("Messages"):
            return  # the local poller's empty polls; Lambda's long polling makes few of them
        billed_sqs = service == "sqs" and names_a_queue_of(params, self.queues)
        published = (service, operation) == ("events", "PutEvents")
        events = put_events_billed(params, response) if published else 0
        with self._lock:
            self.usage.calls[f"{service}:{operation}"] += 1
            self.usage.sqs_requests += billed_sqs
            self.usage.events += events

    def _dynamodb(
        self,
        operation: str,
        params: dict[str, Any],
        before: list[tuple[dict | None, int]],
        response: Any,
        failed: bool,
    ) -> None:
        writes = reads = 0.0
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            after = _sizes(operation, params)
            writes = _write_units(before[0], after[0], failed, self._gsis)
        elif operation == "TransactWriteItems":
            after = _sizes(operation, params)
            writes = sum(
                _write_units(b, a, failed, self._gsis, transactional=True)
                for b, a in zip(before, after, strict=True)
            )
        elif operation == "BatchWriteItem":
            after = _sizes(operation, params)
            writes = sum(
                _write_units(b, a, failed, self._gsis) for b, a in zip(before, after, strict=True)
            )
        elif operation == "GetItem" and response is not None:
            size = _size_of(response.get("Item"))
            reads = _read_units(size, params.get("ConsistentRead", False))
        elif operation == "Query" and response is not None:
            size = sum(_size_of(item) for item in response.get("Items", []))
            reads = _read_units(size, params.get("ConsistentRead", False))
        elif operation == "BatchGetItem" and response is not None:
            for items in response.get("Responses", {}).values():
                reads += sum(_read_units(_size_of(item), False) for item in items)
        with self._lock:
            self.usage.calls[f"dynamodb:{operation}"] += 1
            self.usage.write_units += writes
            self.usage.read_units += reads
            self.usage.units_by_operation[f"dynamodb:{operation}"] += writes + reads


def template_queues(stack_name: str = LOCAL_STACK_NAME) -> frozenset[str]:
    """The names of the queues template.yaml declares, as the stack named so names them."""
    template = load_template()
    resolver = resolver_for(template, stack_name)
    return frozenset(
        resolver.attrs[f"{logical_id}.QueueName"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue"
    )


def names_a_queue_of(params: dict[str, Any], queues: frozenset[str]) -> bool:
    """Whether an SQS request names one of ``queues`` (by its URL or its name)."""
    url = params.get("QueueUrl") or params.get("QueueName") or ""
    return url.rstrip("/").rsplit("/", 1)[-1] in queues


def put_events_billed(params: dict[str, Any], response: Any) -> int:
    """Custom events as EventBridge bills a PutEvents request: per entry it took (an entry
    answered with an ErrorCode was not published), each started 64 KB of the entry, sized as
    EventBridge sizes it, one event."""
    entries = params.get("Entries") or []
    answers = (response or {}).get("Entries") or [{}] * len(entries)
    return sum(
        max(1, math.ceil(put_events_entry_size(entry) / EVENT_CHUNK))
        for entry, answer in zip(entries, answers, strict=False)
        if not answer.get("ErrorCode")
    )


def canonical(event: Any) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)


def _targets(operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(table, key) of every item a write request touches."""
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        key = params.get("Key") or {k: params["Item"][k] for k in ("PK", "SK")}
        return [(params["TableName"], key)]
    if operation == "TransactWriteItems":
        targets = []
        for entry in params["TransactItems"]:
            ((_, action),) = entry.items()
            key = action.get("Key") or {k: action["Item"][k] for k in ("PK", "SK")}
            targets.append((action["TableName"], key))
        return targets
    if operation == "BatchWriteItem":
        targets = []
        for table, requests in params["RequestItems"].items():
            for request in requests:
                body = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
                targets.append((table, {k: body[k] for k in ("PK", "SK")}))
        return targets
    return []


Stored = tuple[dict[str, Any] | None, int]  # (the item's attributes or None, its size)


def _sizes(operation: str, params: dict[str, Any]) -> list[Stored]:
    """(attributes or None, size) of every item a write touches, as stored now."""
    found: list[Stored] = []
    backend = dynamodb_backends[ACCOUNT_ID][REGION]
    for table_name, key in _targets(operation, params):
        table = backend.get_table(table_name)
        item = table.get_item(DynamoType(key["PK"]), DynamoType(key["SK"]))
        if item is None:
            found.append((None, 0))
            continue
        found.append((dict(item.attrs), item.size()))
    return found


@dataclass(frozen=True)
class Index:
    """A global secondary index as the template declares it: its keys and what it projects."""

    keys: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    included: tuple[str, ...] = ()

    def entry(self, attrs: dict[str, Any] | None) -> dict[str, Any] | None:
        """The item's entry in this index (None when the item lacks the index's keys)."""
        if attrs is None or any(k not in attrs for k in self.keys):
            return None
        if self.projection == "ALL":
            return attrs
        names = (*TABLE_KEYS, *self.keys, *(self.included if self.projection == "INCLUDE" else ()))
        return {n: attrs[n] for n in names if n in attrs}


TABLE_KEYS = ("PK", "SK")


def indexes() -> list[Index]:
    """The table's global secondary indexes, read from template.yaml (the local stack
    provisions the same ones)."""
    from stepwise_local.template import load_template

    found = []
    for resource in load_template()["Resources"].values():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        for gsi in resource["Properties"].get("GlobalSecondaryIndexes", []):
            projection = gsi["Projection"]
            found.append(
                Index(
                    tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                    projection["ProjectionType"],
                    tuple(projection.get("NonKeyAttributes", ())),
                )
            )
    return found


def _entry_units(entry: dict[str, Any]) -> int:
    size = sum(len(name.encode()) + value.size() for name, value in entry.items())
    return max(1, math.ceil(size / WRITE_UNIT))


def _write_units(
    before: Stored, after: Stored, failed: bool, gsis: list[Index], transactional: bool = False
) -> int:
    """DynamoDB's write units for one item: the table's (the larger of the item before and
    after, also for a failed condition) plus each index's. An index is written when the item
    enters it, leaves it (a delete), changes its keys (a delete and a put) or changes what it
    projects (a put); an update that touches nothing it projects costs it nothing.

    In a transaction DynamoDB writes every item of it twice (prepare and commit), so the
    table's units double; its indexes are written once, by the propagation that starts after
    the transaction has committed (the developer guide's "Capacity management for
    transactions" and its note on how a transaction's changes reach global secondary indexes),
    so theirs do not."""
    (attrs_before, size_before), (attrs_after, size_after) = before, after
    times = 2 if transactional else 1
    if failed:
        return times * max(1, math.ceil(size_before / WRITE_UNIT))
    units = times * max(1, math.ceil(max(size_before, size_after) / WRITE_UNIT))
    for gsi in gsis:
        old, new = gsi.entry(attrs_before), gsi.entry(attrs_after)
        if old == new:
            continue
        keys_moved = old is not None and new is not None and any(old[k] != new[k] for k in gsi.keys)
        if old is not None and (new is None or keys_moved):
            units += _entry_units(old)  # the old entry goes
        if new is not None:
            units += _entry_units(new)
    return units


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    return units if consistent else units / 2


def _size_of(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + DynamoType(value).size() for name, value in item.items())
