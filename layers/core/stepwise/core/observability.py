"""Powertools logger, tracer and metrics shared by every function (configured by POWERTOOLS_*).

The tracer loads the X-Ray SDK, about 0.35 s of a cold start, so it is built on first use:
only the functions that import ``tracer`` pay for it (the API relies on Lambda's own active
tracing instead).
"""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

_SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "stepwise"

logger = Logger(service=_SERVICE)


@cache
def _tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer(service=_SERVICE)


@cache
def _metrics() -> Any:
    from aws_lambda_powertools import Metrics

    return Metrics(service=_SERVICE)


def __getattr__(name: str) -> Any:
    if name == "tracer":
        return _tracer()
    if name == "metrics":
        return _metrics()
    raise AttributeError(name)
