"""Business metrics: what the domain counts, as CloudWatch Embedded Metric Format (EMF) lines.

Domain code calls ``count`` or ``measure`` where the event happens; the handler's ``flushed``
decorator prints what its invocation recorded when it returns or raises, one Powertools EMF
line per set of dimensions (and org). Code that runs outside a handler prints at once.

Every metric declares its dimensions here, and a call with any other is refused: each distinct
combination of dimension values is a custom metric that CloudWatch bills monthly, so nothing
unbounded (run, node or org ids) may become one. The org id rides along as a property, which
CloudWatch Logs Insights can filter by but which creates no metric.
"""

import os
from collections.abc import Callable
from contextvars import ContextVar
from enum import StrEnum
from functools import wraps
from typing import Any, NamedTuple, TypeVar

DEFAULT_NAMESPACE = "Stepwise"


class Metric(StrEnum):
    RUNS_STARTED = "RunsStarted"
    RUNS_SETTLED = "RunsSettled"
    NODE_ATTEMPTS = "NodeAttempts"
    NODE_FAILURES = "NodeFailures"
    WEBHOOK_DELIVERIES = "WebhookDeliveries"
    WEBHOOK_LATENCY = "WebhookLatency"
    SIGNALS = "Signals"


# Each metric's unit and the only dimensions it may carry (besides Powertools' ``service``).
UNITS: dict[Metric, str] = {
    **{metric: "Count" for metric in Metric},
    Metric.WEBHOOK_LATENCY: "Milliseconds",
}
DIMENSIONS: dict[Metric, tuple[str, ...]] = {
    Metric.RUNS_STARTED: (),
    Metric.RUNS_SETTLED: ("Status",),
    Metric.NODE_ATTEMPTS: ("Kind",),
    Metric.NODE_FAILURES: ("Kind",),
    Metric.WEBHOOK_DELIVERIES: ("StatusClass",),
    Metric.WEBHOOK_LATENCY: (),
    Metric.SIGNALS: ("Outcome",),
}
# The values a dimension may take: a closed set, so the number of custom metrics is bounded.
DIMENSION_VALUES: dict[str, frozenset[str]] = {
    "Status": frozenset({"succeeded", "failed", "cancelled", "timed_out"}),
    "Kind": frozenset({"action", "transform", "wait", "approval", "workflow"}),
    "StatusClass": frozenset({"2xx", "3xx", "4xx", "5xx", "timeout", "network", "refused"}),
    "Outcome": frozenset({"accepted", "duplicate", "late", "invalid"}),
}


class Recorded(NamedTuple):
    metric: Metric
    value: float
    dimensions: tuple[tuple[str, str], ...]
    org_id: str | None


_pending: ContextVar[list[Recorded] | None] = ContextVar("stepwise_metrics", default=None)


def count(metric: Metric, org_id: str | None = None, value: int = 1, **dimensions: str) -> None:
    """Counts an event (``value`` of them) with the metric's declared dimensions."""
    _record(metric, float(value), org_id, dimensions)


def measure(metric: Metric, value: float, org_id: str | None = None, **dimensions: str) -> None:
    """Records one measurement (a latency in milliseconds, say)."""
    _record(metric, float(value), org_id, dimensions)


def _record(metric: Metric, value: float, org_id: str | None, dimensions: dict[str, str]) -> None:
    declared = DIMENSIONS[metric]
    if set(dimensions) != set(declared):
        raise ValueError(f"{metric} takes the dimensions {declared}, not {tuple(dimensions)}")
    for name, dimension_value in dimensions.items():
        if dimension_value not in DIMENSION_VALUES[name]:
            raise ValueError(f"{name}={dimension_value!r} is not one of {metric}'s values")
    recorded = Recorded(metric, value, tuple(sorted(dimensions.items())), org_id)
    pending = _pending.get()
    if pending is None:
        _print([recorded])
    else:
        pending.append(recorded)


Handler = TypeVar("Handler", bound=Callable[..., Any])


def flushed(handler: Handler) -> Handler:
    """Collects what one invocation records and prints it when the handler returns or raises."""

    @wraps(handler)
    def invoke(*args: Any, **kwargs: Any) -> Any:
        token = _pending.set([])
        try:
            return handler(*args, **kwargs)
        finally:
            recorded = _pending.get() or []
            _pending.reset(token)
            if recorded:
                _print(recorded)

    return invoke  # type: ignore[return-value]


def namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE


def _print(recorded: list[Recorded]) -> None:
    """One EMF line per (dimensions, org): a line has one value per dimension and property."""
    # Imported on first use: the API's cold start pays for it only once it records something.
    from aws_lambda_powertools.metrics import EphemeralMetrics

    groups: dict[tuple[tuple[tuple[str, str], ...], str | None], list[Recorded]] = {}
    for item in recorded:
        groups.setdefault((item.dimensions, item.org_id), []).append(item)
    service = os.environ.get("POWERTOOLS_SERVICE_NAME") or "stepwise"
    for (dimensions, org_id), items in groups.items():
        line = EphemeralMetrics(namespace=namespace(), service=service)
        for name, value in dimensions:
            line.add_dimension(name=name, value=value)
        if org_id is not None:
            line.add_metadata(key="org_id", value=org_id)
        for item in items:
            line.add_metric(name=item.metric.value, unit=UNITS[item.metric], value=item.value)
        if line.metric_set:  # Powertools prints by itself every 100 values of a metric
            line.flush_metrics()
