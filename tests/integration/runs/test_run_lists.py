"""GET /runs: filters, paging both ways that holds while runs arrive, totals kept by counters."""

import json
import time
from datetime import UTC, datetime

import pytest

from stepwise import components
from stepwise.infra import executions
from tests.helpers import http_event

BASE = "/v1/orgs/acme"
ONE_NODE = {"name": "w", "nodes": [{"ref": "a", "kind": "transform", "args": 1}]}


def call(stack, method, path, body=None, query=""):
    response = stack.invoke("ApiFunction", http_event(method, f"{BASE}{path}", body, query=query))
    return response["statusCode"], json.loads(response["body"])


def workflow(stack, name="w"):
    return call(stack, "POST", "/workflows", {**ONE_NODE, "name": name})[1]["data"]["id"]


def start(stack, workflow_id):
    status, payload = call(stack, "POST", "/runs", {"workflow_id": workflow_id})
    assert status == 201
    return payload["data"]["id"]


def page(stack, query):
    status, payload = call(stack, "GET", "/runs", query=query)
    assert status == 200, payload
    return payload


def test_paging_both_ways_sees_each_run_once_while_runs_arrive(stack):
    # Eleven pages forwards (the last one short), with runs arriving between them, and back: what
    # is proven takes many pages, not large ones.
    workflow_id = workflow(stack)
    originals = [start(stack, workflow_id) for _ in range(64)]
    forwards, arrived = [], []
    current = page(stack, "limit=6")
    pages = 0
    while True:
        forwards += [r["id"] for r in current["data"]]
        pages += 1
        if pages in (2, 5, 9):  # runs keep arriving while the client pages
            arrived += [start(stack, workflow_id) for _ in range(10)]
        if current["next_page"] is None:
            break
        current = page(stack, f"limit=6&cursor={current['next_page']}")
    assert pages == 11
    assert forwards == list(reversed(originals))  # newest first, each once, none new
    backwards = []
    while True:
        backwards += [r["id"] for r in reversed(current["data"])]
        if current["previous_page"] is None:
            break
        current = page(stack, f"limit=6&cursor={current['previous_page']}")
    assert len(arrived) == 30
    assert backwards == originals + arrived  # oldest first, each once, the new ones too


def test_current_page_cursors_repeat_the_page_from_either_end(stack):
    workflow_id = workflow(stack)
    ids = [start(stack, workflow_id) for _ in range(7)]
    first = page(stack, "limit=3")
    second = page(stack, f"limit=3&cursor={first['next_page']}")
    again = page(stack, f"limit=3&cursor={second['current_page']}")
    assert [r["id"] for r in again["data"]] == [r["id"] for r in second["data"]] == ids[3:0:-1]
    backwards = page(stack, f"limit=3&cursor={second['current_page_backwards']}")
    assert [r["id"] for r in backwards["data"]] == ids[3:0:-1]
    assert first["previous_page"] is None and second["previous_page"] is not None


def test_totals_follow_every_status_change(stack, monkeypatch):
    monkeypatch.setattr(executions, "resume_run", lambda token, reason: True)
    workflow_id = workflow(stack)
    other = workflow(stack, "other")
    runs = [start(stack, workflow_id) for _ in range(3)] + [start(stack, other)]

    def total(query):
        return page(stack, f"limit=1&{query}".rstrip("&"))["total"]

    assert total("") == 4 and total("status=queued") == 4
    assert total(f"workflow_id={workflow_id}") == 3 and total(f"workflow_id={other}") == 1
    engine = components.engine()
    for run_id in runs[:2]:  # started, and still running
        components.store().run_state.mark_started("acme", run_id)
    assert total("status=queued") == 2 and total("status=running") == 2
    engine.runs.start_run("acme", runs[0])  # a start again: its node runs inline, it finishes
    engine.runs.finalize_run(
        "acme", runs[0], {"reason": "all_nodes_settled"}
    )  # a replay: no change
    assert total("status=running") == 1 and total("status=succeeded") == 1
    assert total("") == 4
    listed = page(stack, "limit=10&status=succeeded")["data"]
    assert [r["id"] for r in listed] == [runs[0]] and listed[0]["status"] == "succeeded"
    combined = page(stack, f"limit=10&status=queued&workflow_id={workflow_id}")
    assert [r["id"] for r in combined["data"]] == [runs[2]] and combined["total"] is None


def test_parent_and_time_filters(stack):
    workflow_id = workflow(stack)
    parent = start(stack, workflow_id)
    store = components.store()
    wf = store.workflows.get_workflow("acme", workflow_id)
    children = [f"{parent}.step.{n}" for n in (1, 2)]
    for child in children:
        store.runs.create_run("acme", child, wf, None, {"parent_run_id": parent})
    time.sleep(0.01)
    cut = datetime.now(UTC)
    time.sleep(0.01)
    later = start(stack, workflow_id)
    found = page(stack, f"limit=10&parent_run_id={parent}")["data"]
    assert sorted(r["id"] for r in found) == children
    after = page(stack, f"limit=10&created_after={cut.isoformat().replace('+', '%2B')}")
    assert [r["id"] for r in after["data"]] == [later]
    before = page(stack, f"limit=10&created_before={cut.isoformat().replace('+', '%2B')}")
    assert later not in [r["id"] for r in before["data"]] and parent in [
        r["id"] for r in before["data"]
    ]


def test_a_tampered_or_foreign_cursor_is_400(stack):
    workflow_id = workflow(stack)
    for _ in range(3):
        start(stack, workflow_id)
    cursor = page(stack, "limit=1")["next_page"]
    status, payload = call(stack, "GET", "/runs", query=f"limit=1&cursor={cursor[:-2]}xx")
    assert status == 400 and payload["errors"][0]["code"] == "invalid_cursor"
    status, _ = call(stack, "GET", "/runs", query=f"limit=1&status=queued&cursor={cursor}")
    assert status == 400  # a cursor of another filter


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=-1", "status=bogus"])
def test_bad_list_parameters_are_422(stack, query):
    status, payload = call(stack, "GET", "/runs", query=query)
    assert status == 422 and payload["detail"]


def test_a_run_says_what_started_it(stack):
    run_id = start(stack, workflow(stack))
    status, payload = call(stack, "GET", f"/runs/{run_id}")
    assert status == 200
    assert payload["data"]["role"] == "key" and payload["data"]["created_by"] == "key:local"
    listed = page(stack, "limit=1")["data"][0]
    assert (listed["role"], listed["created_by"]) == ("key", "key:local")


def test_the_org_list_merges_runs_of_every_status_in_order_both_ways(stack):
    """No index holds all of an org's runs: the list merges its status partitions, newest
    first, each run once, paged both ways, also when a run changes status between pages."""
    from stepwise.core import settings
    from stepwise.core.statuses import RunStatus
    from stepwise.infra import dynamo, keys

    workflow_id = workflow(stack)
    ids = [start(stack, workflow_id) for _ in range(14)]
    store = components.store()
    expected = {}
    for n, run_id in enumerate(ids):
        if n % 4:
            store.run_state.mark_started("acme", run_id)
        if n % 4 == 2:
            store.run_state.finish_run("acme", run_id, RunStatus.SUCCEEDED, {"n": n}, None)
        if n % 4 == 3:
            failure = {"type": "Boom", "message": "no"}
            store.run_state.finish_run("acme", run_id, RunStatus.FAILED, None, failure)
        expected[run_id] = ["queued", "running", "succeeded", "failed"][n % 4]
    current = page(stack, "limit=4")
    assert current["total"] == 14
    seen = {}
    moved = ids[4]  # on the third page: it settles while the client reads the first two
    while True:
        seen.update({r["id"]: r["status"] for r in current["data"]})
        if len(seen) == 8:
            store.run_state.finish_run("acme", moved, RunStatus.CANCELLED, None, None)
            expected[moved] = "cancelled"
        if current["next_page"] is None:
            break
        current = page(stack, f"limit=4&cursor={current['next_page']}")
    assert list(seen) == list(reversed(ids))  # newest first, each once
    assert seen == expected
    backwards = []
    while True:
        backwards += [r["id"] for r in reversed(current["data"])]
        if current["previous_page"] is None:
            break
        current = page(stack, f"limit=4&cursor={current['previous_page']}")
    assert backwards == ids
    # The run item has no entry in an index of all the org's runs (each write would copy it).
    item = dynamo.get_item(settings.core_settings().table_name, keys.run("acme", ids[0]))
    assert "GSI1PK" not in item and item["GSI3PK"].endswith("#STATUS#queued#RUNS")
