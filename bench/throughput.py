"""Throughput of the local stack: a 500-node fan-out, a 200-run burst, and how close a DAG of
waits comes to its critical path.

These are figures of the local stack (moto in one process on this machine), for comparing
commits, not promises about AWS. ``profiles`` runs the fan-out and the burst once more each,
under cProfile over every thread (bench/profile.py), to say where their time goes.
"""

import concurrent.futures
import time
from typing import Any

import httpx

from bench.executions import busy
from bench.profile import profile
from stepwise_local.stack import LocalStack

SETTLED = {"succeeded", "failed", "cancelled", "timed_out"}
OPEN = ("queued", "running", "paused")


def fan_out(width: int) -> dict[str, Any]:
    root = {"ref": "root", "kind": "transform", "args": {"n": 1}}
    leaves = [
        {"ref": f"leaf{i}", "kind": "transform", "args": {"i": i}, "depends_on": ["root"]}
        for i in range(width - 1)
    ]
    return {"name": f"fan-out-{width}", "nodes": [root, *leaves], "returns": "done"}


def diamond() -> dict[str, Any]:
    return {
        "name": "diamond",
        "nodes": [
            {"ref": "a", "kind": "transform", "args": {"n": "{{ input.n }}"}},
            {"ref": "b", "kind": "transform", "args": 1, "depends_on": ["a"]},
            {"ref": "c", "kind": "transform", "args": 2, "depends_on": ["a"]},
            {"ref": "d", "kind": "transform", "args": 3, "depends_on": ["b", "c"]},
        ],
    }


def waits() -> tuple[dict[str, Any], float]:
    """a (1 s) -> b (2 s) and a -> c (1 s); d joins b and c: the critical path is 3 s."""
    nodes = [
        {"ref": "a", "kind": "wait", "start_delay": 1},
        {"ref": "b", "kind": "wait", "start_delay": 2, "depends_on": ["a"]},
        {"ref": "c", "kind": "wait", "start_delay": 1, "depends_on": ["a"]},
        {"ref": "d", "kind": "transform", "args": "done", "depends_on": ["b", "c"]},
    ]
    return {"name": "waits", "nodes": nodes}, 3.0


class Client:
    def __init__(self, base: str, stack: LocalStack):
        self.stack = stack
        self.http = httpx.Client(
            base_url=f"{base}/v1/orgs/{stack.org_id}",
            headers={"Authorization": f"Bearer {stack.api_key}"},
            # A request waits its turn at the local DynamoDB lock behind the whole burst, and
            # far longer under the profiler on a loaded machine (60 s was passed there).
            timeout=600,
        )

    def workflow(self, body: dict[str, Any]) -> str:
        response = self.http.post("/workflows", json=body)
        assert response.status_code == 201, response.text
        return response.json()["data"]["id"]

    def start(self, workflow_id: str, run_input: Any = None) -> str:
        response = self.http.post("/runs", json={"workflow_id": workflow_id, "input": run_input})
        assert response.status_code == 201, response.text
        return response.json()["data"]["id"]

    def one_run(self, body: dict[str, Any]) -> float:
        """Seconds from starting one run of a new workflow until it has succeeded."""
        workflow_id = self.workflow(body)
        started = time.perf_counter()
        run_id = self.start(workflow_id)
        self.wait_all(timeout=600)
        seconds = time.perf_counter() - started
        run = self.run(run_id)
        assert run["status"] == "succeeded", run["error"]
        return seconds

    def open_runs(self) -> int:
        """The org's runs not ended yet, from the API's status counters (reading each run
        would read every node item)."""
        total = 0
        for status in OPEN:
            response = self.http.get("/runs", params={"status": status, "limit": 1})
            assert response.status_code == 200, response.text
            total += response.json()["total"]
        return total

    def wait_all(self, timeout: float = 600) -> None:
        """Until every run of the org has ended (the bench's stack runs nothing else). The API
        is asked only once the stack looks idle (no execution, no queued message: read from
        moto's backends in this process): API reads take the local DynamoDB lock, and
        polling them would slow the very work being measured."""
        deadline = time.monotonic() + timeout
        while busy(self.stack) or self.open_runs():
            assert time.monotonic() < deadline, "runs still open"
            time.sleep(0.1)

    def run(self, run_id: str) -> dict[str, Any]:
        run = self.http.get(f"/runs/{run_id}").json()["data"]
        assert run["status"] in SETTLED, run["status"]
        return run


def run_fan_out(client: Client, width: int) -> dict[str, Any]:
    seconds = client.one_run(fan_out(width))
    return {
        "nodes": width,
        "seconds": round(seconds, 2),
        "nodes_per_second": round(width / seconds, 1),
    }


def run_burst(client: Client, burst: int) -> dict[str, Any]:
    workflow_id = client.workflow(diamond())
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        run_ids = list(pool.map(lambda n: client.start(workflow_id, {"n": n}), range(burst)))
    client.wait_all()
    seconds = time.perf_counter() - started
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        runs = list(pool.map(client.run, run_ids))
    succeeded = sum(1 for r in runs if r["status"] == "succeeded")
    return {
        "runs": burst,
        "succeeded": succeeded,
        "seconds": round(seconds, 2),
        "runs_per_second": round(burst / seconds, 1),
    }


def _stack() -> LocalStack:
    return LocalStack(parameters={"LogLevel": "WARNING", "OrgRateLimit": "100000"})


def measure(width: int = 500, burst: int = 200) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with _stack() as stack:
        client = Client(stack.serve_in_background(), stack)
        results["fan_out"] = run_fan_out(client, width)
        results["burst"] = run_burst(client, burst)
        body, critical = waits()
        seconds = client.one_run(body)
        results["critical_path"] = {
            "critical_path_seconds": critical,
            "wall_seconds": round(seconds, 2),
            "ratio": round(seconds / critical, 2),
        }
        assert stack.wait_idle(timeout=120)
    return results


def profiles(width: int = 500, burst: int = 200) -> dict[str, Any]:
    """The fan-out and the burst once more, each in a stack of its own under cProfile (the
    profiler slows them: their rates here are not the throughput above)."""

    def profiled(workload: Any) -> dict[str, Any]:
        def whole() -> dict[str, Any]:
            with _stack() as stack:
                client = Client(stack.serve_in_background(), stack)
                measured = workload(client)
                assert stack.wait_idle(timeout=120)
                return measured

        measured, summary = profile(whole)
        return {"measured_under_profile": measured, **summary}

    return {
        "fan_out": profiled(lambda client: run_fan_out(client, width)),
        "burst": profiled(lambda client: run_burst(client, burst)),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
