"""``make bench``: every benchmark, then bench/results.json and bench/REPORT.md.

The budgets are checked here and reported as pass or fail; they are never timed tests.
"""

import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import api_overhead, capacity, coldstart, cost, dispatch, throughput
from bench.billing import load_prices
from bench.report import render

HERE = Path(__file__).resolve().parent

BUDGETS = {
    "transitions_per_native_node": 6,
    "lambda_invocations_per_native_node": 2,
    "write_units_per_native_node": 3,
    "api_cold_start_ratio_to_bare_fastapi_mangum": 1.2,
    "usd_per_1000_native_nodes": 0.05,
    "usd_per_1000_native_nodes_aim": 0.01,
}


def budgets(results: dict[str, Any]) -> list[dict[str, Any]]:
    native = results["cost"]["per_unit"]["native_node"]
    measured = {
        "transitions_per_native_node": native["billed"]["transitions"],
        "lambda_invocations_per_native_node": native["billed"]["lambda_invocations"],
        "write_units_per_native_node": native["billed"]["write_units"],
        "api_cold_start_ratio_to_bare_fastapi_mangum": results["cold_start"]["api"][
            "ratio_to_bare_fastapi_mangum"
        ],
        "usd_per_1000_native_nodes": native["usd_per_1000"]["total"],
        "usd_per_1000_native_nodes_aim": native["usd_per_1000"]["total"],
    }
    return [
        {
            "budget": name,
            "limit": limit,
            "measured": measured[name],
            "passed": measured[name] <= limit,
        }
        for name, limit in BUDGETS.items()
    ]


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 git on PATH
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE.parent,
    )
    return done.stdout.strip() or "unknown"


def main() -> int:
    started = time.time()
    results: dict[str, Any] = {
        "commit": commit(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "system": platform.platform(),
            "cpus": _cpus(),
        },
        "prices": load_prices(),
    }
    steps = [
        ("cold_start", coldstart.measure),
        ("api_overhead", api_overhead.measure),
        ("cost", cost.measure),
        ("throughput", throughput.measure),
        ("dispatcher", dispatch.measure),
    ]
    for name, measure in steps:
        print(f"bench: {name} ...", flush=True)
        step_started = time.time()
        results[name] = measure()
        print(f"bench: {name} done in {time.time() - step_started:.0f} s", flush=True)
    results["budgets"] = budgets(results)
    results["seconds"] = round(time.time() - started)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "REPORT.md").write_text(render(results))
    capacity.write_into(capacity.OPERATIONS, capacity.render(results))
    failed = [b["budget"] for b in results["budgets"] if not b["passed"]]
    print(
        "bench: wrote bench/results.json, bench/REPORT.md and the capacity table of"
        f" docs/operations.md in {results['seconds']} s"
    )
    print("bench: budgets", "all passed" if not failed else f"failed: {', '.join(failed)}")
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
