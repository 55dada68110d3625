"""Faults AWS has and moto does not: transaction conflicts, throttling, Lambda service errors.

``STEPWISE_FAULTS`` (e.g. ``transaction_conflict=0.1,throttle=0.05,lambda_error=0.02,seed=7``)
sets the share of calls that fail:

- ``transaction_conflict``: a DynamoDB ``TransactWriteItems`` is cancelled with
  ``TransactionCanceledException``, one of its items reporting ``TransactionConflict`` and the
  others ``None``, as DynamoDB answers when another transaction holds an item.
- ``throttle``: any AWS call fails with the throttling error its service returns
  (``_THROTTLES``); a DynamoDB transaction is cancelled with a ``ThrottlingError`` reason.
- ``lambda_error``: a Lambda invocation by Step Functions fails before the handler runs, as the
  Lambda service error Step Functions reports (``Lambda.ServiceException`` or
  ``Lambda.TooManyRequestsException``), so the state machines' ``Retry`` blocks apply.
- ``lambda_lost``: a Lambda invocation by Step Functions runs the handler to its end, then fails
  as ``Lambda.ServiceException`` (its answer lost on the way back), so Step Functions runs a
  step again that has already done its work: every step must tolerate it.
- ``express_replay``: an Express execution is started a second time, concurrently, with the
  same input, as AWS may (asynchronous Express executions run at least once): every step of an
  Express machine must tolerate a whole second execution.

Calls fail where the real error would surface: at moto's request dispatch (``before-send``, the
point where botocore would have put the request on the wire, so botocore's retries see the fault)
for every client, moto's own Step Functions executor's included. The local stack's own plumbing
(provisioning, the pollers that stand for Lambda's event source mappings, the tests' inspection
calls) is marked with ``exempt``: AWS does not throttle what is not a call of the application.
``counts`` is what ``GET /local/faults`` serves.
"""

import contextlib
import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

ENVIRONMENT_VARIABLE = "STEPWISE_FAULTS"
KINDS = ("transaction_conflict", "throttle", "lambda_error", "lambda_lost", "express_replay")
_EXEMPT_HEADER = "x-stepwise-local-plumbing"

# The throttling error each service returns: (protocol, HTTP status, code, message). Step
# Functions, Secrets Manager and EventBridge answer the common ThrottlingException; SQS its
# RequestThrottled; S3 503 SlowDown; Lambda and Scheduler 429. DynamoDB throttles an item
# operation with ProvisionedThroughputExceededException (per-partition limits hold in on-demand
# mode too) and cancels a transaction with a ThrottlingError reason instead.
_THROTTLES: dict[str, tuple[str, int, str, str]] = {
    "dynamodb": (
        "json",
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
    "sfn": ("json", 400, "ThrottlingException", "Rate exceeded"),
    "sqs": ("json", 400, "RequestThrottled", "Request is throttled."),
    "eventbridge": ("json", 400, "ThrottlingException", "Rate exceeded"),
    "secrets-manager": ("json", 400, "ThrottlingException", "Rate exceeded"),
    "scheduler": ("rest-json", 429, "ThrottlingException", "Rate exceeded"),
    "lambda": ("rest-json", 429, "TooManyRequestsException", "Rate exceeded"),
    "s3": ("rest-xml", 503, "SlowDown", "Please reduce your request rate."),
    "sts": ("query", 400, "Throttling", "Rate exceeded"),
}
_JSON_NAMESPACES = {"dynamodb": "com.amazonaws.dynamodb.v20120810"}
_TRANSACTIONS = frozenset({"TransactWriteItems", "TransactGetItems"})
# What Step Functions reports when Lambda itself fails an invocation (its service, not the code).
_LAMBDA_SERVICE_ERRORS = (
    ("Lambda.ServiceException", "Lambda was unable to process the request (injected fault)."),
    ("Lambda.TooManyRequestsException", "Rate exceeded (injected fault)."),
)


class FaultsError(ValueError):
    """A ``STEPWISE_FAULTS`` value that cannot be used; the message names the key."""


@dataclass(frozen=True)
class FaultSpec:
    transaction_conflict: float = 0.0
    throttle: float = 0.0
    lambda_error: float = 0.0
    lambda_lost: float = 0.0
    express_replay: float = 0.0
    seed: int | None = None

    def active(self) -> bool:
        return any(getattr(self, kind) > 0 for kind in KINDS)


def parse(text: str | None) -> FaultSpec:
    """``kind=share,...`` (shares from 0 to 1) and an optional ``seed=N``; FaultsError naming
    the key for anything else."""
    values: dict[str, Any] = {}
    for entry in (text or "").split(","):
        if not entry.strip():
            continue
        key, sep, raw = (part.strip() for part in entry.partition("="))
        if key not in (*KINDS, "seed"):
            raise FaultsError(
                f"{ENVIRONMENT_VARIABLE}: unknown key {key!r} (known: {', '.join(KINDS)}, seed)"
            )
        if key in values:
            raise FaultsError(f"{ENVIRONMENT_VARIABLE}: {key} is given twice")
        if not sep or not raw:
            raise FaultsError(f"{ENVIRONMENT_VARIABLE}: {key} needs a value ({key}=...)")
        if key == "seed":
            try:
                values[key] = int(raw)
            except ValueError:
                raise FaultsError(
                    f"{ENVIRONMENT_VARIABLE}: seed must be an integer, not {raw!r}"
                ) from None
            continue
        try:
            share = float(raw)
        except ValueError:
            share = -1.0
        if not 0.0 <= share <= 1.0:  # also refuses nan
            raise FaultsError(
                f"{ENVIRONMENT_VARIABLE}: {key} must be a share from 0 to 1, not {raw!r}"
            )
        values[key] = share
    return FaultSpec(**values)


class FaultInjector:
    """Draws which calls fail and counts what it injected (thread-safe)."""

    def __init__(self, spec: FaultSpec):
        self.spec = spec
        self._random = random.Random(spec.seed)  # noqa: S311 (fault injection, not a secret)
        self._lock = threading.Lock()
        self._injected: Counter[tuple[str, str]] = Counter()
        self._considered: Counter[str] = Counter()

    def _draw(self, kind: str, where: str) -> bool:
        share = getattr(self.spec, kind)
        with self._lock:
            self._considered[kind] += 1
            if share <= 0 or self._random.random() >= share:
                return False
            self._injected[(kind, where)] += 1
            return True

    def _choice(self, options: int) -> int:
        with self._lock:
            return self._random.randrange(options)

    def request_fault(self, service: str, operation: str, body: bytes | str | None) -> Any:
        """The error response this request gets instead of moto's answer, or None."""
        where = f"{service}.{operation}"
        transaction = service == "dynamodb" and operation == "TransactWriteItems"
        if transaction and self._draw("transaction_conflict", where):
            return self._cancelled(body, "TransactionConflict")
        if service == "lambda" and operation == "Invoke":
            return None  # Step Functions' invocations fail as ``lambda_error`` (below)
        if service not in _THROTTLES or not self._draw("throttle", where):
            return None
        if service == "dynamodb" and operation in _TRANSACTIONS:
            return self._cancelled(body, "ThrottlingError")
        protocol, status, code, message = _THROTTLES[service]
        return _error_response(service, protocol, status, code, message)

    def lambda_fault(self, function_name: str) -> tuple[str, str] | None:
        """(errorType, errorMessage) of a Lambda service error for this invocation, or None."""
        if not self._draw("lambda_error", function_name):
            return None
        return _LAMBDA_SERVICE_ERRORS[self._choice(len(_LAMBDA_SERVICE_ERRORS))]

    def lost_answer(self, function_name: str) -> tuple[str, str] | None:
        """(errorType, errorMessage) replacing the answer of an invocation that ran, or None."""
        if not self._draw("lambda_lost", function_name):
            return None
        return _LAMBDA_SERVICE_ERRORS[0]

    def express_replay(self, machine_name: str) -> bool:
        """Whether this Express start is to run twice."""
        return self._draw("express_replay", machine_name)

    def _cancelled(self, body: bytes | str | None, reason: str) -> tuple[int, dict, str]:
        """DynamoDB's TransactionCanceledException with ``reason`` on one of the items."""
        items = json.loads(body or "{}").get("TransactItems", [])
        reasons = [{"Code": "None"} for _ in items] or [{"Code": "None"}]
        messages = {
            "TransactionConflict": "Transaction is ongoing for the item",
            "ThrottlingError": "Throughput exceeds the current capacity of your table or index.",
        }
        reasons[self._choice(len(reasons))] = {"Code": reason, "Message": messages[reason]}
        listed = ", ".join(r["Code"] for r in reasons)
        payload = {
            "__type": f"{_JSON_NAMESPACES['dynamodb']}#TransactionCanceledException",
            "message": "Transaction cancelled, please refer cancellation reasons for specific "
            f"reasons [{listed}]",
            "CancellationReasons": reasons,
        }
        return 400, _json_headers("TransactionCanceledException"), json.dumps(payload)

    def counts(self) -> dict[str, Any]:
        """What was injected: totals per kind, per kind and operation (or function), how many
        calls each kind was drawn for, and the configuration."""
        with self._lock:
            injected = {kind: 0 for kind in KINDS}
            by_operation: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
            for (kind, where), count in sorted(self._injected.items()):
                injected[kind] += count
                by_operation[kind][where] = count
            return {
                "config": asdict(self.spec),
                "injected": injected,
                "by_operation": by_operation,
                "considered": {kind: self._considered[kind] for kind in KINDS},
            }


def _json_headers(code: str) -> dict[str, str]:
    return {
        "Content-Type": "application/x-amz-json-1.0",
        "x-amzn-ErrorType": code,
        "x-amzn-RequestId": str(uuid.uuid4()),
    }


def _error_response(
    service: str, protocol: str, status: int, code: str, message: str
) -> tuple[int, dict[str, str], str]:
    """The error as the service's protocol puts it on the wire."""
    request_id = str(uuid.uuid4())
    if protocol == "json":
        namespace = _JSON_NAMESPACES.get(service, f"com.amazonaws.{service}")
        headers = _json_headers(code)
        if service == "sqs":  # SQS's JSON protocol also carries the query-era code
            headers["x-amzn-query-error"] = f"{code};Sender"
        return status, headers, json.dumps({"__type": f"{namespace}#{code}", "message": message})
    if protocol == "rest-json":
        headers = {
            "Content-Type": "application/json",
            "x-amzn-ErrorType": code,
            "x-amzn-RequestId": request_id,
        }
        return status, headers, json.dumps({"message": message})
    if protocol == "rest-xml":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        return status, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
        f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml"}, body


# -- hooks --------------------------------------------------------------------------------------

_active: FaultInjector | None = None
_original_call = BotocoreStubber.__call__


def _faulty_call(
    self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any
) -> AWSResponse | None:
    injector = _active
    if (
        injector is not None
        and self.enabled
        and _EXEMPT_HEADER not in request.headers
        and event_name.count(".") == 2
    ):
        _, service, operation = event_name.split(".")
        fault = injector.request_fault(service, operation, request.body)
        if fault is not None:
            status, headers, body = fault
            return AWSResponse(request.url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]
    return _original_call(self, event_name, request, **kwargs)


def install(spec: FaultSpec | FaultInjector) -> FaultInjector:
    """Starts injecting ``spec``'s faults (a spec with no share injects nothing, and counts)."""
    global _active
    _active = spec if isinstance(spec, FaultInjector) else FaultInjector(spec)
    BotocoreStubber.__call__ = _faulty_call  # type: ignore[method-assign]
    return _active


@contextlib.contextmanager
def injecting(spec: FaultSpec | FaultInjector) -> Iterator[FaultInjector]:
    """Injects ``spec``'s faults (or a test's own injector's) for a while, then whatever was
    injected before."""
    before = _active
    injector = install(spec)
    try:
        yield injector
    finally:
        if before is None:
            uninstall()
        else:
            globals()["_active"] = before


def uninstall() -> None:
    global _active
    _active = None
    BotocoreStubber.__call__ = _original_call  # type: ignore[method-assign]


def lambda_fault(function_name: str) -> tuple[str, str] | None:
    """The Lambda service error this invocation meets, if faults are on and it is drawn."""
    injector = _active
    return injector.lambda_fault(function_name) if injector is not None else None


def lost_answer(function_name: str) -> tuple[str, str] | None:
    """The Lambda service error replacing this invocation's answer, if one is drawn."""
    injector = _active
    return injector.lost_answer(function_name) if injector is not None else None


def express_replay(machine_name: str) -> bool:
    """Whether this Express execution is started a second time, if faults are on and drawn."""
    injector = _active
    return injector.express_replay(machine_name) if injector is not None else False


def exempt(client: Any) -> Any:
    """Marks a client as the local stack's plumbing: its calls meet no injected fault."""

    def mark(request: Any, **_: Any) -> None:
        request.headers[_EXEMPT_HEADER] = "1"

    client.meta.events.register("request-created", mark)
    return client
