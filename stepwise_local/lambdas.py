"""Runs Lambda functions in-process: moto's one Docker call is replaced by the real handler.

Every Lambda caller (Step Functions tasks, ``lambda.invoke``, event source mappings) then runs
the project's own code, with errors reported the way Lambda reports them.
"""

import importlib
import json
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import LambdaFunction

from stepwise_local import call_log, faults
from stepwise_local.provision import LocalFunction
from stepwise_local.template import ACCOUNT_ID, REGION

_functions: dict[str, LocalFunction] = {}
_original_invoke = LambdaFunction._invoke_lambda


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    timeout_seconds: int = 30

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


def register(functions: dict[str, LocalFunction]) -> None:
    _functions.update(functions)
    LambdaFunction._invoke_lambda = _invoke_in_process


def unregister() -> None:
    _functions.clear()
    LambdaFunction._invoke_lambda = _original_invoke


def memory_mb(name: str) -> int:
    """The memory the template gives a registered function."""
    return _functions[name].memory


def invoke(name: str, event: Any) -> Any:
    """Calls the function's handler as Lambda would; exceptions propagate."""
    function = _functions[name]
    handler = getattr(importlib.import_module(function.module), function.attribute)
    context = LambdaContext(
        function_name=name,
        memory_limit_in_mb=function.memory,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
        aws_request_id=str(uuid.uuid4()),
        timeout_seconds=function.timeout,
    )
    with call_log.acting_as(function.logical_id):  # its AWS calls are its role's
        return handler(event, context)


def _invoke_in_process(self: LambdaFunction, event: str | None = None) -> tuple[str, bool, str]:
    payload = json.loads(event) if isinstance(event, str) and event else (event or {})
    if fault := faults.lambda_fault(self.function_name):  # Lambda failed it: no handler ran
        error_type, message = fault
        return json.dumps({"errorType": error_type, "errorMessage": message}), True, ""
    try:
        result = invoke(self.function_name, payload)
    except Exception as exc:  # noqa: BLE001 reported to the caller exactly like a Lambda function error
        error = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
        return json.dumps(error), True, ""
    if lost := faults.lost_answer(self.function_name):  # the handler ran; its answer is lost
        error_type, message = lost
        return json.dumps({"errorType": error_type, "errorMessage": message}), True, ""
    return json.dumps(result), False, ""
