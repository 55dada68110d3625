"""The capacity model: how many runs and nodes a second each default quota allows.

What one unit of work consumes (state transitions, executions started, task callbacks, Lambda
time, DynamoDB units, events) is counted by the cost bench from real runs on the local stack
(``bench/results.json``); the quotas are AWS's defaults for an account in us-east-1, us-west-2
or eu-west-1. Dividing one by the other gives the rate each quota allows, which one binds first,
and what to raise for a target rate. ``make bench`` writes the rendering into
docs/operations.md between the capacity markers, and a test keeps the two equal.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import marked

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
OPERATIONS = ROOT / "docs" / "operations.md"
BEGIN = "<!-- capacity:begin (make bench writes this table from bench/results.json) -->"
END = "<!-- capacity:end -->"

# Every function's memory (template.yaml Globals.Function.MemorySize, checked by a test): Lambda
# concurrency is invocations times duration, and the bench measures GB-seconds.
LAMBDA_MEMORY_GB = 0.5

# The target of issue 13 and the shape of run it is met with: 1,000 webhook nodes (the kind that
# costs the most quota) a second, in runs of five nodes.
TARGET_NODES_PER_SECOND = 1000
NODES_PER_RUN = 5

UNITS = {
    "run_overhead": "run",
    "native_node": "native node",
    "webhook_node": "webhook node",
    "for_each_item": "for_each item",
}


@dataclass(frozen=True)
class Quota:
    name: str
    per_second: float  # the sustained rate (a token bucket's refill rate, or a steady limit)
    burst: str  # what a burst may take above it, as AWS states it
    adjustable: bool
    note: str

    def consumed(self, billed: dict[str, float]) -> float:
        """How much of this quota one unit with these billed quantities takes."""
        return CONSUMPTION[self.name](billed)


QUOTAS = [
    Quota(
        "Step Functions StateTransition (Standard)",
        1500,
        "bucket 5,000",
        True,
        "800/s refill, bucket 800 in other regions; new accounts start lower",
    ),
    Quota(
        "Step Functions StartExecution (Standard)",
        300,
        "bucket 1,300",
        True,
        "150/s refill, bucket 800 in other regions",
    ),
    Quota(
        "Step Functions SendTaskSuccess",
        500,
        "bucket 3,000",
        True,
        "300/s, bucket 1,500 in other regions; SendTaskFailure and SendTaskHeartbeat have "
        "buckets of their own of the same size",
    ),
    Quota(
        "Lambda concurrent executions",
        1000,
        "each function scales by 1,000 every 10 s",
        True,
        "per region, shared with every other function of the account; new accounts may have "
        "less: read yours in Service Quotas",
    ),
    Quota(
        "DynamoDB on-demand table writes (WCU/s)",
        40000,
        "none above it",
        True,
        "per table; one partition takes 1,000 WCU/s (below)",
    ),
    Quota(
        "DynamoDB on-demand table reads (RCU/s)",
        40000,
        "none above it",
        True,
        "per table; one partition serves 3,000 RCU/s",
    ),
    Quota(
        "EventBridge PutEvents",
        10000,
        "bucket of the same size",
        True,
        "lower in smaller regions (read yours in Service Quotas)",
    ),
]

CONSUMPTION = {
    "Step Functions StateTransition (Standard)": lambda b: b["transitions"],
    "Step Functions StartExecution (Standard)": lambda b: b.get("executions_started", 0.0),
    "Step Functions SendTaskSuccess": lambda b: b.get("task_successes", 0.0),
    "Lambda concurrent executions": lambda b: b["lambda_gb_seconds"] / LAMBDA_MEMORY_GB,
    "DynamoDB on-demand table writes (WCU/s)": lambda b: b["write_units"],
    "DynamoDB on-demand table reads (RCU/s)": lambda b: b["read_units"],
    "EventBridge PutEvents": lambda b: b.get("events_put", 0.0),
}


def allowed(quota: Quota, billed: dict[str, float]) -> float | None:
    """Units a second the quota allows when nothing else uses it (None: the unit takes none)."""
    used = quota.consumed(billed)
    return quota.per_second / used if used > 0 else None


def needed(quota: Quota, per_unit: dict[str, Any]) -> float:
    """What the target (``TARGET_NODES_PER_SECOND`` webhook nodes in runs of
    ``NODES_PER_RUN``) takes of the quota each second."""
    nodes = TARGET_NODES_PER_SECOND
    runs = nodes / NODES_PER_RUN
    return nodes * quota.consumed(per_unit["webhook_node"]["billed"]) + runs * quota.consumed(
        per_unit["run_overhead"]["billed"]
    )


def binding(per_unit: dict[str, Any], unit: str) -> tuple[str, float] | None:
    """The quota that binds first for one kind of unit, and the rate it allows."""
    rates = [
        (quota.name, rate)
        for quota in QUOTAS
        if (rate := allowed(quota, per_unit[unit]["billed"])) is not None
    ]
    return min(rates, key=lambda pair: pair[1]) if rates else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "none"
    return f"{value:,.0f}" if value >= 10 else f"{value:,.2f}"


def render(results: dict[str, Any]) -> str:
    per_unit = results["cost"]["per_unit"]
    header = " | ".join(f"per {label}" for label in UNITS.values())
    lines = [
        f"Measured by `make bench` at commit `{results['commit']}` ({results['date']}).",
        "",
        f"| quota (default, us-east-1) | per second | {header} | webhook nodes/s it allows |"
        f" needed for {TARGET_NODES_PER_SECOND:,} webhook nodes/s |",
        "|---|---|" + "---|" * len(UNITS) + "---|---|",
    ]
    for quota in QUOTAS:
        used = [_fmt_use(quota.consumed(per_unit[unit]["billed"])) for unit in UNITS]
        webhook = allowed(quota, per_unit["webhook_node"]["billed"])
        lines.append(
            f"| {quota.name} | {quota.per_second:,.0f} ({quota.burst}) | {' | '.join(used)} "
            f"| {_fmt(webhook)} | {_fmt(needed(quota, per_unit))} |"
        )
    lines += ["", "Binds first, with every other quota at its default:", ""]
    for unit, label in UNITS.items():
        bound = binding(per_unit, unit)
        if bound is None:
            lines.append(f"- a {label}: no quota above")
        else:
            lines.append(f"- {label}s: {bound[0]}, at {_fmt(bound[1])} a second")
    short = [
        f"{quota.name} ({_fmt(needed(quota, per_unit))}/s needed, {quota.per_second:,.0f} default)"
        for quota in QUOTAS
        if needed(quota, per_unit) > quota.per_second
    ]
    lines += [
        "",
        f"To reach {TARGET_NODES_PER_SECOND:,} webhook nodes a second (runs of {NODES_PER_RUN}"
        " nodes), raise: " + ("; ".join(short) if short else "nothing") + ".",
    ]
    return "\n".join(lines)


def _fmt_use(value: float) -> str:
    return "0" if value == 0 else f"{value:.3g}"


def write_into(doc: Path, table: str) -> None:
    """Replaces what stands between the capacity markers of ``doc`` with ``table``."""
    marked.write_between(doc, BEGIN, END, table, "capacity")


def written(doc: Path) -> str:
    """The table as it stands in ``doc``."""
    return marked.between(doc, BEGIN, END)


if __name__ == "__main__":
    print(render(json.loads(RESULTS.read_text())))
