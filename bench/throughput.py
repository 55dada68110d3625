"""Throughput of the local stack: a 500-node fan-out, a 200-run burst, and how close a DAG of
waits comes to its critical path.

These are figures of the local stack (moto in one process on this machine), for comparing
commits, not promises about AWS.
"""

import concurrent.futures
import time
from typing import Any

import httpx

from stepwise import components
from stepwise_local.stack import LocalStack

SETTLED = {"succeeded", "failed", "cancelled", "timed_out"}


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
        self.org_id = stack.org_id
        self.http = httpx.Client(
            base_url=f"{base}/v1/orgs/{stack.org_id}",
            headers={"Authorization": f"Bearer {stack.api_key}"},
            timeout=60,
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
        run = self.wait(self.start(workflow_id))
        seconds = time.perf_counter() - started
        assert run["status"] == "succeeded", run["error"]
        return seconds

    def wait(self, run_id: str, timeout: float = 600) -> dict[str, Any]:
        """Waits on the run item (one GetItem a poll), then reads the run once through the API:
        polling the API would read every node item each time and slow the stack it measures."""
        store = components.store()
        deadline = time.monotonic() + timeout
        while store.runs.get_run(self.org_id, run_id).status not in SETTLED:
            assert time.monotonic() < deadline, f"{run_id} still running"
            time.sleep(0.05)
        run = self.http.get(f"/runs/{run_id}").json()["data"]
        assert run["status"] in SETTLED, run["status"]
        return run


def measure(width: int = 500, burst: int = 200) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with LocalStack(parameters={"LogLevel": "WARNING", "OrgRateLimit": "100000"}) as stack:
        client = Client(stack.serve_in_background(), stack)

        seconds = client.one_run(fan_out(width))
        results["fan_out"] = {
            "nodes": width,
            "seconds": round(seconds, 2),
            "nodes_per_second": round(width / seconds, 1),
        }

        workflow_id = client.workflow(diamond())
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            run_ids = list(pool.map(lambda n: client.start(workflow_id, {"n": n}), range(burst)))
            runs = list(pool.map(client.wait, run_ids))
        seconds = time.perf_counter() - started
        succeeded = sum(1 for r in runs if r["status"] == "succeeded")
        results["burst"] = {
            "runs": burst,
            "succeeded": succeeded,
            "seconds": round(seconds, 2),
            "runs_per_second": round(burst / seconds, 1),
        }

        body, critical = waits()
        seconds = client.one_run(body)
        results["critical_path"] = {
            "critical_path_seconds": critical,
            "wall_seconds": round(seconds, 2),
            "ratio": round(seconds / critical, 2),
        }
        assert stack.wait_idle(timeout=120)
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
