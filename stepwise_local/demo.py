"""``make demo``: the local stack and a real webhook receiver, one workflow through every path.

The receiver (127.0.0.1) verifies each delivery's Standard Webhooks signature with the
``standardwebhooks`` library. ``quote`` answers at once; ``fulfil`` acknowledges, sends a
heartbeat, then calls its signal URL back with the result; an approval node waits for a review
in between. The demo prints the run and its action records, and exits non-zero if anything
did not go as described.
"""

import json
import sys
import time
from typing import Any

import httpx

from stepwise_local.receiver import Answer, Callback, Receiver
from stepwise_local.stack import LocalStack

WORKFLOW = {
    "name": "order-fulfilment",
    "description": "Quote, approve, fulfil by callback, summarise.",
    "nodes": [
        {
            "ref": "quote",
            "kind": "action",
            "action": "quote",
            "args": {"sku": "{{ input.sku }}", "qty": "{{ input.qty }}"},
        },
        {"ref": "approve", "kind": "approval", "depends_on": ["quote"]},
        {
            "ref": "fulfil",
            "kind": "action",
            "action": "fulfil",
            "args": {"sku": "{{ input.sku }}", "price": "{{ nodes.quote.output.price }}"},
            "depends_on": ["approve"],
        },
        {
            "ref": "summary",
            "kind": "transform",
            "args": {
                "price": "{{ nodes.quote.output.price }}",
                "approved_by": "{{ nodes.approve.output.reviewed_by }}",
                "shipment": "{{ nodes.fulfil.output.shipment }}",
            },
            "depends_on": ["fulfil"],
        },
    ],
}


def main() -> int:
    with Receiver() as receiver, LocalStack(parameters={"LogLevel": "WARNING"}) as stack:
        base = stack.serve_in_background()
        api = httpx.Client(
            base_url=f"{base}/v1/orgs/{stack.org_id}",
            headers={"Authorization": f"Bearer {stack.api_key}"},
            timeout=30,
        )
        print(f"Local stack on {base}, receiver on {receiver.url}\n")
        _action(api, receiver, "quote", "/quote", Answer(200, {"price": 42.5}), signaling=False)
        fulfil = Answer(
            202,
            callbacks=(
                Callback({"signal": "heartbeat"}, after=0.5),
                Callback({"signal": "success", "result": {"shipment": "SHP-001"}}, after=0.5),
            ),
        )
        _action(api, receiver, "fulfil", "/fulfil", fulfil, signaling=True)
        workflow = _ok(api.post("/workflows", json=WORKFLOW))
        run = _ok(api.post("/runs", json={"workflow_id": workflow["id"], "input": _INPUT}))
        print(f"Started run {run['id']}; waiting for the approval node ...")
        _wait(api, run["id"], lambda r: _node(r, "approve")["status"] == "running")
        # The key that started the run may not approve it: a reviewer's key does.
        reviewer = _ok(api.post("/keys", json={"name": "reviewer", "scopes": ["approve"]}))
        review = {"decision": "approve", "comment": "price looks right"}
        headers = {"Authorization": f"Bearer {reviewer['key']}"}
        _ok(api.post(f"/runs/{run['id']}/nodes/approve/approval", json=review, headers=headers))
        print("Approved it; waiting for the callback ...\n")
        run = _wait(api, run["id"], lambda r: r["status"] not in ("queued", "running"))
        records = _ok(api.get(f"/runs/{run['id']}/actions"))
        _report(run, records, receiver)
        stack.wait_idle(timeout=30)
        verified = all(r.verified for r in receiver.received)
        ok = run["status"] == "succeeded" and verified and len(receiver.received) == 2
        print("\nDemo", "succeeded." if ok else "FAILED.")
        return 0 if ok else 1


_INPUT = {"sku": "BOOK-7", "qty": 2}


def _action(api, receiver, name, path, answer, signaling):
    destination = _ok(
        api.post(
            "/destinations",
            json={
                "label": name,
                "url": receiver.answer(path, answer),
                "signaling": {"enabled": signaling, "default": "ack"},
            },
        )
    )
    receiver.verify(path, destination["signing_secret"])
    definition = {"name": name, "destinations": [{"destination_id": destination["id"]}]}
    _ok(api.post("/actions/definitions", json=definition))


def _report(run: dict[str, Any], records: list[dict[str, Any]], receiver: Receiver) -> None:
    print(f"Run {run['id']}: {run['status']}, reviewed by {run.get('reviewed_by')}")
    print(f"  output: {json.dumps(run['output'])}")
    for node in run["nodes"]:
        print(f"  node {node['ref']:<8} {node['kind']:<9} {node['status']}")
    print("\nAction records:")
    for record in records:
        state = record["state"]
        print(f"  {record['id']}: {state['status']} after {state['attempt']} attempt(s)")
        for event in record["events"]:
            print(f"    {event['attempt']}. {event['kind']:<9} {event['status']}")
    print("\nReceiver:")
    for request in receiver.received:
        mark = "verified" if request.verified else "NOT verified"
        print(f"  POST {request.path}  webhook-id {request.headers['webhook-id']}  {mark}")
    for callback in receiver.callbacks:
        print(f"  callback {callback.signal:<9} -> HTTP {callback.status}")


def _node(run: dict[str, Any], ref: str) -> dict[str, Any]:
    return next(n for n in run["nodes"] if n["ref"] == ref)


def _wait(api: httpx.Client, run_id: str, done, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = _ok(api.get(f"/runs/{run_id}"))
        if done(run):
            return run
        if time.monotonic() > deadline:
            raise SystemExit(f"run {run_id} did not get there in {timeout} s: {run['status']}")
        time.sleep(0.1)


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 300:
        raise SystemExit(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json()["data"]


if __name__ == "__main__":
    sys.exit(main())
