"""Powertools logger, tracer and metrics shared by every function (configured by POWERTOOLS_*).

The tracer loads the X-Ray SDK, about 0.35 s of a cold start, so it is built on first use:
only the functions that import ``tracer`` pay for it (the API relies on Lambda's own active
tracing instead). Business metrics go through ``stepwise.core.metrics``, the domain's port to
Powertools' EMF; ``log_metrics`` is the handler decorator that prints what an invocation
recorded.
"""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from stepwise.core.metrics import flushed as log_metrics

__all__ = ["log_metrics", "logger"]

_SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "stepwise"

logger = Logger(service=_SERVICE)


@cache
def _tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer(service=_SERVICE)


def __getattr__(name: str) -> Any:
    if name == "tracer":
        return _tracer()
    raise AttributeError(name)
