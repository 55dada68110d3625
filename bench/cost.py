"""Cost per 1,000 node executions, counted from real runs on the local stack.

Each kind of work is measured as the difference between two runs that differ only by it, so
the per-run overhead (creating, starting and finishing the run) is measured apart:

- native node: a chain of 21 transforms against a chain of 1
- emitting native node: a native node plus what ``emit_event`` adds (the chain of 21 with every
  node emitting, against the same chain without)
- webhook node answered at once: a root plus 5 action nodes (answered 200 by a real receiver)
  against the root
- webhook node with ``ack`` then callback: a root plus 5 action nodes whose destination has
  signaling, answered ``ack``; the bench then posts each delivery's callback through the API
  function (``POST /v1/signals/{token}``, from the ``signal_url`` the receiver captured), as
  the destination would, and checks each node took the callback's result
- for_each item: a transform over 30 items against one over 10, and an action over 30 against
  one over 10; the row shows the dearer
- retried attempt: an action answered 500 then 200 against one answered 200 at once

A run has ended when the API says so and nothing of it still runs: no execution, no message
in a queue, and its timers (the run's deadline, an acknowledged attempt's callback timeout, which
would come back minutes later) made due and done. The bench's own reads while it waits are not
counted, nor what the local stack does for itself: its lifecycle events' queue (the stand-in
for a consumer's rule: bench/meter.py bills SQS for the template's queues only) and its
scheduler, paused while the bench measures (the janitor's rule is a cost per hour, not per run).
"""

import json
import time
from typing import Any
from urllib.parse import urlparse

from bench.billing import Bill, load_prices, plain_step_functions_usd, temporal_cloud_usd
from bench.executions import bill_run, busy, due_timers, machine_types
from bench.meter import Meter
from stepwise_local.events import http_event
from stepwise_local.receiver import Answer, Receiver
from stepwise_local.stack import LocalStack

ORG = "acme"
CHAIN = 21
HOOKS = 5
SETTLED = {"succeeded", "failed", "cancelled", "timed_out"}
SIGNALING = {"enabled": True, "default": "ack"}
TIMER_ROUNDS = 5  # a timer of an ended run ends there; one that re-queues itself is a bug


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


def calls(action: str, count: int = HOOKS) -> list[dict[str, Any]]:
    return [{"ref": f"call{i}", "kind": "action", "action": action} for i in range(count)]


def transform_loop() -> dict[str, Any]:
    return {
        "ref": "each",
        "kind": "transform",
        "for_each": "{{ input.items }}",
        "args": {"double": "{{ item }}"},
    }


def action_loop(action: str) -> dict[str, Any]:
    return {
        "ref": "each",
        "kind": "action",
        "action": action,
        "for_each": "{{ input.items }}",
        "args": {"n": "{{ item }}"},
    }


class CostBench:
    def __init__(self, stack: LocalStack, meter: Meter, receiver: Receiver):
        self.stack = stack
        self.meter = meter
        self.receiver = receiver
        self.types = machine_types()

    def api(self, method: str, path: str, body: Any = None) -> Any:
        event = http_event(method, f"/v1/orgs/{ORG}{path}", body, self.stack.api_key)
        response = self.stack.invoke("ApiFunction", event)
        assert response["statusCode"] < 300, response["body"]
        return json.loads(response["body"])["data"]

    def read(self, path: str) -> Any:
        """The bench's own read through the API: not billed."""
        with self.meter.paused():
            return self.api("GET", path)

    def action(self, name: str, *answers: Answer, signaling: bool = False) -> None:
        url = self.receiver.answer(f"/{name}", *answers)
        body: dict[str, Any] = {"label": name, "url": url}
        if signaling:
            body["signaling"] = SIGNALING
        destination = self.api("POST", "/destinations", body)
        definition = {"name": name, "destinations": [{"destination_id": destination["id"]}]}
        self.api("POST", "/actions/definitions", definition)

    def run(self, workflow: dict[str, Any], run_input: Any = None) -> Bill:
        """Starts one run through the API function and bills everything until it has ended
        and the stack is quiet again."""
        run_id, before = self._start(workflow, run_input)
        self._wait(run_id)
        return self._bill(run_id, before, workflow, api_requests=1)

    def run_called_back(
        self, workflow: dict[str, Any], path: str, result: Any, run_input: Any = None
    ) -> Bill:
        """A run whose action nodes' destination answers ``ack``: once each delivery's ack is
        recorded, the bench posts its callback ``{signal: success, result}`` to the delivery's
        ``signal_url`` through the API function (billed: the destination's request), and every
        action node must end with that result as its output."""
        refs = [n["ref"] for n in workflow["nodes"] if n["kind"] == "action"]
        seen = len(self.receiver.at(path))
        run_id, before = self._start(workflow, run_input)
        deliveries = self._deliveries(path, seen, len(refs))
        for delivery in deliveries:
            data = delivery.payload["data"]
            self._wait_acked(data["record"])
            token_path = urlparse(data["signal_url"]).path
            event = http_event("POST", token_path, {"signal": "success", "result": result}, None)
            response = self.stack.invoke("ApiFunction", event)
            assert response["statusCode"] == 202, response["body"]
        self._wait(run_id)
        nodes = {n["ref"]: n for n in self.read(f"/runs/{run_id}")["nodes"]}
        outputs = {ref: nodes[ref]["output"] for ref in refs}
        assert outputs == dict.fromkeys(refs, result), outputs
        return self._bill(run_id, before, workflow, api_requests=1 + len(deliveries))

    def _start(self, workflow: dict[str, Any], run_input: Any) -> tuple[str, Any]:
        workflow_id = self.api("POST", "/workflows", workflow)["id"]
        with self.meter.paused():
            assert self._quiet(timeout=120), "the stack did not settle before the run"
        before = self.meter.snapshot()
        run = self.api("POST", "/runs", {"workflow_id": workflow_id, "input": run_input})
        return run["id"], before

    def _bill(self, run_id: str, before: Any, workflow: dict[str, Any], api_requests: int):
        usage = self.meter.snapshot().minus(before)
        status = self.read(f"/runs/{run_id}")["status"]
        assert status == "succeeded", f"{workflow['name']}: {status}"
        with self.meter.paused():
            executions = bill_run(
                run_id, self.stack.stack.names, self.types, self.meter.billed_seconds
            )
        assert not executions.running, f"{run_id}: {executions.running} executions still run"
        return Bill.of(usage, executions, api_requests=api_requests)

    def _deliveries(self, path: str, seen: int, count: int) -> list[Any]:
        deadline = time.monotonic() + 120
        while len(self.receiver.at(path)) < seen + count:
            assert time.monotonic() < deadline, f"{path}: {count} deliveries did not come"
            time.sleep(0.05)
        return self.receiver.at(path)[seen : seen + count]

    def _wait_acked(self, record: Any) -> None:
        """The destination calls back after its ack was recorded, as a real one would."""
        record_id = record if isinstance(record, str) else record["id"]
        deadline = time.monotonic() + 120
        while True:
            events = self.read(f"/actions/records/{record_id}")["events"]
            if any(e["kind"] == "ack" for e in events):
                return
            assert time.monotonic() < deadline, f"{record_id}: no ack recorded"
            time.sleep(0.05)

    def _wait(self, run_id: str) -> None:
        """Until the API says the run has ended and nothing of it still runs: its timers (the
        run's deadline, a callback's timeout), still delayed when it ended, are made due and
        billed for what they do when they come back."""
        deadline = time.monotonic() + 120
        while self.read(f"/runs/{run_id}")["status"] not in SETTLED:
            assert time.monotonic() < deadline, f"run {run_id} did not end"
            time.sleep(0.05)
        with self.meter.paused():
            for _ in range(TIMER_ROUNDS):
                assert self._quiet(timeout=120), f"run {run_id} ended, the stack did not settle"
                if not due_timers(self.stack, run_id):
                    return
        raise AssertionError(f"run {run_id}: its timers kept queueing more after it ended")

    def _quiet(self, timeout: float) -> bool:
        """No execution running and no message waiting or in flight (``busy``)."""
        deadline = time.monotonic() + timeout
        while busy(self.stack):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


RETRY = {"max_attempts": 2, "initial_interval": 0}
FLAKY = (Answer(500, {}), Answer(200, {"ok": True}))


def warm_up(bench: CostBench, result: Any) -> None:
    bench.run(chain(2, emit_event=True))
    bench.run(with_root(*calls("ok", 1)), {"items": []})
    # Each destination once (its signing secret is then cached, as on a warm container), and
    # its script set again: the retried attempt compares two warm destinations.
    bench.run(
        with_root({"ref": "call", "kind": "action", "action": "flaky", "retry": RETRY}),
        {"items": []},
    )
    bench.receiver.rescript("/flaky", *FLAKY)
    bench.run_called_back(with_root(*calls("acked", 1)), "/acked", result, {"items": []})
    bench.run(with_root(transform_loop()), {"items": [1]})
    bench.run(with_root(action_loop("ok")), {"items": [1]})


def measure() -> dict[str, Any]:
    prices = load_prices()
    with (
        Receiver() as receiver,
        LocalStack(parameters={"LogLevel": "WARNING"}) as stack,
        Meter(stack.stack.stack_name) as meter,
    ):
        # The janitor's rule fires every few minutes whatever runs: a cost per hour, not per
        # run, that would land on whichever run it met. Nothing the bench runs needs a rule
        # or a schedule to fire.
        stack.scheduler_paused = True
        bench = CostBench(stack, meter, receiver)
        bench.action("ok", Answer(200, {"ok": True}))
        bench.action("flaky", *FLAKY)
        bench.action("acked", Answer(202, {"signal": "ack"}), signaling=True)
        result = {"ticket": "T-1"}
        # Every path once before measuring: a function's first invocation in this process
        # imports its modules and builds its routes (a cold start, measured apart), which
        # 1,000 invocations on warm instances would not repeat.
        with meter.paused():
            warm_up(bench, result)
        one = bench.run(chain(1))
        many = bench.run(chain(CHAIN))
        emitting = bench.run(chain(CHAIN, emit_event=True))
        root = bench.run(with_root(), {"items": []})
        hooks = bench.run(with_root(*calls("ok")), {"items": []})
        acked = bench.run_called_back(with_root(*calls("acked")), "/acked", result, {"items": []})
        once = bench.run(
            with_root({"ref": "call", "kind": "action", "action": "ok", "retry": RETRY}),
            {"items": []},
        )
        twice = bench.run(
            with_root({"ref": "call", "kind": "action", "action": "flaky", "retry": RETRY}),
            {"items": []},
        )
        ten = bench.run(with_root(transform_loop()), {"items": list(range(10))})
        thirty = bench.run(with_root(transform_loop()), {"items": list(range(30))})
        ten_calls = bench.run(with_root(action_loop("ok")), {"items": list(range(10))})
        thirty_calls = bench.run(with_root(action_loop("ok")), {"items": list(range(30))})

    native = (many - one) / (CHAIN - 1)
    items = {
        "for_each_item_transform": (thirty - ten) / 20,
        "for_each_item_action": (thirty_calls - ten_calls) / 20,
    }
    units = {
        "native_node": native,
        # The same chain with every node emitting an event: what emitting adds to each node.
        "emitting_native_node": native + (emitting - many) / CHAIN,
        "webhook_node": (hooks - root) / HOOKS,
        "webhook_ack_callback_node": (acked - root) / HOOKS,
        "retried_attempt": twice - once,
        "for_each_item": max(items.values(), key=lambda bill: bill.usd(prices)["total"]),
        **items,
        "run_overhead": one - native,
        f"average_node_of_a_{CHAIN}_node_run": many / CHAIN,
    }
    invocations = many.lambda_invocations or 1
    gb_seconds_each = many.lambda_gb_seconds / invocations
    # Temporal Cloud: one action per activity attempt (an asynchronously completed activity
    # is one too); a run start is one more.
    temporal_actions = dict.fromkeys(units, 1.0)
    temporal_actions[f"average_node_of_a_{CHAIN}_node_run"] = 1 + 1 / CHAIN
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
    results["for_each_item_is"] = next(
        name for name, bill in items.items() if bill is units["for_each_item"]
    )
    results["lambda_gb_seconds_per_invocation"] = round(gb_seconds_each, 6)
    return results


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
