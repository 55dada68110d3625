"""What ``make smoke`` checks against a stack, deployed or local: a diamond succeeds with its
output, a failing node fails its run naming the node, a cancelled run stops, and a wrong key is
refused. Each check creates its own workflow (named ``smoke-…``) and run; nothing is deleted."""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SETTLED = {"succeeded", "failed", "cancelled", "timed_out"}


@dataclass
class Result:
    name: str
    passed: bool
    detail: str


class Api:
    """The org's API with one key; every answer's status is checked where it is used."""

    def __init__(self, base_url: str, org: str, key: str, timeout: float = 30):
        self.client = httpx.Client(
            base_url=f"{base_url.rstrip('/')}/v1/orgs/{org}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout,
        )

    def call(self, method: str, path: str, expect: int, body: Any = None) -> Any:
        response = self.client.request(method, path, json=body)
        if response.status_code != expect:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()["data"] if response.content else None

    def run(self, workflow: dict[str, Any], run_input: Any = None) -> str:
        workflow_id = self.call("POST", "/workflows", 201, workflow)["id"]
        body = {"workflow_id": workflow_id, "input": run_input}
        return self.call("POST", "/runs", 201, body)["id"]

    def settled(self, run_id: str, within: float) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            run = self.call("GET", f"/runs/{run_id}", 200)
            if run["status"] in SETTLED:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} still {run['status']} after {within} s")
            time.sleep(0.5)


def diamond(api: Api) -> str:
    workflow = {**_example("diamond.json"), "name": "smoke-diamond"}
    run = api.settled(api.run(workflow, {"name": "ada", "n": 2}), within=60)
    expected = {"result": {"from_b": [2, 2], "from_c": "hello ada!"}}
    assert run["status"] == "succeeded", run.get("error")
    assert run["output"] == expected, run["output"]
    return f"run {run['id']} succeeded with the expected output"


def failing_node(api: Api) -> str:
    workflow = {
        "name": "smoke-failing",
        "nodes": [
            {"ref": "ok", "kind": "transform", "args": {"n": 1}},
            {"ref": "bad", "kind": "transform", "depends_on": ["ok"], "args": "{{ abs('x') }}"},
            {"ref": "never", "kind": "transform", "depends_on": ["bad"]},
        ],
    }
    run = api.settled(api.run(workflow), within=60)
    statuses = {n["ref"]: n["status"] for n in run["nodes"]}
    assert run["status"] == "failed" and run["error"]["node"] == "bad", run
    assert statuses == {"ok": "succeeded", "bad": "failed", "never": "cancelled"}, statuses
    return f"run {run['id']} failed at node bad ({run['error']['type']})"


def cancel(api: Api) -> str:
    workflow = {
        "name": "smoke-cancel",
        "nodes": [{"ref": "wait", "kind": "wait", "start_delay": 600}],
    }
    run_id = api.run(workflow)
    time.sleep(1)
    api.call("POST", f"/runs/{run_id}/cancel", 202, {"reason": "smoke test"})
    run = api.settled(run_id, within=60)
    assert run["status"] == "cancelled", run["status"]
    assert run["nodes"][0]["status"] == "cancelled", run["nodes"]
    return f"run {run_id} cancelled"


def wrong_key(base_url: str, org: str) -> Callable[[Api], str]:
    def check(_: Api) -> str:
        refused = Api(base_url, org, "swk_not_a_key").client.get("/runs")
        assert refused.status_code == 401, refused.status_code
        return "a wrong key gets 401"

    return check


def run_all(base_url: str, org: str, key: str) -> list[Result]:
    api = Api(base_url, org, key)
    checks = [
        ("diamond", diamond),
        ("failing node", failing_node),
        ("cancel", cancel),
        ("wrong key", wrong_key(base_url, org)),
    ]
    results = []
    for name, check in checks:
        try:
            results.append(Result(name, True, check(api)))
        except Exception as exc:  # noqa: BLE001 a check that breaks is reported, and the rest run
            results.append(Result(name, False, f"{type(exc).__name__}: {exc}"))
    return results


def _example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())
