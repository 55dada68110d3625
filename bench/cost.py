"""Cost per 1,000 node executions, counted from real runs on the local stack.

Each kind of work is measured as the difference between two runs that differ only by it, so
the per-run overhead (creating, starting and finishing the run) is measured apart:

- native node: a chain of 21 transforms against a chain of 1
- emitting native node: a native node plus what ``emit_event`` adds (the chain of 21 with every
  node emitting, against the same chain without)
- webhook node: a root plus 5 action nodes (answered 200 by a real receiver) against the root
- for_each item: a transform over 30 items against one over 10
- retried attempt: an action answered 500 then 200 against one answered 200 at once
"""

import json
import time
from typing import Any

from bench.billing import Bill, load_prices, plain_step_functions_usd, temporal_cloud_usd
from bench.meter import Meter
from stepwise import components
from stepwise_local.events import http_event
from stepwise_local.provision import local_client
from stepwise_local.receiver import Answer, Receiver
from stepwise_local.stack import LocalStack

ORG = "acme"
CHAIN = 21


def chain(count: int, emit_event: bool = False) -> dict[str, Any]:
    nodes = [{"ref": "n0", "kind": "transform", "args": {"i": 0}}]
    nodes += [
        {"ref": f"n{i}", "kind": "transform", "args": {"i": i}, "depends_on": [f"n{i - 1}"]}
        for i in range(1, count)
    ]
    if emit_event:
        for node in nodes:
            node["emit_event"] = True
    return {"name": f"chain-{count}", "nodes": nodes}


def with_root(*nodes: dict[str, Any]) -> dict[str, Any]:
    root = {"ref": "root", "kind": "transform", "args": {"items": "{{ input.items }}"}}
    return {"name": "rooted", "nodes": [root, *({**n, "depends_on": ["root"]} for n in nodes)]}


class CostBench:
    def __init__(self, stack: LocalStack, meter: Meter, receiver: Receiver):
        self.stack = stack
        self.meter = meter
        self.receiver = receiver

    def api(self, method: str, path: str, body: Any = None) -> Any:
        event = http_event(method, f"/v1/orgs/{ORG}{path}", body, self.stack.api_key)
        response = self.stack.invoke("ApiFunction", event)
        assert response["statusCode"] < 300, response["body"]
        return json.loads(response["body"])["data"]

    def action(self, name: str, *answers: Answer) -> None:
        url = self.receiver.answer(f"/{name}", *answers)
        destination = self.api("POST", "/destinations", {"label": name, "url": url})
        definition = {"name": name, "destinations": [{"destination_id": destination["id"]}]}
        self.api("POST", "/actions/definitions", definition)

    def run(self, workflow: dict[str, Any], run_input: Any = None) -> Bill:
        """Starts one run through the API function and bills everything until the stack is
        idle again."""
        workflow_id = self.api("POST", "/workflows", workflow)["id"]
        assert self.stack.wait_idle(timeout=120)
        before = self.meter.snapshot()
        run = self.api("POST", "/runs", {"workflow_id": workflow_id, "input": run_input})
        self._wait(run["id"])
        usage = self.meter.snapshot().minus(before)
        status = self.api("GET", f"/runs/{run['id']}")["status"]
        assert status == "succeeded", f"{workflow['name']}: {status}"
        return Bill.of(usage, transitions(self.stack, run["id"]), api_requests=1)

    def _wait(self, run_id: str) -> None:
        deadline = time.monotonic() + 120
        while not self.stack.wait_idle(timeout=1) or self._open(run_id):
            assert time.monotonic() < deadline, f"run {run_id} did not settle"

    def _open(self, run_id: str) -> bool:
        """Not ended yet: its start or deadline may still wait on RunQueue."""
        run = components.store().runs.get_run(self.stack.org_id, run_id)
        return run.status in ("queued", "running", "paused")


def transitions(stack: LocalStack, run_id: str) -> int:
    """Billed state transitions of the run's executions: every state entered, Map iterations
    included (Step Functions bills each one, retries too). An execution is the run's if its
    input names the run or one of its child runs (names are hashed, so they cannot tell)."""
    sfn = local_client("stepfunctions")
    total = 0
    for machine in ("NodeStateMachine", "ItemsStateMachine"):
        for execution in stack.executions(machine):
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            of = json.loads(described["input"])["run_id"]
            if of != run_id and not of.startswith(f"{run_id}."):
                continue
            pages = sfn.get_paginator("get_execution_history").paginate(
                executionArn=execution["executionArn"]
            )
            total += sum(
                1 for page in pages for e in page["events"] if e["type"].endswith("StateEntered")
            )
    return total


def measure() -> dict[str, Any]:
    prices = load_prices()
    with (
        Receiver() as receiver,
        LocalStack(parameters={"LogLevel": "WARNING"}) as stack,
        Meter() as meter,
    ):
        bench = CostBench(stack, meter, receiver)
        bench.action("ok", Answer(200, {"ok": True}))
        bench.action("flaky", Answer(500, {}), Answer(200, {"ok": True}))
        one = bench.run(chain(1))
        many = bench.run(chain(CHAIN))
        emitting = bench.run(chain(CHAIN, emit_event=True))
        root = bench.run(with_root(), {"items": []})
        hooks = bench.run(
            with_root(*({"ref": f"call{i}", "kind": "action", "action": "ok"} for i in range(5))),
            {"items": []},
        )
        retry = {"max_attempts": 2, "initial_interval": 0}
        once = bench.run(
            with_root({"ref": "call", "kind": "action", "action": "ok", "retry": retry}),
            {"items": []},
        )
        twice = bench.run(
            with_root({"ref": "call", "kind": "action", "action": "flaky", "retry": retry}),
            {"items": []},
        )
        loop = {"ref": "each", "kind": "transform", "for_each": "{{ input.items }}"}
        loop["args"] = {"double": "{{ item }}"}
        ten = bench.run(with_root(loop), {"items": list(range(10))})
        thirty = bench.run(with_root(loop), {"items": list(range(30))})

    native = (many - one) / (CHAIN - 1)
    units = {
        "native_node": native,
        # The same chain with every node emitting an event: what emitting adds to each node.
        "emitting_native_node": native + (emitting - many) / CHAIN,
        "webhook_node": (hooks - root) / 5,
        "for_each_item": (thirty - ten) / 20,
        "retried_attempt": twice - once,
        "run_overhead": one - native,
        f"average_node_of_a_{CHAIN}_node_run": many / CHAIN,
    }
    invocations = many.lambda_invocations or 1
    gb_seconds_each = many.lambda_gb_seconds / invocations
    temporal_actions = {  # one per activity attempt; a run start is one more
        "native_node": 1,
        "emitting_native_node": 1,
        "webhook_node": 1,
        "for_each_item": 1,
        "retried_attempt": 1,
        "run_overhead": 1,
        f"average_node_of_a_{CHAIN}_node_run": 1 + 1 / CHAIN,
    }
    results: dict[str, Any] = {"prices_checked": prices["checked"], "per_unit": {}}
    for name, bill in units.items():
        per_thousand = (bill * 1000).usd(prices)
        results["per_unit"][name] = {
            "billed": bill.rounded(),
            "usd_per_1000": {k: round(v, 6) for k, v in per_thousand.items()},
            "temporal_cloud_usd_per_1000": round(
                temporal_cloud_usd(1000 * temporal_actions[name], prices), 6
            ),
            "plain_step_functions_usd_per_1000": round(
                plain_step_functions_usd(1000, gb_seconds_each, prices), 6
            ),
        }
    results["lambda_gb_seconds_per_invocation"] = round(gb_seconds_each, 6)
    return results


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
