"""Redrive and rerun over HTTP on the local stack: real executions, real webhook deliveries
counted at a real receiver."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from stepwise_local.receiver import Answer, Receiver
from tests.e2e.conftest import create_workflow, start_run, wait_for_run
from tests.e2e.test_webhooks import action_setup


@pytest.fixture(scope="module")
def receiver():
    with Receiver() as running:
        yield running


def workflow(first: str, second: str) -> dict:
    """Two webhooks in a row, then a transform of both answers."""
    return {
        "name": "two-calls",
        "nodes": [
            {"ref": "first", "kind": "action", "action": first, "args": {"n": "{{ input.n }}"}},
            {
                "ref": "second",
                "kind": "action",
                "action": second,
                "args": {"from_first": "{{ nodes.first.output.id }}"},
                "depends_on": ["first"],
            },
            {
                "ref": "sum",
                "kind": "transform",
                "args": {
                    "first": "{{ nodes.first.output }}",
                    "second": "{{ nodes.second.output }}",
                },
                "depends_on": ["second"],
            },
        ],
    }


def test_a_redrive_delivers_only_what_failed_and_the_run_succeeds(api, receiver, other_org_api):
    action_setup(api, receiver.answer("/first", Answer(200, {"id": 1})), "rd-first")
    # The second destination is down at first (a 400 fails at once), then back.
    second = receiver.answer("/second", Answer(400, {"error": "down"}), Answer(200, {"id": 2}))
    action_setup(api, second, "rd-second")
    run_id = start_run(api, create_workflow(api, workflow("rd-first", "rd-second")), {"n": 5})
    run = wait_for_run(api, run_id)
    assert run["status"] == "failed" and run["error"]["node"] == "second"
    assert (len(receiver.at("/first")), len(receiver.at("/second"))) == (1, 1)

    path = f"/runs/{run_id}/redrive"
    assert other_org_api.post(f"/v1/orgs/acme{path}", json={}).status_code == 404
    answer = api.post(path, json={"reason": "the second service is back"})
    assert answer.status_code == 202, answer.text
    assert api.post(path, json={}).status_code == 409  # already going again

    run = wait_for_run(api, run_id)
    assert run["status"] == "succeeded", run["error"]
    assert run["output"] == {"sum": {"first": {"id": 1}, "second": {"id": 2}}}
    # first succeeded before the redrive: it was not delivered again.
    assert len(receiver.at("/first")) == 1
    deliveries = receiver.at("/second")
    assert len(deliveries) == 2
    assert {d.headers["webhook-id"] for d in deliveries} == {f"{run_id}.second"}
    nodes = {n["ref"]: n for n in run["nodes"]}
    assert [a["attempt"] for a in nodes["second"]["attempts"]] == [1, 2]
    assert [a["attempt"] for a in nodes["first"]["attempts"]] == [1]
    assert run["redrive_count"] == 1

    history = api.get(f"/runs/{run_id}/history").json()["data"]
    redriven = [e for e in history if e["event_type"] == "RUN_REDRIVEN"]
    assert len(redriven) == 1 and redriven[0]["reason"] == "the second service is back"
    # A succeeded run is not redriven, but it can be rerun from a node.
    assert api.post(path, json={}).status_code == 409
    rerun = api.post(f"/runs/{run_id}/rerun", json={"from": "second"})
    assert rerun.status_code == 201, rerun.text
    again = wait_for_run(api, rerun.json()["data"]["id"])
    assert again["status"] == "succeeded" and again["rerun_of"] == run_id
    assert (len(receiver.at("/first")), len(receiver.at("/second"))) == (1, 3)


def test_two_redrives_at_once_redrive_once(api, receiver):
    url = receiver.answer("/race", Answer(400, {"error": "down"}), Answer(200, {"ok": True}))
    action_setup(api, url, "rd-race")
    node = {"ref": "call", "kind": "action", "action": "rd-race", "args": {}}
    run_id = start_run(api, create_workflow(api, {"name": "race", "nodes": [node]}))
    assert wait_for_run(api, run_id)["status"] == "failed"
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: api.post(f"/runs/{run_id}/redrive", json={}), [0, 1]))
    assert sorted(a.status_code for a in answers) == [202, 409]
    run = wait_for_run(api, run_id)
    assert run["status"] == "succeeded" and run["redrive_count"] == 1
    assert len(receiver.at("/race")) == 2
