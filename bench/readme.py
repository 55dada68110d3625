"""The README's cost table, rendered from bench/results.json.

``make bench`` writes it into README.md between the cost markers, as it writes the capacity
table of docs/operations.md, and a test keeps the two equal: a stale table fails.
"""

import json
from pathlib import Path
from typing import Any

from bench import marked
from bench.budgets import ROWS, by_row

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
README = ROOT / "README.md"
BEGIN = "<!-- cost:begin (make bench writes this table from bench/results.json) -->"
END = "<!-- cost:end -->"


def _usd(value: float) -> str:
    return f"${value:.4f}" if value < 0.1 else f"${value:.2f}"


def render(results: dict[str, Any]) -> str:
    per_unit = results["cost"]["per_unit"]
    budgets = by_row(results.get("budgets", []))
    lines = [
        f"Measured by `make bench` at commit `{results['commit']}` ({results['date']}), at"
        f" us-east-1 list prices checked {results['prices']['checked']}"
        " ([bench/REPORT.md](bench/REPORT.md) has the counts behind each figure):",
        "",
        "| per 1,000 | Stepwise | of which Step Functions | budget | Temporal Cloud |"
        " plain Step Functions |",
        "|---|---|---|---|---|---|",
    ]
    for unit, label in ROWS.items():
        if unit not in per_unit:
            continue
        row = per_unit[unit]
        usd = row["usd_per_1000"]
        machines = usd.get("stepfunctions", 0.0) + usd.get("stepfunctions_express", 0.0)
        budget = budgets.get(unit)
        if budget is None:
            limit = ""
        else:
            limit = f"≤ ${budget['limit']}" + ("" if budget["passed"] else " (**over**)")
        lines.append(
            f"| {label} | {_usd(usd['total'])} | {_usd(machines)} | {limit} "
            f"| {_usd(row['temporal_cloud_usd_per_1000'])} "
            f"| {_usd(row['plain_step_functions_usd_per_1000'])} |"
        )
    return "\n".join(lines)


def write_into(doc: Path, table: str) -> None:
    """Replaces what stands between the cost markers of ``doc`` with ``table``."""
    marked.write_between(doc, BEGIN, END, table, "cost")


def written(doc: Path) -> str:
    """The table as it stands in ``doc``."""
    return marked.between(doc, BEGIN, END)


if __name__ == "__main__":
    print(render(json.loads(RESULTS.read_text())))
