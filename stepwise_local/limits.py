"""The local stack refuses what AWS refuses where moto does not check (measured with moto 5.2.5).

- **Execution history.** Step Functions fails an execution whose history reaches 25,000 events
  (a hard quota): once 24,999 events are written, a 25,000th that is not ExecutionSucceeded is
  written as ExecutionFailed, ``States.Runtime``, "The execution reached the maximum number of
  history events (25000).". moto's executor writes any number.
- **StartExecution input, SendTaskSuccess output.** At most 262,144 bytes (UTF-8), else a
  ValidationException. moto starts the execution, which then fails at its first state.
  (State input and output, and task results, moto already checks: States.DataLimitExceeded.)
- **SQS.** A message's size is its body and its attributes (names, types, values) in UTF-8
  bytes, at most the queue's MaximumMessageSize. moto compares the body's characters only.
- **EventBridge PutEvents.** The entries' sizes, computed as EventBridge does (Time 14 bytes,
  Source, DetailType, Detail and each Resource in UTF-8 bytes), must stay under 256 KB; a
  larger request is refused with HTTP 413. moto takes any size.
- **DynamoDB's 400 KB item size** moto already refuses (``ValidationException``, "Item size has
  exceeded the maximum allowed size", for PutItem, UpdateItem and transactions), so nothing is
  added here.
"""

import threading
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.events.models import EventsBackend
from moto.sqs.exceptions import InvalidParameterValue
from moto.sqs.models import SQSBackend
from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.responses import StepFunctionResponse

HISTORY_LIMIT = 25_000  # events in one execution's history
HISTORY_ERROR = "States.Runtime"
PAYLOAD_LIMIT = 262_144  # bytes: StartExecution input, SendTaskSuccess output
PUT_EVENTS_LIMIT = 262_144  # bytes: the entries of one PutEvents request


def history_cause() -> str:
    return f"The execution reached the maximum number of history events ({HISTORY_LIMIT})."


# -- execution history ----------------------------------------------------------------------


def _add_event(self: Any, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> int:
    """EventManager.add_event, failing the execution at its 25,000th event as AWS does."""
    failed = None
    with self.__dict__.setdefault("_limit_lock", threading.RLock()):
        written = self._event_id_gen._next_id - 1
        if self.__dict__.get("_limit_reached"):
            return written  # the execution has failed: nothing more is written
        if written < HISTORY_LIMIT - 1 or event_type == HistoryEventType.ExecutionSucceeded:
            return _saved["add_event"](self, context, event_type, *args, **kwargs)
        self._limit_reached = True
        failed = ExecutionFailedEventDetails(error=HISTORY_ERROR, cause=history_cause())
        event_id = _saved["add_event"](
            self,
            context,
            HistoryEventType.ExecutionFailed,
            EventDetails(executionFailedEventDetails=failed),
        )
    execution = self.__dict__.get("_limit_execution")
    if execution is not None:
        execution.set_error(failed)  # the execution (and its Map iterations) stop, FAILED
    return event_id


def _environment_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _saved["environment_init"](self, *args, **kwargs)
    # The execution's own environment made this manager; frames (Map iterations) share it later.
    self.event_manager._limit_execution = self


# -- payloads ---------------------------------------------------------------------------------


def _utf8(value: Any) -> int:
    return len(value.encode("utf-8")) if isinstance(value, str) else len(value or b"")


def _check_payload(value: Any, field: str) -> None:
    if value is not None and _utf8(value) > PAYLOAD_LIMIT:
        raise ValidationException(
            f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {PAYLOAD_LIMIT}"
        )


def _start_execution(self: Any) -> Any:
    _check_payload(self._get_param("input"), "input")
    return _saved["start_execution"](self)


def _send_task_success(self: Any) -> Any:
    _check_payload(self._get_param("output"), "output")
    return _saved["send_task_success"](self)


def sqs_message_size(body: str, attributes: dict[str, Any] | None) -> int:
    """What SQS counts: the body, and each attribute's name, data type and value."""
    size = _utf8(body)
    for name, attribute in (attributes or {}).items():
        size += _utf8(name) + _utf8(attribute.get("DataType") or attribute.get("data_type"))
        for key in ("StringValue", "string_value", "BinaryValue", "binary_value"):
            size += _utf8(attribute.get(key))
    return size


def _send_message(self: Any, queue_name: str, message_body: str, *args: Any, **kwargs: Any):
    attributes = kwargs.get("message_attributes") or (args[0] if args else None)
    limit = int(self.get_queue(queue_name).maximum_message_size)
    if sqs_message_size(message_body, attributes) > limit:
        raise InvalidParameterValue(
            "One or more parameters are invalid. Reason: Message must be shorter than "
            f"{limit} bytes."
        )
    return _saved["send_message"](self, queue_name, message_body, *args, **kwargs)


def put_events_entry_size(entry: dict[str, Any]) -> int:
    """An entry's size as EventBridge computes it."""
    size = 14 if entry.get("Time") is not None else 0
    for field in ("Source", "DetailType", "Detail"):
        size += _utf8(entry.get(field))
    return size + sum(_utf8(resource) for resource in entry.get("Resources") or ())


class RequestEntityTooLarge(JsonRESTError):
    code = 413

    def __init__(self, size: int):
        super().__init__("413", f"PutEvents entries of {size} bytes; the limit is 256 KB")


def _put_events(self: Any, events: list[dict[str, Any]]) -> Any:
    size = sum(put_events_entry_size(entry) for entry in events)
    if size > PUT_EVENTS_LIMIT:
        raise RequestEntityTooLarge(size)
    return _saved["put_events"](self, events)


# -- install ----------------------------------------------------------------------------------

_PATCHES = {
    "add_event": (EventManager, "add_event", _add_event),
    "environment_init": (Environment, "__init__", _environment_init),
    "start_execution": (StepFunctionResponse, "start_execution", _start_execution),
    "send_task_success": (StepFunctionResponse, "send_task_success", _send_task_success),
    "send_message": (SQSBackend, "send_message", _send_message),
    "put_events": (EventsBackend, "put_events", _put_events),
}
_saved: dict[str, Any] = {}


def install() -> None:
    for key, (owner, name, patched) in _PATCHES.items():
        _saved.setdefault(key, owner.__dict__[name])
        setattr(owner, name, patched)


def uninstall() -> None:
    for key, (owner, name, _) in _PATCHES.items():
        if key in _saved:
            setattr(owner, name, _saved[key])
