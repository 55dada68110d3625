"""Execution names checked as Step Functions checks them.

moto's executing backend starts an execution under any name, and its plain backend lets ``.``
through, so a name AWS would refuse passed every local test. StartExecution takes 1 to 80
characters without whitespace, brackets, wildcards or ``" # % \\ ^ | ~ ` $ & , ; : /``; the
template logs executions to CloudWatch, which wants only ``0-9 A-Z a-z - _``. Both backends now
refuse anything else (``InvalidName``, or a ValidationException past 80 characters), as a
deployed stack would.
"""

import re
from typing import Any

from moto.stepfunctions.exceptions import InvalidName, NameTooLongException
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_LOGGABLE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_BACKENDS = (StepFunctionBackend, StepFunctionsParserBackend)
_originals = {backend: backend.__dict__["start_execution"] for backend in _BACKENDS}


def check(name: str | None) -> None:
    """Raises InvalidName for a name StartExecution (with execution logging) would refuse."""
    if name is None:
        return
    if len(name) > 80:
        raise NameTooLongException(name)
    if not _LOGGABLE_NAME.fullmatch(name):
        raise InvalidName(
            f"Invalid Name: '{name}' (1 to 80 of A-Z a-z 0-9 - _, the characters StartExecution "
            "takes and CloudWatch logging of executions accepts)"
        )


def _checking(original: Any) -> Any:
    def start_execution(self: Any, state_machine_arn: str, name: Any = None, *args, **kwargs):
        check(name)
        return original(self, state_machine_arn, name, *args, **kwargs)

    return start_execution


def install() -> None:
    # Wraps what is installed now (stepwise_local/express.py's start, on the executing backend).
    for backend in _BACKENDS:
        backend.start_execution = _checking(backend.__dict__["start_execution"])


def uninstall() -> None:
    for backend, original in _originals.items():
        backend.start_execution = original
