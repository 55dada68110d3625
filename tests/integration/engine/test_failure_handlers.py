"""Failure handlers (a workflow's ``on_failure``): checked when the workflow is saved; started
by finalize_run when a run fails or times out (never when cancelled, never for a handler run),
once however often the finalize is replayed; a handler that cannot start is recorded on the
failed run and does not fail the finalize."""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from stepwise import components
from stepwise.core import settings
from stepwise.engine.failure_handlers import failure_number, handler_run_id
from stepwise.infra import dynamo, keys
from stepwise.ops.janitor import START_GRACE
from stepwise_local import call_log
from tests.conftest import OTHER_KEY, OTHER_ORG
from tests.helpers import DEFAULT_KEY, deliver, http_event, queued_run_messages

ORG = "acme"
ECHO = {"name": "on call", "nodes": [{"ref": "page", "kind": "transform", "args": "{{ input }}"}]}
# A root transform whose expression fails on a string n: the run fails at its first step.
FAILING = [{"ref": "boom", "kind": "transform", "args": {"v": "{{ abs(input.n) }}"}}]


def call(stack, method, path, body=None, key=DEFAULT_KEY, org=ORG, query=""):
    event = http_event(method, f"/v1/orgs/{org}{path}", body, key, query=query)
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"] or "null")


def save(stack, body, workflow_id=None):
    if workflow_id is None:
        status, answer = call(stack, "POST", "/workflows", body)
    else:
        status, answer = call(stack, "PUT", f"/workflows/{workflow_id}", body)
    assert status in (200, 201), answer
    return answer["data"]


def failing(handler_id, **on_failure):
    return {
        "name": "etl",
        "nodes": FAILING,
        "on_failure": {"workflow_id": handler_id, **on_failure},
    }


def start(stack, workflow_id, run_input, tags=None):
    body = {"workflow_id": workflow_id, "input": run_input, "tags": tags or {}}
    status, answer = call(stack, "POST", "/runs", body)
    assert status == 201, answer
    return answer["data"]["id"]


def step(stack, name, run_id, **fields):
    return stack.invoke("EngineFunction", {"step": name, "org_id": ORG, "run_id": run_id, **fields})


def run_to_end(stack, run_id):
    """The run's start (the failing root runs inline and the run finishes in that step); once
    started, a finalize delivered again (a replay)."""
    queued = components.store().runs.get_run(ORG, run_id).status == "queued"
    deliver(stack, "start" if queued else "finalize", run_id)
    return {"status": components.store().runs.get_run(ORG, run_id).status}


def get_run(stack, run_id, key=DEFAULT_KEY, org=ORG):
    status, answer = call(stack, "GET", f"/runs/{run_id}", key=key, org=org)
    return status, (answer or {}).get("data")


def runs_of(stack, workflow_id):
    status, answer = call(stack, "GET", "/runs", query=f"workflow_id={workflow_id}")
    assert status == 200
    return [r["id"] for r in answer["data"]]


def started_runs() -> list[str]:
    """The runs whose start waits on RunQueue."""
    return [m["run_id"] for m in queued_run_messages("start")]


@pytest.fixture
def handler(stack):
    return save(stack, ECHO)["id"]


# -- saving -------------------------------------------------------------------------------------


def test_on_failure_is_kept_with_the_version(stack, handler):
    template = {"failed": "{{ run.id }}", "why": "{{ run.failed_nodes[0].error.type }}"}
    saved = save(stack, failing(handler, input=template))
    assert saved["on_failure"] == {"workflow_id": handler, "input": template}
    _status, read = call(stack, "GET", f"/workflows/{saved['id']}")
    assert read["data"]["on_failure"] == saved["on_failure"]
    assert save(stack, ECHO)["on_failure"] is None


@pytest.mark.parametrize(
    ("on_failure", "loc", "kind"),
    [
        ({"workflow_id": "wf_missing"}, ["body", "on_failure", "workflow_id"], "unknown_workflow"),
        (
            {"workflow_id": "HANDLER", "input": {"a": ["{{ run.id ]] }}"]}},
            ["body", "on_failure", "input", "a", 0],
            "expression",
        ),
        ({"workflow_id": "HANDLER", "retries": 3}, ["body", "on_failure", "retries"], None),
        ({"workflow_id": "Not An Id"}, ["body", "on_failure", "workflow_id"], None),
        ({"input": {}}, ["body", "on_failure", "workflow_id"], None),
    ],
    ids=["unknown workflow", "bad template", "unknown field", "bad id", "no workflow_id"],
)
def test_a_bad_on_failure_is_a_422_naming_the_field(stack, handler, on_failure, loc, kind):
    on_failure = {k: handler if v == "HANDLER" else v for k, v in on_failure.items()}
    body = {"name": "etl", "nodes": FAILING, "on_failure": on_failure}
    for method, path in (("POST", "/workflows"), ("PUT", f"/workflows/{handler}")):
        status, answer = call(stack, method, path, body)
        assert status == 422, answer
        errors = {tuple(e["loc"]): e["type"] for e in answer["detail"]}
        assert tuple(loc) in errors, answer
        if kind:
            assert errors[tuple(loc)] == kind
    assert call(stack, "GET", f"/workflows/{handler}/versions")[1]["data"][-1]["version"] == 1


def test_another_orgs_workflow_cannot_be_a_handler(stack):
    status, theirs = call(stack, "POST", "/workflows", ECHO, key=OTHER_KEY, org=OTHER_ORG)
    assert status == 201
    status, answer = call(stack, "POST", "/workflows", failing(theirs["data"]["id"]))
    assert status == 422
    assert ["body", "on_failure", "workflow_id"] in [e["loc"] for e in answer["detail"]]


# -- starting -----------------------------------------------------------------------------------


def test_a_failed_run_starts_its_handler_with_the_failure_in_its_input(stack, handler, resumed):
    workflow = save(stack, failing(handler))
    run_id = start(stack, workflow["id"], {"n": "three"}, tags={"team": "web"})
    assert run_to_end(stack, run_id) == {"status": "failed"}

    handler_id = handler_run_id(run_id, 1)
    assert handler_id == f"{run_id}-handler-1"
    status, failed = get_run(stack, run_id)
    assert failed["handler_run_ids"] == [handler_id] and failed["handler_error"] is None
    status, started = get_run(stack, handler_id)
    assert status == 200
    assert (started["role"], started["handles_run_id"]) == ("handler", run_id)
    assert (started["workflow_id"], started["status"]) == (handler, "queued")
    assert started["created_by"] == f"run:{run_id}" and started["parent_run_id"] is None
    error = {"type": "ExpressionError", "message": failed["error"]["message"]}
    assert started["input"] == {
        "run": {
            "id": run_id,
            "status": "failed",
            "workflow_id": workflow["id"],
            "version": 1,
            "error": {**error, "node": "boom"},
            "failed_nodes": [{"ref": "boom", "error": error}],
            "tags": {"team": "web"},
        }
    }
    assert handler_id in started_runs()
    # Not a child run: the failed run's children list stays empty.
    status, children = call(stack, "GET", "/runs", query=f"parent_run_id={run_id}")
    assert children["data"] == []
    # It counts as a descendant of the failed run (its root).
    counted = dynamo.get_item(components.store().table, keys.descendants(ORG, run_id))
    assert counted["descendants"] == 1
    # Another org's key sees neither.
    assert get_run(stack, handler_id, key=OTHER_KEY, org=OTHER_ORG)[0] == 404


def test_the_input_template_is_rendered_over_the_failed_run(stack, handler, resumed):
    template = {
        "text": "run {{ run.id }} {{ run.status }}",
        "refs": "{{ run.failed_nodes[*].ref }}",
        "team": "{{ run.tags.team }}",
    }
    workflow = save(stack, failing(handler, input=template))
    run_id = start(stack, workflow["id"], {"n": "x"}, tags={"team": "data"})
    run_to_end(stack, run_id)
    _, started = get_run(stack, handler_run_id(run_id, 1))
    assert started["input"] == {"text": f"run {run_id} failed", "refs": ["boom"], "team": "data"}


def test_a_replayed_finalize_starts_one_handler(stack, handler, resumed):
    workflow = save(stack, failing(handler))
    run_id = start(stack, workflow["id"], {"n": "x"})
    for _ in range(3):
        assert run_to_end(stack, run_id) == {"status": "failed"}
    assert runs_of(stack, handler) == [handler_run_id(run_id, 1)]
    assert get_run(stack, run_id)[1]["handler_run_ids"] == [handler_run_id(run_id, 1)]
    counted = dynamo.get_item(components.store().table, keys.descendants(ORG, run_id))
    assert counted["descendants"] == 1


def test_a_finalize_that_stopped_after_creating_the_handler_links_and_starts_it(
    stack, handler, resumed, monkeypatch
):
    """The first finalize created the handler run but died before starting its execution or
    linking it: the replay starts that run (by name) and links it, creating nothing new."""
    workflow = save(stack, failing(handler))
    run_id = start(stack, workflow["id"], {"n": "x"})
    store = components.store()
    real_link = type(store.run_state).link_handler
    monkeypatch.setattr(type(store.run_state), "link_handler", lambda *a: None)
    monkeypatch.setattr(
        "stepwise.runs.starts.run_queue.start_run_or_refuse", lambda *a: None
    )  # the start was never queued
    run_to_end(stack, run_id)
    handler_id = handler_run_id(run_id, 1)
    assert get_run(stack, run_id)[1]["handler_run_ids"] == []
    assert handler_id not in started_runs()
    monkeypatch.setattr(type(store.run_state), "link_handler", real_link)
    run_to_end(stack, run_id)
    assert get_run(stack, run_id)[1]["handler_run_ids"] == [handler_id]
    assert handler_id in started_runs()
    assert runs_of(stack, handler) == [handler_id]


def test_a_timed_out_run_starts_its_handler(stack, handler, resumed):
    body = {**failing(handler), "nodes": [{"ref": "w", "kind": "wait", "start_delay": 3600}]}
    workflow = save(stack, body)
    run_id = start(stack, workflow["id"], {})
    deliver(stack, "start", run_id)
    assert components.engine().runs.finalize_run(ORG, run_id, {"reason": "timed_out"}) == {
        "status": "timed_out"
    }
    _, started = get_run(stack, handler_run_id(run_id, 1))
    assert started["input"]["run"]["status"] == "timed_out"
    assert started["input"]["run"]["error"]["type"] == "RunTimedOut"
    assert started["input"]["run"]["failed_nodes"] == []


def test_a_cancelled_run_starts_no_handler(stack, handler, resumed):
    body = {**failing(handler), "nodes": [{"ref": "w", "kind": "wait", "start_delay": 3600}]}
    workflow = save(stack, body)
    run_id = start(stack, workflow["id"], {})
    deliver(stack, "start", run_id)
    assert call(stack, "POST", f"/runs/{run_id}/cancel", {})[0] == 202
    assert components.engine().runs.finalize_run(ORG, run_id, {"reason": "cancelled"}) == {
        "status": "cancelled"
    }
    assert runs_of(stack, handler) == []
    assert get_run(stack, run_id)[1]["handler_run_ids"] == []


def test_a_succeeded_run_starts_no_handler(stack, handler, resumed):
    workflow = save(stack, failing(handler))
    run_id = start(stack, workflow["id"], {"n": -2})
    assert run_to_end(stack, run_id) == {"status": "succeeded"}
    assert runs_of(stack, handler) == []


def test_a_handler_that_fails_starts_no_handler(stack, resumed):
    """The handler workflow names itself as its own handler: its runs of role handler still
    start nothing when they fail, so a failing handler cannot loop."""
    handler = save(stack, {"name": "h", "nodes": FAILING})["id"]
    save(stack, failing(handler, input={"n": "still a string"}), workflow_id=handler)
    workflow = save(stack, failing(handler))
    run_id = start(stack, workflow["id"], {"n": "x"})
    run_to_end(stack, run_id)
    handler_id = handler_run_id(run_id, 1)
    assert run_to_end(stack, handler_id) == {"status": "failed"}
    assert runs_of(stack, handler) == [handler_id]
    _, failed_handler = get_run(stack, handler_id)
    assert failed_handler["handler_run_ids"] == [] and failed_handler["handler_error"] is None
    # A run of the same workflow started by a key does start one (the role decides).
    own = start(stack, handler, {"n": "x"})
    run_to_end(stack, own)
    assert runs_of(stack, handler) == [handler_run_id(own, 1), own, handler_id]


def test_a_handler_that_cannot_start_is_recorded_and_the_run_still_fails(stack, handler, resumed):
    workflow = save(stack, failing(handler, input={"v": "{{ abs(run.id) }}"}))
    run_id = start(stack, workflow["id"], {"n": "x"})
    assert run_to_end(stack, run_id) == {"status": "failed"}
    _, failed = get_run(stack, run_id)
    assert failed["status"] == "failed" and failed["handler_run_ids"] == []
    assert failed["handler_error"]["type"] == "ExpressionError"
    assert "abs" in failed["handler_error"]["message"]
    assert runs_of(stack, handler) == []


def test_a_handler_workflow_gone_since_is_recorded(stack, handler, resumed):
    workflow = save(stack, failing(handler))
    run_id = start(stack, workflow["id"], {"n": "x"})
    table = components.store().table
    boto3.client("dynamodb").delete_item(
        TableName=table, Key=dynamo.to_item(keys.workflow_head(ORG, handler))
    )
    assert run_to_end(stack, run_id) == {"status": "failed"}
    _, failed = get_run(stack, run_id)
    assert failed["handler_error"]["type"] == "WorkflowNotFound"
    assert handler in failed["handler_error"]["message"]


def test_a_replay_after_the_cause_is_gone_starts_the_handler_and_drops_the_error(
    stack, handler, resumed
):
    workflow = save(stack, failing(handler))
    run_id = start(stack, workflow["id"], {"n": "x"})
    table = components.store().table
    head = dynamo.get_item(table, keys.workflow_head(ORG, handler))
    boto3.client("dynamodb").delete_item(
        TableName=table, Key=dynamo.to_item(keys.workflow_head(ORG, handler))
    )
    run_to_end(stack, run_id)
    assert get_run(stack, run_id)[1]["handler_error"]["type"] == "WorkflowNotFound"
    boto3.client("dynamodb").put_item(TableName=table, Item=dynamo.to_item(head))
    run_to_end(stack, run_id)
    _, failed = get_run(stack, run_id)
    assert failed["handler_run_ids"] == [handler_run_id(run_id, 1)]
    assert failed["handler_error"] is None


def test_a_handler_over_the_descendants_quota_is_recorded(stack, handler, resumed, monkeypatch):
    monkeypatch.setenv("QUOTA_DESCENDANTS_PER_RUN", "0")
    settings.clear()
    try:
        workflow = save(stack, failing(handler))
        run_id = start(stack, workflow["id"], {"n": "x"})
        assert run_to_end(stack, run_id) == {"status": "failed"}
    finally:
        monkeypatch.undo()
        settings.clear()
    _, failed = get_run(stack, run_id)
    assert failed["handler_error"]["type"] == "QuotaExceeded"
    assert runs_of(stack, handler) == []


def test_a_redriven_run_that_fails_again_starts_a_second_handler(stack, handler, resumed):
    """Each failure of a run has its handler: the redrive's failure is failure 2, whose handler
    has its own id, and the first handler is not started again."""
    workflow = save(stack, failing(handler))
    run_id = start(stack, workflow["id"], {"n": "x"})
    run_to_end(stack, run_id)
    first = handler_run_id(run_id, 1)
    assert get_run(stack, run_id)[1]["handler_run_ids"] == [first]

    status, answer = call(stack, "POST", f"/runs/{run_id}/redrive", {"reason": "try again"})
    assert status == 202, answer
    deliver(stack, "start", run_id)
    assert components.engine().runs.finalize_run(ORG, run_id, {"reason": "node_failed"}) == {
        "status": "failed"
    }
    _, run = get_run(stack, run_id)
    second = handler_run_id(run_id, 2)
    assert run["handler_run_ids"] == [first, second]
    assert failure_number(components.store().runs.get_run(ORG, run_id)) == 2
    for handler_id, number in ((first, 1), (second, 2)):
        _, handled = get_run(stack, handler_id)
        assert handled["handles_run_id"] == run_id, number
        assert handled["input"]["run"]["failed_nodes"][0]["ref"] == "boom"


def test_a_run_the_janitor_settles_starts_its_handler(stack, handler, resumed):
    """The janitor finalises orphaned runs through finalize_run: the handler starts from its
    role (the IAM check holds this call to JanitorFunction's policy). Here the run's start
    never came (dead-lettered): the run is still queued past the janitor's START_GRACE."""
    workflow = save(stack, {**failing(handler), "nodes": [{"ref": "a", "kind": "transform"}]})
    run_id = start(stack, workflow["id"], {})
    later = datetime.now(UTC) + START_GRACE + timedelta(minutes=1)
    with call_log.acting_as("JanitorFunction"):
        report = components.janitor().sweep(later)
    assert [(s["run_id"], s["status"]) for s in report.settled] == [(run_id, "failed")]
    handler_id = handler_run_id(run_id, 1)
    assert get_run(stack, run_id)[1]["handler_run_ids"] == [handler_id]
    assert handler_id in started_runs()
