"""Express executions as AWS runs them: names are not deduplicated, and a start may run twice.

moto runs an EXPRESS machine like a Standard one: a second StartExecution with a running
execution's name and input returns that execution instead of starting another. AWS keeps no
such record for Express: every StartExecution starts an execution, and an asynchronous Express
execution is delivered at least once. Here each Express start runs under a name of its own
(the given name, checked as AWS checks it, plus a local suffix), and the ``express_replay`` fault
(stepwise_local/faults.py) starts the same input a second time, concurrently.
"""

import itertools
import re
import threading
from typing import Any

from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from stepwise_local import faults

_BACKENDS = (StepFunctionBackend, StepFunctionsParserBackend)
_originals = {backend: backend.__dict__["start_execution"] for backend in _BACKENDS}
_numbers = itertools.count(1)
_lock = threading.Lock()
_LOCAL_SUFFIX = re.compile(r"-x[0-9]+$")


def _express(backend: Any, state_machine_arn: str) -> bool:
    machine = backend.describe_state_machine(state_machine_arn)
    # ``type`` is what CreateStateMachine was given (moto's executor keeps ``sm_type`` STANDARD).
    return getattr(machine, "type", None) == "EXPRESS"


_given: dict[str, str] = {}  # local name -> the caller's, where the suffix had to cut it
MAX_NAME = 80  # StartExecution's limit, which moto's plain backend checks


def _own(name: Any) -> str:
    """The caller's name plus a local suffix, cut to StartExecution's 80 characters when the
    caller's name was already near them (the caller's name is kept to read it back)."""
    with _lock:
        number = next(_numbers)
        given = name or "express"
        suffix = f"-x{number}"
        local = f"{given[: MAX_NAME - len(suffix)]}{suffix}"
        if not local.startswith(given):
            _given[local] = given
    return local


def given_name(local_name: str) -> str:
    """The name the caller gave an execution (an Express one runs under it plus a suffix)."""
    return _given.get(local_name) or _LOCAL_SUFFIX.sub("", local_name)


def _starting(original: Any) -> Any:
    def start_execution(
        self: Any, machine_arn: str, name: Any = None, execution_input: Any = None, *args, **kw
    ) -> Any:
        if not _express(self, machine_arn):
            return original(self, machine_arn, name, execution_input, *args, **kw)
        execution = original(self, machine_arn, _own(name), execution_input, *args, **kw)
        if faults.express_replay(machine_arn.rsplit(":", 1)[-1]):
            original(self, machine_arn, _own(name), execution_input, *args, **kw)
        return execution

    return start_execution


def install() -> None:
    """Before execution_names.install: the name checked is the caller's, not the local one."""
    for backend, original in _originals.items():
        backend.start_execution = _starting(original)


def uninstall() -> None:
    for backend, original in _originals.items():
        backend.start_execution = original
