"""Express executions as AWS runs them: names are not deduplicated, and a start may run twice.

moto runs an EXPRESS machine like a Standard one: a second StartExecution with a running
execution's name and input returns that execution instead of starting another. AWS keeps no
such record for Express: every StartExecution starts an execution, and an asynchronous Express
execution is delivered at least once. Here each Express start runs under a name of its own
(the given name, checked as AWS checks it, plus a local suffix), and the ``express_replay`` fault
(stepwise_local/faults.py) starts the same input a second time, concurrently.
"""

import itertools
import threading
from typing import Any

from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from stepwise_local import faults

_original = StepFunctionsParserBackend.__dict__["start_execution"]
_numbers = itertools.count(1)
_lock = threading.Lock()


def _express(backend: Any, state_machine_arn: str) -> bool:
    machine = backend.describe_state_machine(state_machine_arn)
    return (getattr(machine, "sm_type", None) or getattr(machine, "type", None)) == "EXPRESS"


def _own(name: Any) -> str:
    with _lock:
        number = next(_numbers)
    return f"{name or 'express'}-x{number}"


def start_execution(
    self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None, *args, **kw
) -> Any:
    if not _express(self, state_machine_arn):
        return _original(self, state_machine_arn, name, execution_input, *args, **kw)
    execution = _original(self, state_machine_arn, _own(name), execution_input, *args, **kw)
    if faults.express_replay(state_machine_arn.rsplit(":", 1)[-1]):
        _original(self, state_machine_arn, _own(name), execution_input, *args, **kw)
    return execution


def install() -> None:
    """Before execution_names.install: the name checked is the caller's, not the local one."""
    StepFunctionsParserBackend.start_execution = start_execution


def uninstall() -> None:
    StepFunctionsParserBackend.start_execution = _original
