"""Dispatcher throughput: deliveries per second against the local receiver, next to a plain
urllib3 loop POSTing the same bodies to the same receiver.

The dispatcher's figure includes what a delivery costs besides the POST: the lease, resolving
the definition and destination, the SSRF check, signing, and recording the answer. State
machines do not execute, so each delivery is driven directly, one after another.
"""

import json
import time
from typing import Any

import urllib3

from stepwise import components
from stepwise.engine.address import NodeAddress
from stepwise.infra import executions
from stepwise_local.events import http_event
from stepwise_local.receiver import Answer, Receiver
from stepwise_local.stack import LocalStack

DELIVERIES = 200
ORG = "acme"


def measure(deliveries: int = DELIVERIES) -> dict[str, Any]:
    with (
        Receiver() as receiver,
        LocalStack(execute_state_machines=False, parameters={"LogLevel": "WARNING"}) as stack,
    ):

        def api(method: str, path: str, body: Any = None) -> Any:
            event = http_event(method, f"/v1/orgs/{ORG}{path}", body, stack.api_key)
            response = stack.invoke("ApiFunction", event)
            assert response["statusCode"] < 300, response["body"]
            return json.loads(response["body"])["data"]

        url = receiver.answer("/hook", Answer(200, {"ok": True}))
        destination = api("POST", "/destinations", {"label": "bench", "url": url})
        api(
            "POST",
            "/actions/definitions",
            {"name": "bench", "destinations": [{"destination_id": destination["id"]}]},
        )
        node = {"ref": "call", "kind": "action", "action": "bench", "args": {"n": 1}}
        workflow = api("POST", "/workflows", {"name": "w", "nodes": [node]})
        engine = components.engine()
        original_resume = executions.resume_run
        executions.resume_run = lambda token, reason: True  # nothing waits: no executions here
        try:
            messages = []
            for _ in range(deliveries):
                run_id = api("POST", "/runs", {"workflow_id": workflow["id"]})["id"]
                engine.runs.start_run(ORG, run_id)
                engine.nodes.attempt(NodeAddress(ORG, run_id, "call", 1))
                messages.append(
                    {
                        "org_id": ORG,
                        "run_id": run_id,
                        "node_ref": "call",
                        "attempt": 1,
                        "task_token": "token",
                    }
                )
            dispatcher = components.dispatcher()
            started = time.perf_counter()
            for message in messages:
                dispatcher.deliver(message)
            dispatched = time.perf_counter() - started
        finally:
            executions.resume_run = original_resume
        assert len(receiver.at("/hook")) == deliveries
        body = receiver.at("/hook")[0].body.encode()
        pool = urllib3.PoolManager()
        started = time.perf_counter()
        for _ in range(deliveries):
            pool.request("POST", url, body=body, headers={"content-type": "application/json"})
        plain = time.perf_counter() - started
    return {
        "deliveries": deliveries,
        "dispatcher_per_second": round(deliveries / dispatched, 1),
        "plain_urllib3_per_second": round(deliveries / plain, 1),
        "ratio": round(plain / dispatched, 3),
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
