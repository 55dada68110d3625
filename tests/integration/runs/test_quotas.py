"""The operator's quotas at the API and in the run store (tests/e2e/test_quotas.py has the
engine's): each at its limit passes, one over is refused with an answer naming the quota."""

import json

import pytest
from botocore.exceptions import ClientError

from stepwise import components
from stepwise.core import settings
from stepwise.core.errors import QuotaExceeded
from stepwise.infra import dynamo, keys
from tests.conftest import OTHER_KEY
from tests.helpers import http_event

ORG = "acme"


@pytest.fixture
def quota(stack, monkeypatch):
    """Sets a quota's variable as its template parameter would (the handlers run in-process)."""

    def set_quota(variable: str, value: int) -> None:
        monkeypatch.setenv(variable, str(value))
        settings.clear()

    yield set_quota
    monkeypatch.undo()
    settings.clear()


def call(stack, method, path, body=None, key=None):
    event = http_event(method, path, body) if key is None else http_event(method, path, body, key)
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"])


def workflow(stack, body, org=ORG, key=None):
    status, answer = call(stack, "POST", f"/v1/orgs/{org}/workflows", body, key)
    assert status == 201, answer
    return answer["data"]["id"]


def transform(ref="a", **fields):
    return {"ref": ref, "kind": "transform", "args": {"v": 1}, **fields}


def test_open_runs_per_org_at_the_quota_start_and_one_more_is_a_429_naming_it(stack, quota):
    quota("QUOTA_OPEN_RUNS_PER_ORG", 2)
    workflow_id = workflow(stack, {"name": "w", "nodes": [transform()]})
    for _ in range(2):
        status, _ = call(stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow_id})
        assert status == 201
    status, answer = call(stack, "POST", f"/v1/orgs/{ORG}/runs", {"workflow_id": workflow_id})
    assert status == 429
    [error] = answer["errors"]
    assert error["code"] == "quota_exceeded"
    assert "open_runs_per_org (QuotaOpenRunsPerOrg = 2)" in error["message"]
    # Another org's open runs are its own.
    other = workflow(stack, {"name": "w", "nodes": [transform()]}, "globex", OTHER_KEY)
    status, _ = call(stack, "POST", "/v1/orgs/globex/runs", {"workflow_id": other}, OTHER_KEY)
    assert status == 201


def test_a_run_input_at_the_quota_starts_and_one_byte_more_is_a_413(stack, quota):
    quota("QUOTA_RUN_INPUT_BYTES", 1024)
    workflow_id = workflow(stack, {"name": "w", "nodes": [transform()]})
    exact = {"s": "x" * (1024 - len('{"s":""}'))}
    path = f"/v1/orgs/{ORG}/runs"
    assert call(stack, "POST", path, {"workflow_id": workflow_id, "input": exact})[0] == 201
    over = {"s": exact["s"] + "x"}
    status, answer = call(stack, "POST", path, {"workflow_id": workflow_id, "input": over})
    assert status == 413
    assert "run_input_bytes (QuotaRunInputBytes = 1024)" in answer["errors"][0]["message"]


def test_nodes_per_workflow_at_the_quota_save_and_one_more_is_a_422(stack, quota):
    quota("QUOTA_NODES_PER_WORKFLOW", 3)
    workflow(stack, {"name": "w", "nodes": [transform(f"n{i}") for i in range(3)]})
    body = {"name": "w", "nodes": [transform(f"n{i}") for i in range(4)]}
    status, answer = call(stack, "POST", f"/v1/orgs/{ORG}/workflows", body)
    assert status == 422
    [error] = answer["detail"]
    assert error["loc"] == ["body", "nodes"] and error["type"] == "quota_exceeded"
    assert "nodes_per_workflow (QuotaNodesPerWorkflow = 3)" in error["msg"]


def test_an_expression_at_the_quota_saves_and_one_character_more_is_a_422(stack, quota):
    quota("QUOTA_EXPRESSION_LENGTH", 20)
    at_limit = "input." + "a" * 14  # 20 characters
    workflow(stack, {"name": "w", "nodes": [transform(run_if=f"{{{{ {at_limit} }}}}")]})
    body = {"name": "w", "nodes": [transform(run_if=f"{{{{ {at_limit}b }}}}")]}
    status, answer = call(stack, "POST", f"/v1/orgs/{ORG}/workflows", body)
    assert status == 422
    [error] = answer["detail"]
    assert error["loc"] == ["body", "nodes", 0, "run_if"]
    assert "expression_length (QuotaExpressionLength = 20)" in error["msg"]


def test_a_templated_string_at_the_quota_saves_and_one_more_is_a_422(stack, quota):
    quota("QUOTA_TEMPLATE_LENGTH", 100)
    text = "{{ input.a }}" + "x" * 87  # 100 characters
    workflow(stack, {"name": "w", "nodes": [{**transform(), "args": {"t": [text]}}]})
    body = {"name": "w", "nodes": [{**transform(), "args": {"t": [text + "x"]}}]}
    status, answer = call(stack, "POST", f"/v1/orgs/{ORG}/workflows", body)
    assert status == 422
    [error] = answer["detail"]
    assert error["loc"] == ["body", "nodes", 0, "args", "t", 0]
    assert "template_length (QuotaTemplateLength = 100)" in error["msg"]
    # Text without a placeholder is no template: the request's own limits bound it.
    plain = {"name": "w", "nodes": [{**transform(), "args": {"t": "x" * 500}}]}
    assert call(stack, "POST", f"/v1/orgs/{ORG}/workflows", plain)[0] == 201


def test_descendants_are_counted_once_per_child_run_and_stop_at_the_quota(
    stack, quota, monkeypatch
):
    """The count moves in the transaction that creates the child: a replayed create (the id
    exists) counts nothing, and the start over the quota writes no run."""
    quota("QUOTA_DESCENDANTS_PER_RUN", 2)
    store = components.store()
    workflow_id = workflow(stack, {"name": "w", "nodes": [transform()]})
    child = store.workflows.get_workflow(ORG, workflow_id)
    origin = {"parent_run_id": "run_root", "root_run_id": "run_root", "depth": 1}
    store.runs.create_run(ORG, "run_root.a.1", child, None, origin)
    with pytest.raises(ClientError):  # a replay: the run exists
        store.runs.create_run(ORG, "run_root.a.1", child, None, origin)
    store.runs.create_run(ORG, "run_root.a.1.b.1", child, None, {**origin, "depth": 2})
    counted = dynamo.get_item(store.table, keys.descendants(ORG, "run_root"))
    assert counted["descendants"] == 2
    with pytest.raises(QuotaExceeded, match=r"descendants_per_run \(QuotaDescendantsPerRun = 2\)"):
        store.runs.create_run(ORG, "run_root.c.1", child, None, origin)
    assert not store.runs.run_exists(ORG, "run_root.c.1")
    # Two starts racing both read room; the transaction's condition still refuses the second.
    monkeypatch.setattr(type(store.runs), "_check_descendants", lambda *_: None)
    with pytest.raises(QuotaExceeded):
        store.runs.create_run(ORG, "run_root.d.1", child, None, origin)
    assert not store.runs.run_exists(ORG, "run_root.d.1")
    assert dynamo.get_item(store.table, keys.descendants(ORG, "run_root"))["descendants"] == 2
