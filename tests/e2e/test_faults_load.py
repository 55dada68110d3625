"""Under the faults AWS has and moto does not (transaction conflicts, throttling, Lambda service
errors), a burst of concurrent runs all succeed, exactly counted. ``-m faults`` selects it."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.conftest import SETTLED, create_workflow, start_run, wait_for_run

# The test's own waits decide (300 s for the runs to settle, then each run read back), not
# pytest-timeout's 300 s for the whole test, which under `pytest -n 2` on a loaded 2-core
# machine cut it off mid-wait: what it proves is that every run succeeds, not how fast.
pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

FAULTS = (
    "transaction_conflict=0.1,throttle=0.05,lambda_error=0.05,lambda_lost=0.05,"
    "express_replay=0.05,seed=13"
)
RUNS = 100
ORG, KEY = "loadco", "swk_test_loadco_key"


def five_nodes() -> dict:
    """a -> (b, c) -> d -> e. b and d retry until their first attempt is accepted, which gives
    them node executions of their own (a, c and e run inline in the step that readies them)."""
    once = {"max_attempts": 3, "retry_until": "{{ attempt >= `1` }}"}
    return {
        "name": "five",
        "nodes": [
            {"ref": "a", "kind": "transform", "args": {"n": "{{ input.n }}"}},
            {
                "ref": "b",
                "kind": "transform",
                "args": {"n": "{{ nodes.a.output.n }}"},
                "depends_on": ["a"],
                "retry": once,
            },
            {
                "ref": "c",
                "kind": "transform",
                "args": {"m": "{{ nodes.a.output.n }}"},
                "depends_on": ["a"],
            },
            {
                "ref": "d",
                "kind": "transform",
                "args": {"sum": "{{ [nodes.b.output.n, nodes.c.output.m] }}"},
                "depends_on": ["b", "c"],
                "retry": once,
            },
            {
                "ref": "e",
                "kind": "transform",
                "args": {"last": "{{ nodes.d.output.sum }}"},
                "depends_on": ["d"],
            },
        ],
    }


def total(api: httpx.Client, status: str | None = None) -> int:
    params = {"limit": 1, **({"status": status} if status else {})}
    response = api.get("/runs", params=params)
    assert response.status_code == 200, response.text
    return response.json()["total"]


def wait_settled(api: httpx.Client, count: int, timeout: float) -> None:
    """Until ``count`` runs have settled, by the org's counters (one cheap read a second, where
    polling every run would take the CPU the runs need)."""
    deadline = time.monotonic() + timeout
    while sum(total(api, s) for s in SETTLED) < count:
        assert time.monotonic() < deadline, {s: total(api, s) for s in ("queued", "running")}
        time.sleep(1)


def test_a_hundred_concurrent_runs_all_succeed_under_faults(local_stack):
    local_stack.add_api_key(ORG, KEY)
    api = httpx.Client(
        base_url=f"{local_stack.base_url}/v1/orgs/{ORG}",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
    )
    with api, local_stack.injecting_faults(FAULTS):
        workflow_id = create_workflow(api, five_nodes())
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=20) as pool:
            run_ids = list(pool.map(lambda n: start_run(api, workflow_id, {"n": n}), range(RUNS)))
        wait_settled(api, RUNS, timeout=300)
        elapsed = time.monotonic() - began
        runs = [wait_for_run(api, run_id, timeout=10) for run_id in run_ids]
        injected = httpx.get(f"{local_stack.base_url}/local/faults").json()["data"]
        totals = {
            status: api.get(
                "/runs", params={"limit": 1, **({"status": status} if status else {})}
            ).json()["total"]
            for status in ("", "queued", "running", "succeeded", "failed", "cancelled", "timed_out")
        }
    print(f"{RUNS} runs under {FAULTS} settled in {elapsed:.1f} s; injected {injected['injected']}")
    assert [r["status"] for r in runs] == ["succeeded"] * RUNS, [
        (r["id"], r["status"], r["error"]) for r in runs if r["status"] != "succeeded"
    ]
    for n, run in enumerate(runs):
        nodes = {node["ref"]: node for node in run["nodes"]}
        assert sorted(nodes) == ["a", "b", "c", "d", "e"], run
        # Infrastructure faults are retried below the engine: no node spent a second attempt.
        assert {(node["status"], node["attempt"]) for node in nodes.values()} == {("succeeded", 1)}
        assert nodes["e"]["output"] == {"last": [n, n]}, run
    assert totals == {
        "": RUNS,
        "queued": 0,
        "running": 0,
        "succeeded": RUNS,
        "failed": 0,
        "cancelled": 0,
        "timed_out": 0,
    }
    assert all(injected["injected"][kind] > 0 for kind in injected["injected"]), injected
    assert not local_stack.running_executions()
