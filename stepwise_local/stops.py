"""StopExecution aborts an execution at once, as on AWS.

moto's executing backend marks the execution stopped but leaves a ``waitForTaskToken`` task
waiting for its token (until its timeout, days away), so the execution stays RUNNING; and what
fails after the stop (a Map iteration that can no longer move on) turns it FAILED. On AWS,
StopExecution aborts it whatever it waits on, and it ends ABORTED. Here a stop interrupts the
execution's waiting tasks, and an execution that was stopped stays stopped (a run that ends
stops its for_each node, which waits on its chunks' token, and the chunk each lane is on).
"""

from typing import Any

from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

_originals = {name: Environment.__dict__[name] for name in ("set_stop", "set_error")}


def _set_stop(self: Any, stop_date: Any, cause: Any, error: Any) -> None:
    _originals["set_stop"](self, stop_date, cause, error)
    for endpoint in list(self.callback_pool_manager._pool.values()):
        endpoint.interrupt_all()


def _set_error(self: Any, error: Any) -> None:
    if isinstance(self._program_state, ProgramStopped):
        return  # stopped: it ends ABORTED, whatever failed after the stop
    _originals["set_error"](self, error)


def install() -> None:
    Environment.set_stop = _set_stop
    Environment.set_error = _set_error


def uninstall() -> None:
    for name, original in _originals.items():
        setattr(Environment, name, original)
