"""``make bench``: every benchmark, then bench/results.json and bench/REPORT.md.

The budgets are checked here and reported as pass or fail; they are never timed tests.
"""

import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import api_overhead, budgets, capacity, coldstart, cost, dispatch, readme, throughput
from bench.billing import load_prices
from bench.report import render

HERE = Path(__file__).resolve().parent

STEPS = [
    ("cold_start", coldstart.measure),
    ("api_overhead", api_overhead.measure),
    ("cost", cost.measure),
    ("throughput", throughput.measure),
    ("profiles", throughput.profiles),
    ("dispatcher", dispatch.measure),
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


def main(
    steps: list[tuple[str, Callable[[], Any]]] | None = None,
    out: Path = HERE,
    readme_path: Path = readme.README,
    operations_path: Path = capacity.OPERATIONS,
) -> int:
    """Runs every step, writes results.json, REPORT.md, the README's cost table and the
    capacity table of docs/operations.md, then checks the budgets: 1 when one broke."""
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
    for name, measure in STEPS if steps is None else steps:
        print(f"bench: {name} ...", flush=True)
        step_started = time.time()
        results[name] = measure()
        print(f"bench: {name} done in {time.time() - step_started:.0f} s", flush=True)
    results["budgets"] = budgets.check(results)
    results["seconds"] = round(time.time() - started)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "REPORT.md").write_text(render(results))
    readme.write_into(readme_path, readme.render(results))
    capacity.write_into(operations_path, capacity.render(results))
    failed = budgets.failed(results["budgets"])
    print(
        f"bench: wrote results.json and REPORT.md in {out}, the cost table of {readme_path.name}"
        f" and the capacity table of {operations_path.name} in {results['seconds']} s"
    )
    print("bench: budgets", "all passed" if not failed else f"failed: {', '.join(failed)}")
    return 1 if failed else 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
