"""A bulk action over N runs on the local stack: how long the pages take, and what they cost in
DynamoDB reads and writes and SQS messages (``python -m bench.bulk --runs 10000``).

The runs are created first (their records only, as ``POST /runs`` writes them; not measured),
queued, since the stack executes nothing. Then one bulk ``pause`` over
them is accepted by the API and its pages are fed to the bulk function one at a time, as
Lambda's event source mapping would, under the meter (bench/meter.py). A measurement, not a
test: the numbers go to stdout as JSON.
"""

import argparse
import json
import time
from typing import Any

from bench.meter import Meter
from stepwise import components
from stepwise.core.ids import new_id
from stepwise_local.stack import LocalStack
from tests.conftest import QUIET
from tests.helpers import http_event


def _call(stack: LocalStack, method: str, path: str, body: Any = None) -> dict[str, Any]:
    response = stack.invoke("ApiFunction", http_event(method, f"/v1/orgs/acme{path}", body))
    assert response["statusCode"] < 300, response
    return json.loads(response["body"])["data"]


def measure(runs: int, action: str = "pause", progress: bool = False) -> dict[str, Any]:
    with LocalStack(execute_state_machines=False, parameters=QUIET) as stack:
        workflow = _call(
            stack,
            "POST",
            "/workflows",
            {"name": "w", "nodes": [{"ref": "a", "kind": "transform", "args": 1}]},
        )["id"]
        seeded = time.perf_counter()
        store = components.store()
        version = store.workflows.get_workflow("acme", workflow)
        for i in range(runs):  # records only: the job's cost does not depend on executions
            origin = {"role": "key", "created_by": "key:bench"}
            store.runs.create_run("acme", new_id("run"), version, {"n": i}, origin)
            if progress and (i + 1) % 1000 == 0:
                print(f"seeded {i + 1} runs in {time.perf_counter() - seeded:.0f} s", flush=True)
        seed_seconds = time.perf_counter() - seeded
        with Meter() as meter:
            began = time.perf_counter()
            job = _call(stack, "POST", "/runs/bulk", {"action": action, "filter": {}})
            accepted = time.perf_counter() - began
            pages = stack.drain("BulkFunction")
            seconds = time.perf_counter() - began
            usage = meter.snapshot()
        done = _call(stack, "GET", f"/runs/bulk/{job['id']}")
    calls = {k: v for k, v in sorted(usage.calls.items()) if k.startswith(("dynamodb", "sqs"))}
    return {
        "runs": runs,
        "action": action,
        "seed_seconds": round(seed_seconds, 1),
        "accept_seconds": round(accepted, 3),
        "job_seconds": round(seconds, 1),
        "runs_per_second": round(runs / seconds, 1),
        "pages": pages,
        "job": {k: done[k] for k in ("status", "matched", "done", "skipped", "failed", "pages")},
        "calls": calls,
        "read_units": round(usage.read_units, 1),
        "write_units": round(usage.write_units, 1),
        "read_units_per_run": round(usage.read_units / runs, 2),
        "write_units_per_run": round(usage.write_units / runs, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--action", default="pause", choices=("pause", "cancel"))
    args = parser.parse_args()
    print(json.dumps(measure(args.runs, args.action, progress=True), indent=2), flush=True)


if __name__ == "__main__":
    main()
