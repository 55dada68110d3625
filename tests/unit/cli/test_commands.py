"""The command's requests and its answers to what the API says, against a scripted server:
the request each command sends, how each error is shown and what it exits with, 429s waited
out, and the key never printed."""

import io
import json

import pytest

from stepwise_cli import client as client_module
from stepwise_cli.main import main
from tests.unit.cli.fake_api import FakeApi

KEY = "swk_unit_secret_key"
RUN = {"id": "run_1", "status": "running", "workflow_id": "wf_1", "nodes": []}


@pytest.fixture
def api():
    with FakeApi() as fake:
        yield fake


def cli(api, *args):
    out, err = io.StringIO(), io.StringIO()
    env = {
        "STEPWISE_URL": api.url,
        "STEPWISE_ORG": "acme",
        "STEPWISE_API_KEY": KEY,
        "STEPWISE_CONFIG": "/nonexistent.toml",
    }
    code = main(list(args), out=out, err=err, env=env, interval=0)
    assert KEY not in out.getvalue() + err.getvalue()
    return code, out.getvalue(), err.getvalue()


def test_the_key_goes_in_the_authorization_header_only(api):
    api.answer("GET", "/runs/run_1", 200, {"data": RUN})
    code, _, err = cli(api, "runs", "get", "run_1", "--verbose")
    assert code == 0
    [request] = api.requests
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert KEY not in request["path"] + request["query"]
    assert f"> GET {api.url}/v1/orgs/acme/runs/run_1" in err and "< 200 in" in err


@pytest.mark.parametrize(
    ("args", "path", "body"),
    [
        (["runs", "redrive", "run_1"], "/runs/run_1/redrive", None),
        (
            [
                "runs",
                "redrive",
                "run_1",
                "--input",
                '{"n": 1}',
                "--workflow-version",
                "3",
                "--reason",
                "fixed",
            ],
            "/runs/run_1/redrive",
            {"input": {"n": 1}, "workflow_version": 3, "reason": "fixed"},
        ),
        (["runs", "pause", "run_1"], "/runs/run_1/pause", None),
        (["runs", "resume", "run_1"], "/runs/run_1/resume", None),
        (["runs", "cancel", "run_1", "--reason", "r"], "/runs/run_1/cancel", {"reason": "r"}),
    ],
)
def test_run_actions_post_the_documented_shapes(api, args, path, body):
    api.answer("POST", path, 202, {"data": {**RUN, "status": "queued"}})
    code, out, _ = cli(api, *args)
    assert code == 0
    [request] = api.requests
    assert (request["method"], request["path"], request["body"]) == (
        "POST",
        f"/v1/orgs/acme{path}",
        body,
    )
    assert "accepted (run queued)" in out


def test_rerun_posts_from_and_shows_the_new_run(api):
    made = {**RUN, "id": "run_2", "status": "queued", "rerun_of": "run_1"}
    api.answer("POST", "/runs/run_1/rerun", 201, {"data": made})
    code, out, _ = cli(api, "runs", "rerun", "run_1", "--from", "b", "--input", '{"x": 1}')
    assert code == 0
    assert api.requests[0]["body"] == {"from": "b", "input": {"x": 1}}
    assert out.startswith("started run_2 (queued), a rerun of run_1 from b")


def test_an_input_of_null_is_sent_and_no_input_keeps_the_runs(api):
    """--input null replaces the input with null; leaving --input out sends no input at all
    (the API then keeps the run's)."""
    api.answer("POST", "/runs/run_1/redrive", 202, {"data": {**RUN, "status": "queued"}})
    api.answer("POST", "/runs/run_1/rerun", 201, {"data": {**RUN, "id": "run_2"}})
    assert cli(api, "runs", "redrive", "run_1", "--input", "null")[0] == 0
    assert cli(api, "runs", "rerun", "run_1", "--from", "a", "--input", "null")[0] == 0
    assert cli(api, "runs", "rerun", "run_1", "--from", "a")[0] == 0
    assert [r["body"] for r in api.requests] == [
        {"input": None},
        {"from": "a", "input": None},
        {"from": "a"},
    ]


@pytest.mark.parametrize("action", ["redrive", "rerun"])
def test_a_repair_sends_an_idempotency_key_new_per_command_or_the_one_given(api, action):
    status = 202 if action == "redrive" else 201
    api.answer("POST", f"/runs/run_1/{action}", status, {"data": {**RUN, "status": "queued"}})
    args = ["runs", action, "run_1", *(["--from", "a"] if action == "rerun" else [])]
    cli(api, *args)
    cli(api, *args)
    cli(api, *args, "--idempotency-key", "nightly-fix")
    keys = [r["headers"]["Idempotency-Key"] for r in api.requests]
    assert len(set(keys[:2])) == 2 and keys[2] == "nightly-fix"


def test_a_redrive_the_api_refuses_shows_why_and_exits_3(api):
    message = "the run is succeeded: only a failed, timed_out or cancelled run can be redriven"
    refused = {"data": None, "errors": [{"code": "conflict", "message": message}]}
    api.answer("POST", "/runs/run_1/redrive", 409, refused)
    code, out, err = cli(api, "runs", "redrive", "run_1", "--wait")
    assert (code, out) == (3, "")
    assert "redrive answered 409 (conflict)" in err and f"conflict: {message}" in err
    assert [r["method"] for r in api.requests] == ["POST"]  # --wait follows no refused run


def test_a_route_the_stack_lacks_is_said_plainly(api):
    code, _, err = cli(api, "runs", "pause", "run_1")
    assert code == 3
    assert "has no route POST /v1/orgs/acme/runs/run_1/pause (404)" in err


def test_a_run_that_is_not_there_is_a_404_with_the_apis_message(api):
    body = {"data": None, "errors": [{"code": "not_found", "message": "run 'run_9' not found"}]}
    api.answer("GET", "/runs/run_9", 404, body)
    code, out, err = cli(api, "runs", "get", "run_9")
    assert (code, out) == (3, "")
    assert "answered 404 (not found)" in err and "not_found: run 'run_9' not found" in err


def test_a_422_names_every_field(api):
    detail = [
        {"loc": ["body", "nodes", 3, "depends_on", 1], "msg": "unknown ref 'nope'", "type": "x"},
        {"loc": ["body", "name"], "msg": "Field required", "type": "missing"},
    ]
    api.answer("POST", "/runs", 422, {"detail": detail})
    code, _, err = cli(api, "runs", "start", "wf_1")
    assert code == 3
    assert "  body.nodes.3.depends_on.1: unknown ref 'nope'" in err
    assert "  body.name: Field required" in err


def test_a_403_shows_the_scope_the_api_names(api):
    message = "this key lacks the 'approve' scope"
    api.answer(
        "POST",
        "/runs/run_1/nodes/gate/approval",
        403,
        {"data": None, "errors": [{"code": "forbidden", "message": message}]},
    )
    code, _, err = cli(api, "approve", "run_1", "gate", "--reject", "--comment", "no")
    assert code == 3 and "403 (forbidden)" in err and message in err
    assert api.requests[0]["body"] == {"decision": "reject", "comment": "no"}


def test_a_429_is_retried_after_the_time_retry_after_asks(api, monkeypatch):
    slept = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    limited = {"data": None, "errors": [{"code": "rate_limited", "message": "50 a second"}]}
    api.answer("POST", "/runs", 429, limited, **{"Retry-After": "1"})
    api.answer("POST", "/runs", 429, limited, **{"Retry-After": "2"})
    api.answer("POST", "/runs", 201, {"data": {**RUN, "status": "queued"}})
    code, _, err = cli(api, "runs", "start", "wf_1")
    assert code == 0, err
    assert slept == [1.0, 2.0]
    assert err.count("rate limited (429): retrying in") == 2
    keys = {r["headers"]["Idempotency-Key"] for r in api.requests}
    assert len(api.requests) == 3 and len(keys) == 1  # the retries start no second run


def test_a_429_without_retry_after_is_shown_not_retried(api):
    quota = {"data": None, "errors": [{"code": "quota_exceeded", "message": "open_runs_per_org"}]}
    api.answer("POST", "/runs", 429, quota)
    code, _, err = cli(api, "runs", "start", "wf_1")
    assert code == 3 and len(api.requests) == 1
    assert "429 (too many requests)" in err and "quota_exceeded: open_runs_per_org" in err


def test_an_answer_that_is_not_json_is_shown_as_text(api):
    api.answer("GET", "/runs/run_1", 502, "Bad Gateway")
    code, _, err = cli(api, "runs", "get", "run_1")
    assert code == 3 and "502 (server error)" in err and "Bad Gateway" in err


def test_ids_stay_one_path_segment(api):
    code, _, _ = cli(api, "runs", "get", "../workflows/wf_1")
    assert code == 3
    assert api.requests[0]["path"] == "/v1/orgs/acme/runs/..%2Fworkflows%2Fwf_1"


def test_start_by_name_finds_the_one_workflow_so_named(api):
    page = {
        "data": [{"id": "wf_a", "name": "nightly"}, {"id": "wf_b", "name": "other"}],
        "next_page": None,
    }
    api.answer("GET", "/workflows", 200, page)
    api.answer("POST", "/runs", 201, {"data": {**RUN, "status": "queued"}})
    code, _, _ = cli(api, "runs", "start", "nightly", "--idempotency-key", "k1")
    assert code == 0
    assert api.requests[-1]["body"] == {"workflow_id": "wf_a", "input": None}
    assert api.requests[-1]["headers"]["Idempotency-Key"] == "k1"


def test_two_workflows_of_one_name_are_a_usage_error(api, tmp_path):
    page = {
        "data": [{"id": "wf_a", "name": "twin"}, {"id": "wf_b", "name": "twin"}],
        "next_page": None,
    }
    api.answer("GET", "/workflows", 200, page)
    path = tmp_path / "twin.json"
    path.write_text(json.dumps({"name": "twin", "nodes": []}))
    code, _, err = cli(api, "workflows", "apply", str(path))
    assert code == 2 and "wf_a, wf_b" in err and "--id" in err
    assert [r["method"] for r in api.requests] == ["GET"]


def test_apply_with_an_id_in_the_file_adds_a_version_to_it(api, tmp_path):
    saved = {"id": "wf_a", "name": "n", "version": 4}
    api.answer("PUT", "/workflows/wf_a", 200, {"data": saved})
    path = tmp_path / "flow.yml"
    path.write_text("id: wf_a\nname: n\nnodes: []\n")
    code, out, _ = cli(api, "workflows", "apply", str(path))
    assert code == 0 and out.strip() == "workflow wf_a (n): saved version 4"
    assert api.requests[0]["body"] == {"name": "n", "nodes": []}  # the id is the path's


def test_a_file_that_is_not_a_workflow_is_a_usage_error(api, tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    assert cli(api, "workflows", "apply", str(path))[0] == 2
    path.write_text("name: [unclosed\n")
    code, _, err = cli(api, "workflows", "apply", str(path))
    assert code == 2 and "not valid JSON or YAML" in err
    assert cli(api, "workflows", "apply", str(tmp_path / "missing.json"))[0] == 2
    assert api.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ["runs"],
        ["runs", "rerun", "run_1"],
        ["runs", "list", "--limit", "0"],
        ["runs", "list", "--status", "sleeping"],
        ["approve", "run_1"],
        ["nothing"],
    ],
)
def test_usage_errors_exit_2_before_any_request(api, args):
    code, _, err = cli(api, *args)
    assert code == 2 and "usage: stepwise" in err
    assert api.requests == []


def test_global_options_go_before_or_after_the_command(api):
    api.answer("GET", "/runs/run_1", 200, {"data": RUN})
    for args in (["--json", "runs", "get", "run_1"], ["runs", "get", "run_1", "--json"]):
        code, out, _ = cli(api, *args)
        assert code == 0 and json.loads(out)["id"] == "run_1"


def test_wait_follows_the_run_and_exits_by_its_outcome(api):
    done = {**RUN, "status": "timed_out", "error": {"type": "RunTimedOut", "message": "late"}}
    api.answer("POST", "/runs/run_1/resume", 202, {"data": RUN})
    api.answer("GET", "/runs/run_1", 200, {"data": RUN})
    api.answer("GET", "/runs/run_1", 200, {"data": done})
    code, out, _ = cli(api, "runs", "resume", "run_1", "--wait")
    assert code == 1
    assert "run_1 timed_out in -: RunTimedOut: late" in out


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    assert client_module.retry_after_seconds("3") == 3.0
    date = "Tue, 01 Dec 2026 20:00:05 GMT"
    now = client_module.email.utils.parsedate_to_datetime(date).timestamp() - 5
    assert client_module.retry_after_seconds(date, now=now) == 5.0
    assert client_module.retry_after_seconds("soon") is None
    assert client_module.retry_after_seconds(None) is None


def test_a_read_answered_502_is_sent_again_and_a_write_is_not(api, monkeypatch):
    slept = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    api.answer("GET", "/runs/run_1", 502, "Bad Gateway")
    api.answer("GET", "/runs/run_1", 200, {"data": RUN})
    code, _, err = cli(api, "runs", "get", "run_1")
    assert code == 0 and slept == [0.5] and "502: trying again in 0.5s" in err
    api.answer("POST", "/runs/run_1/cancel", 503, "Unavailable")
    code, _, _ = cli(api, "runs", "cancel", "run_1")
    assert code == 3 and [r["method"] for r in api.requests].count("POST") == 1


def test_a_url_that_never_answered_fails_at_once_with_exit_4(monkeypatch):
    slept = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    out, err = io.StringIO(), io.StringIO()
    env = {"STEPWISE_URL": "http://127.0.0.1:9", "STEPWISE_ORG": "acme", "STEPWISE_API_KEY": KEY}
    assert main(["runs", "list"], out=out, err=err, env=env) == 4
    assert slept == [] and "cannot reach http://127.0.0.1:9" in err.getvalue()
