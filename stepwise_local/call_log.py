"""Records every AWS call the deployed principals would make, as IAM would see it.

On AWS each function calls with its own execution role, and each state machine makes its
service-integration calls (Lambda invoke, SQS sendMessage, ...) with its role. The local stack
runs all of them in one process, so this module tells them apart:

- a function: ``lambdas.invoke`` runs its handler inside ``acting_as(logical id)`` (a context
  variable, so concurrent handlers on other threads keep their own);
- an event source mapping polls with its function's role: the queue poller acts as the function;
- a state machine: moto's executor calls from its own threads, inside frames that hold the
  execution's ``Environment``; the call is attributed to the machine whose execution it is.

A botocore ``before-parameter-build`` hook on every client turns each attributed call into the
IAM requests it stands for: (action, resource ARN, condition context), one operation possibly
standing for several (a transaction writes items of several kinds, ``CreateSchedule`` also passes
a role). An operation this module does not know is recorded as unknown, and the IAM check fails
on it: new code cannot dodge the check. Calls nothing deployed would make (provisioning, the
tests' own calls, the local scheduler) are only counted.

Records are de-duplicated, so a whole suite keeps a few hundred of them in memory;
``tests/iam`` evaluates them against the SAM-translated template's policies.
"""

import contextlib
import contextvars
import json
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import botocore.handlers

PARTITION = "aws"

_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "stepwise_principal", default=None
)
# Physical names (function names, state machine ARNs) of the running stack -> logical ids.
_logical_ids: dict[str, str] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Request:
    """One authorisation IAM makes for a call: ``principal`` may ``action`` on ``resource``?"""

    principal: str
    service: str
    operation: str
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "context": dict(self.context)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Request":
        return cls(**{**data, "context": tuple(sorted(data.get("context", {}).items()))})


UNKNOWN = "?"  # the action of an operation this module cannot map (the check fails on it)


@dataclass
class CallLog:
    requests: set[Request] = field(default_factory=set)
    unattributed: Counter = field(default_factory=Counter)  # "service:Operation" -> calls

    def clear(self) -> None:
        with _lock:
            self.requests.clear()
            self.unattributed.clear()

    def snapshot(self) -> list[Request]:
        with _lock:
            return sorted(self.requests, key=lambda r: (r.principal, r.action, r.resource))

    def write(self, path: Path) -> Path:
        """The records as JSON lines (one per request), and the unattributed calls' counts."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with _lock:
            unattributed = dict(self.unattributed)
        lines = [json.dumps(r.as_dict(), sort_keys=True) for r in self.snapshot()]
        lines.append(json.dumps({"unattributed": unattributed}, sort_keys=True))
        path.write_text("\n".join(lines) + "\n")
        return path


LOG = CallLog()


def read(path: Path) -> list[Request]:
    """The requests a ``CallLog.write`` file holds."""
    requests = []
    for line in path.read_text().splitlines():
        data = json.loads(line)
        if "unattributed" not in data:
            requests.append(Request.from_dict(data))
    return requests


# -- attribution ----------------------------------------------------------------------------------


def register(logical_ids: dict[str, str]) -> None:
    """Names the running stack's principals: physical name or ARN -> logical id."""
    _logical_ids.update(logical_ids)


@contextlib.contextmanager
def acting_as(name: str) -> Iterator[None]:
    """AWS calls made meanwhile (in this thread's context) are ``name``'s: a logical id, or a
    physical name ``register`` knows."""
    if _principal.get() == _UNCHECKED:  # a handler run inside ``unchecked`` stays unchecked
        yield
        return
    token = _principal.set(_logical_ids.get(name, name))
    try:
        yield
    finally:
        _principal.reset(token)


@contextlib.contextmanager
def unchecked(reason: str) -> Iterator[None]:
    """Calls made meanwhile are counted, not checked: for a test that misconfigures the stack on
    purpose (a deployed role would rightly refuse them). ``reason`` says why, for the reader."""
    token = _principal.set(_UNCHECKED)
    try:
        yield
    finally:
        _principal.reset(token)


_UNCHECKED = "(unchecked)"


class ActingAs:
    """An ASGI app whose requests run as ``principal``: uvicorn serves locally what the API
    function serves on AWS (routes under ``/local/`` are the local stack's own)."""

    def __init__(self, app: Any, principal: str):
        self.app = app
        self.principal = principal

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith("/local/"):
            await self.app(scope, receive, send)
            return
        with acting_as(self.principal):
            await self.app(scope, receive, send)


def record_as(principal: str, service: str, operation: str, params: dict[str, Any]) -> None:
    """Records a call an AWS service makes with a role of the stack that the local stack makes
    without boto (Scheduler invoking a schedule's target with the schedule's role)."""
    name = principal.rsplit("/", 1)[-1] if principal.startswith("arn:") else principal
    who = _logical_ids.get(name, name)
    with _lock:
        LOG.requests.update(requests_for(who, service, operation, params))


def current_principal() -> str | None:
    principal = _principal.get()
    if principal is not None:
        return principal
    return _executing_state_machine()


def _executing_state_machine() -> str | None:
    """The logical id of the state machine whose execution is making this call, if moto's
    executor is on the stack: its frames hold the execution's ``Environment``."""
    frame = sys._getframe(2)
    while frame is not None:
        env = frame.f_locals.get("env")
        if env is not None and type(env).__name__ == "Environment":
            with contextlib.suppress(AttributeError, KeyError, TypeError):
                data = env.states.context_object.context_object_data
                arn = data["StateMachine"]["Id"]
                return _logical_ids.get(arn, arn)
        frame = frame.f_back
    return None


# -- the hook -------------------------------------------------------------------------------------


def _on_call(params: dict[str, Any], model: Any, **_: Any) -> None:
    service = model.service_model.service_name
    operation = model.name
    principal = current_principal()
    if principal is None or principal == _UNCHECKED:
        with _lock:
            LOG.unattributed[f"{service}:{operation}"] += 1
        return
    try:
        requests = list(requests_for(principal, service, operation, params))
    except Exception as exc:  # noqa: BLE001 recorded as unknown, never breaks the call itself
        requests = [Request(principal, service, operation, UNKNOWN, f"error: {exc!r}")]
    with _lock:
        LOG.requests.update(requests)


def _install_builtin() -> None:
    """Every botocore session made from now on calls ``_on_call`` before each request (moto
    installs its stubber the same way); sessions that already exist get it too."""
    entry = ("before-parameter-build", _on_call)
    if entry not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(entry)
        for session in _existing_sessions():
            session.events.register("before-parameter-build", _on_call)


def _existing_sessions() -> list[Any]:
    sessions = []
    boto3 = sys.modules.get("boto3")
    if boto3 is not None and boto3.DEFAULT_SESSION is not None:
        sessions.append(boto3.DEFAULT_SESSION._session)
    aws = sys.modules.get("stepwise.infra.aws")
    if aws is not None and aws._session.cache_info().currsize:
        sessions.append(aws._session()._session)
    provision = sys.modules.get("stepwise_local.provision")
    if provision is not None and provision._session.cache_info().currsize:
        sessions.append(provision._session()._session)
    return sessions


_install_builtin()


# -- operations as IAM sees them ------------------------------------------------------------------


def requests_for(
    principal: str, service: str, operation: str, params: dict[str, Any]
) -> Iterator[Request]:
    """The IAM requests one API call stands for; an unmapped operation is one UNKNOWN request."""
    region, account = _region_account()
    mapper = _MAPPERS.get((service, operation))
    if mapper is None:
        yield Request(principal, service, operation, UNKNOWN, "unknown operation")
        return
    for action, resource, *context in mapper(params, region, account):
        yield Request(
            principal,
            service,
            operation,
            action,
            resource,
            tuple(sorted(context[0].items())) if context else (),
        )


def _region_account() -> tuple[str, str]:
    from stepwise_local.template import ACCOUNT_ID, REGION

    return REGION, ACCOUNT_ID


def _arn(service: str, region: str, account: str, rest: str) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{rest}"


# DynamoDB: a table, or one of its indexes (Query/Scan with IndexName).
def _table(name: str, region: str, account: str, index: str | None = None) -> str:
    arn = name if name.startswith("arn:") else _arn("dynamodb", region, account, f"table/{name}")
    return f"{arn}/index/{index}" if index else arn


def _ddb(action: str):
    def mapper(params, region, account):
        yield (
            f"dynamodb:{action}",
            _table(params["TableName"], region, account, params.get("IndexName")),
        )

    return mapper


def _ddb_batch(action: str):
    def mapper(params, region, account):
        for table in params["RequestItems"]:
            yield f"dynamodb:{action}", _table(table, region, account)

    return mapper


# A transaction is authorised item by item, as the single-item action each one stands for.
_TRANSACT_WRITE = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _ddb_transact_write(params, region, account):
    for item in params["TransactItems"]:
        [(kind, request)] = item.items()
        yield f"dynamodb:{_TRANSACT_WRITE[kind]}", _table(request["TableName"], region, account)


def _ddb_transact_get(params, region, account):
    for item in params["TransactItems"]:
        yield "dynamodb:GetItem", _table(item["Get"]["TableName"], region, account)


# Step Functions.
def _sfn(action: str, key: str | None):
    def mapper(params, region, account):
        # SendTask* have no resource type in IAM: they are authorised against "*".
        yield f"states:{action}", params[key] if key else "*"

    return mapper


# SQS: the queue URL's last two segments are the account and the queue name.
def _queue_arn(url: str, region: str) -> str:
    account, name = urlparse(url).path.strip("/").split("/")[-2:]
    return f"arn:{PARTITION}:sqs:{region}:{account}:{name}"


def _sqs(action: str):
    def mapper(params, region, account):
        yield f"sqs:{action}", _queue_arn(params["QueueUrl"], region)

    return mapper


# S3 objects: arn:aws:s3:::bucket/key (no region or account).
def _s3_object(action: str):
    def mapper(params, region, account):
        yield f"s3:{action}", f"arn:{PARTITION}:s3:::{params['Bucket']}/{params['Key']}"

    return mapper


def _s3_bucket(action: str):
    def mapper(params, region, account):
        yield f"s3:{action}", f"arn:{PARTITION}:s3:::{params['Bucket']}"

    return mapper


# Secrets Manager: IAM sees the full ARN, whose name ends in "-" and six random characters.
def _secret_arn(secret_id: str, region: str, account: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    return _arn("secretsmanager", region, account, f"secret:{secret_id}-AbCdEf")


def _secret(action: str, key: str = "SecretId"):
    def mapper(params, region, account):
        yield f"secretsmanager:{action}", _secret_arn(params[key], region, account)

    return mapper


def _create_secret(params, region, account):
    arn = _secret_arn(params["Name"], region, account)
    yield "secretsmanager:CreateSecret", arn
    if params.get("Tags"):  # tags on creation are also authorised as TagResource
        yield "secretsmanager:TagResource", arn


# EventBridge: each entry's bus (the default bus when none is named).
def _put_events(params, region, account):
    for entry in params["Entries"]:
        bus = entry.get("EventBusName") or "default"
        yield (
            "events:PutEvents",
            bus if bus.startswith("arn:") else _arn("events", region, account, f"event-bus/{bus}"),
        )


# EventBridge Scheduler: schedule/<group>/<name>; a schedule's role is passed to Scheduler.
def _schedule(action: str):
    def mapper(params, region, account):
        group = params.get("GroupName") or "default"
        yield (
            f"scheduler:{action}",
            _arn("scheduler", region, account, f"schedule/{group}/{params['Name']}"),
        )
        role = (params.get("Target") or {}).get("RoleArn")
        if role:
            yield "iam:PassRole", role, {"iam:PassedToService": "scheduler.amazonaws.com"}

    return mapper


# Lambda (the executor's tasks): the function's ARN, qualified if the call named a version.
def _invoke(params, region, account):
    name = params["FunctionName"]
    qualifier = params.get("Qualifier")
    arn = name if name.startswith("arn:") else _arn("lambda", region, account, f"function:{name}")
    yield "lambda:InvokeFunction", f"{arn}:{qualifier}" if qualifier else arn


_MAPPERS = {
    ("dynamodb", "GetItem"): _ddb("GetItem"),
    ("dynamodb", "PutItem"): _ddb("PutItem"),
    ("dynamodb", "UpdateItem"): _ddb("UpdateItem"),
    ("dynamodb", "DeleteItem"): _ddb("DeleteItem"),
    ("dynamodb", "Query"): _ddb("Query"),
    ("dynamodb", "Scan"): _ddb("Scan"),
    ("dynamodb", "DescribeTable"): _ddb("DescribeTable"),
    ("dynamodb", "BatchGetItem"): _ddb_batch("BatchGetItem"),
    ("dynamodb", "BatchWriteItem"): _ddb_batch("BatchWriteItem"),
    ("dynamodb", "TransactWriteItems"): _ddb_transact_write,
    ("dynamodb", "TransactGetItems"): _ddb_transact_get,
    ("stepfunctions", "StartExecution"): _sfn("StartExecution", "stateMachineArn"),
    ("stepfunctions", "DescribeExecution"): _sfn("DescribeExecution", "executionArn"),
    ("stepfunctions", "StopExecution"): _sfn("StopExecution", "executionArn"),
    ("stepfunctions", "SendTaskSuccess"): _sfn("SendTaskSuccess", None),
    ("stepfunctions", "SendTaskFailure"): _sfn("SendTaskFailure", None),
    ("stepfunctions", "SendTaskHeartbeat"): _sfn("SendTaskHeartbeat", None),
    ("sqs", "SendMessage"): _sqs("SendMessage"),
    ("sqs", "SendMessageBatch"): _sqs("SendMessage"),
    ("sqs", "ReceiveMessage"): _sqs("ReceiveMessage"),
    ("sqs", "DeleteMessage"): _sqs("DeleteMessage"),
    ("sqs", "DeleteMessageBatch"): _sqs("DeleteMessage"),
    ("sqs", "ChangeMessageVisibility"): _sqs("ChangeMessageVisibility"),
    ("sqs", "ChangeMessageVisibilityBatch"): _sqs("ChangeMessageVisibility"),
    ("sqs", "GetQueueAttributes"): _sqs("GetQueueAttributes"),
    ("s3", "PutObject"): _s3_object("PutObject"),
    ("s3", "GetObject"): _s3_object("GetObject"),
    ("s3", "HeadObject"): _s3_object("GetObject"),
    ("s3", "DeleteObject"): _s3_object("DeleteObject"),
    ("s3", "ListObjectsV2"): _s3_bucket("ListBucket"),
    ("secretsmanager", "GetSecretValue"): _secret("GetSecretValue"),
    ("secretsmanager", "PutSecretValue"): _secret("PutSecretValue"),
    ("secretsmanager", "DeleteSecret"): _secret("DeleteSecret"),
    ("secretsmanager", "DescribeSecret"): _secret("DescribeSecret"),
    ("secretsmanager", "TagResource"): _secret("TagResource"),
    ("secretsmanager", "CreateSecret"): _create_secret,
    ("events", "PutEvents"): _put_events,
    ("scheduler", "CreateSchedule"): _schedule("CreateSchedule"),
    ("scheduler", "UpdateSchedule"): _schedule("UpdateSchedule"),
    ("scheduler", "DeleteSchedule"): _schedule("DeleteSchedule"),
    ("scheduler", "GetSchedule"): _schedule("GetSchedule"),
    ("lambda", "Invoke"): _invoke,
}
