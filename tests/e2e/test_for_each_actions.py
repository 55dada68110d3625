"""for_each over an action node end to end (real executions, real receiver): one signed
delivery per item, each with its own retries and callbacks, at most max_concurrency open at
the receiver at once, the results in item order, one action record per item."""

from collections import Counter

import pytest

from stepwise_local.receiver import Answer, Callback, Receiver
from tests.e2e.conftest import create_workflow, start_run, wait_for_run

ITEMS = 25
FAIL_ONCE = {4, 10, 16}  # answer 503 to their first attempt
CALLED_BACK = {0, 3, 9, 24}  # ack, then a success callback a moment later
MAX_CONCURRENCY = 4


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as running:
        yield running


def destination(api, receiver, path, responder, schema=None):
    """A destination with signaling (default success) answering with ``responder``."""
    body = {
        "label": path.strip("/"),
        "url": receiver.respond(path, responder),
        "signaling": {"enabled": True, "default": "success"},
    }
    created = api.post("/destinations", json=body)
    assert created.status_code == 201, created.text
    receiver.verify(path, created.json()["data"]["signing_secret"])
    definition = {
        "name": path.strip("/"),
        "destinations": [{"destination_id": created.json()["data"]["id"]}],
    }
    if schema:
        definition["schema"] = schema
    assert api.post("/actions/definitions", json=definition).status_code == 201


def each_node(action, **fields):
    return {
        "ref": "each",
        "kind": "action",
        "action": action,
        "for_each": "{{ input.xs }}",
        "args": {"n": "{{ item }}", "i": "{{ index }}"},
        **fields,
    }


def test_twenty_five_items_each_delivered_retried_and_called_back_in_order(api, receiver):
    tries: Counter[int] = Counter()

    def answer(request):
        data = request.payload["data"]
        index, n = data["index"], data["input"]["n"]
        tries[index] += 1
        if index in FAIL_ONCE and tries[index] == 1:
            return Answer(503, {"error": "busy"})
        if index in CALLED_BACK:
            done = {"signal": "success", "result": {"n": n, "via": "callback"}}
            return Answer(202, {"signal": "ack"}, callbacks=(Callback(done, after=0.4),))
        return Answer(200, {"result": {"n": n}}, delay=0.05)

    destination(api, receiver, "/items", answer)
    node = each_node(
        "items",
        max_concurrency=MAX_CONCURRENCY,
        retry={"max_attempts": 2, "initial_interval": 1},
    )
    workflow = create_workflow(api, {"name": "each", "nodes": [node]})
    values = [100 + i for i in range(ITEMS)]
    run = wait_for_run(api, start_run(api, workflow, {"xs": values}), timeout=120)
    assert run["status"] == "succeeded", run["error"]
    [each] = run["nodes"]
    assert each["output"] == [
        {"n": v, "via": "callback"} if i in CALLED_BACK else {"n": v} for i, v in enumerate(values)
    ]

    requests = receiver.at("/items")
    assert all(r.verified for r in requests)
    assert len(requests) == ITEMS + len(FAIL_ONCE)
    by_item: dict[int, list] = {}
    for request in requests:
        by_item.setdefault(request.payload["data"]["index"], []).append(request)
    assert sorted(by_item) == list(range(ITEMS))
    for index, posts in by_item.items():
        assert {p.headers["webhook-id"] for p in posts} == {f"{run['id']}.each[{index}]"}
        assert [p.payload["data"]["attempt"] for p in posts] == (
            [1, 2] if index in FAIL_ONCE else [1]
        )
        assert posts[0].payload["data"]["input"] == {"n": values[index], "i": index}
    assert [c.status for c in receiver.callbacks if c.path == "/items"] == [202] * len(CALLED_BACK)
    # Never more deliveries open than the node allows, and the bound was reached for real.
    assert 2 <= receiver.most_open["/items"] <= MAX_CONCURRENCY, receiver.most_open

    records = api.get(f"/runs/{run['id']}/actions").json()["data"]
    assert [r["id"] for r in records] == [f"{run['id']}.each[{i}]" for i in range(ITEMS)]
    assert {r["index"] for r in records if r["state"]["attempt"] == 2} == FAIL_ONCE
    called_back = api.get(f"/actions/records/{run['id']}.each[3]").json()["data"]
    assert [e["kind"] for e in called_back["events"]] == ["dispatch", "ack", "signal", "success"]
    assert called_back["output"] == {"n": 103, "via": "callback"}


def test_an_item_whose_input_breaks_the_schema_fails_the_node_naming_it(api, receiver):
    destination(
        api,
        receiver,
        "/typed-items",
        lambda request: Answer(200, {"result": request.payload["data"]["input"]}),
        schema={"type": "object", "properties": {"n": {"type": "integer"}}},
    )
    node = each_node("typed-items", max_concurrency=1, retry={"max_attempts": 3})
    workflow = create_workflow(api, {"name": "typed", "nodes": [node]})
    run = wait_for_run(api, start_run(api, workflow, {"xs": [1, "two", 3]}))
    assert run["status"] == "failed"
    [each] = run["nodes"]
    assert each["error"]["type"] == "InputRejected"
    assert each["error"]["message"].startswith("item 1: ")
    indices = [r.payload["data"]["index"] for r in receiver.at("/typed-items")]
    assert 1 not in indices
    bad = api.get(f"/actions/records/{run['id']}.each[1]").json()["data"]
    assert bad["state"]["status"] == "failed" and bad["state"]["attempt"] == 1


def test_a_redrive_delivers_again_only_the_items_that_failed(api, receiver):
    """Items 2 and 5 fail for good (400) on the first run, so the node and the run fail; once the
    destination takes them, a redrive delivers those two items again, and only those, numbered
    on from their first attempt, and the node's output has every item in order."""
    down = {2, 5}
    tries: Counter[int] = Counter()

    def answer(request):
        data = request.payload["data"]
        index = data["index"]
        tries[index] += 1
        if index in down:
            return Answer(400, {"error": "not yet"})
        return Answer(200, {"result": {"i": index, "try": tries[index]}})

    destination(api, receiver, "/redriven-items", answer)
    node = each_node("redriven-items", max_concurrency=3)
    workflow = create_workflow(api, {"name": "each-redriven", "nodes": [node]})
    run_id = start_run(api, workflow, {"xs": list(range(8))})
    run = wait_for_run(api, run_id, timeout=120)
    assert run["status"] == "failed" and run["error"]["node"] == "each"
    assert tries == Counter({i: 1 for i in range(8)})
    first_ids = {r.headers["webhook-id"] for r in receiver.at("/redriven-items")}

    down.clear()
    answer_ = api.post(f"/runs/{run_id}/redrive", json={"reason": "the items' service is fixed"})
    assert answer_.status_code == 202, answer_.text
    run = wait_for_run(api, run_id, timeout=120)
    assert run["status"] == "succeeded", run["error"]
    # Only the two failed items were delivered again, under the ids they had.
    assert tries == Counter({i: 2 if i in (2, 5) else 1 for i in range(8)})
    assert {r.headers["webhook-id"] for r in receiver.at("/redriven-items")} == first_ids
    [each] = run["nodes"]
    assert each["output"] == [{"i": i, "try": 2 if i in (2, 5) else 1} for i in range(8)]
    records = api.get(f"/runs/{run_id}/actions").json()["data"]
    attempts = {
        r["index"]: [e["attempt"] for e in r["events"] if e.get("attempt")] for r in records
    }
    assert max(attempts[2]) == 2 and max(attempts[0]) == 1
