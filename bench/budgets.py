"""The budgets `make bench` checks: a broken budget fails the bench; an aim is only reported.

The dollar budgets are issue 17's, per 1,000 of each kind of work at us-east-1 list prices, on
the rows of the cost table; the count budgets (per native node) and the API's cold start are
older and still hold.
"""

from dataclasses import dataclass
from typing import Any

# The cost table's rows: one per kind of work, named as issue 17's table names them.
ROWS = {
    "native_node": "native node",
    "webhook_node": "webhook node answered at once",
    "webhook_ack_callback_node": "webhook node with `ack` then callback",
    "retried_attempt": "retried webhook attempt",
    "for_each_item": "for_each item (transform or action)",
    "run_overhead": "run (create, start, finish)",
}


@dataclass(frozen=True)
class Budget:
    name: str
    limit: float
    measure: Any  # results -> the measured value
    aim: float | None = None
    unit: str = ""


def _usd(unit: str):
    return lambda results: results["cost"]["per_unit"][unit]["usd_per_1000"]["total"]


def _native(field: str):
    return lambda results: results["cost"]["per_unit"]["native_node"]["billed"][field]


BUDGETS = [
    Budget("usd_per_1000_webhook_nodes_answered_at_once", 0.02, _usd("webhook_node"), 0.01, "$"),
    Budget(
        "usd_per_1000_webhook_nodes_ack_then_callback",
        0.06,
        _usd("webhook_ack_callback_node"),
        0.04,
        "$",
    ),
    Budget("usd_per_1000_retried_webhook_attempts", 0.02, _usd("retried_attempt"), None, "$"),
    Budget("usd_per_1000_for_each_items", 0.01, _usd("for_each_item"), None, "$"),
    Budget("usd_per_1000_runs", 0.03, _usd("run_overhead"), 0.02, "$"),
    Budget("usd_per_1000_native_nodes", 0.003, _usd("native_node"), None, "$"),
    Budget("transitions_per_native_node", 6, _native("transitions")),
    Budget("lambda_invocations_per_native_node", 2, _native("lambda_invocations")),
    Budget("write_units_per_native_node", 3, _native("write_units")),
    Budget(
        "api_cold_start_ratio_to_bare_fastapi_mangum",
        1.2,
        lambda results: results["cold_start"]["api"]["ratio_to_bare_fastapi_mangum"],
    ),
]

# The dollar budget of each cost-table row (for the tables that show them beside the cost).
ROW_BUDGETS = {
    "webhook_node": "usd_per_1000_webhook_nodes_answered_at_once",
    "webhook_ack_callback_node": "usd_per_1000_webhook_nodes_ack_then_callback",
    "retried_attempt": "usd_per_1000_retried_webhook_attempts",
    "for_each_item": "usd_per_1000_for_each_items",
    "run_overhead": "usd_per_1000_runs",
    "native_node": "usd_per_1000_native_nodes",
}


def check(results: dict[str, Any], budgets: list[Budget] = BUDGETS) -> list[dict[str, Any]]:
    """Every budget with what was measured, pass or fail, and its aim met or missed."""
    checked = []
    for budget in budgets:
        measured = budget.measure(results)
        checked.append(
            {
                "budget": budget.name,
                "label": _label(budget),
                "unit": budget.unit,
                "limit": budget.limit,
                "measured": measured,
                "passed": measured <= budget.limit,
                "aim": budget.aim,
                "aim_met": None if budget.aim is None else measured <= budget.aim,
            }
        )
    return checked


def _label(budget: Budget) -> str:
    rows = {name: row for row, name in ROW_BUDGETS.items()}
    if budget.name in rows:
        return f"{ROWS[rows[budget.name]]}, $ per 1,000"
    return budget.name.replace("_", " ")


def failed(checked: list[dict[str, Any]]) -> list[str]:
    return [b["budget"] for b in checked if not b["passed"]]


def by_row(checked: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The checked dollar budget of each cost-table row that has one."""
    named = {b["budget"]: b for b in checked}
    return {row: named[name] for row, name in ROW_BUDGETS.items() if name in named}
