"""The ``stepwise`` command against the local stack over HTTP: in-process through ``main`` (its
streams are not terminals, so progress comes as plain lines), and as a real process for what
only a process shows (its exit status, argparse's usage errors)."""

import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from stepwise_cli.main import main
from stepwise_local.stack import DEFAULT_API_KEY, DEFAULT_ORG
from tests.conftest import OTHER_KEY
from tests.e2e.conftest import create_workflow, start_run, wait_for_run
from tests.helpers import diamond

ROOT = Path(__file__).resolve().parents[2]
ESCAPE = re.compile(r"\x1b\[")


def cli(local_stack, *args, key=DEFAULT_API_KEY, org=DEFAULT_ORG, env=None):
    """(exit code, stdout, stderr) of one command, in-process."""
    out, err = io.StringIO(), io.StringIO()
    environment = {
        "STEPWISE_URL": local_stack.base_url,
        "STEPWISE_ORG": org,
        "STEPWISE_API_KEY": key,
        "STEPWISE_CONFIG": "/nonexistent/stepwise.toml",
        **(env or {}),
    }
    code = main(list(args), out=out, err=err, env=environment, interval=0.05)
    return code, out.getvalue(), err.getvalue()


def unique(name):
    return f"{name}-{uuid.uuid4().hex[:8]}"


def failing_diamond(name):
    body = {**diamond(), "name": name}
    body["nodes"][2]["args"] = {"boom": "{{ abs(nodes.a.output.n) }}"}
    return body


def test_apply_creates_a_workflow_from_yaml_then_adds_a_version_to_it(local_stack, tmp_path):
    name = unique("from-yaml")
    path = tmp_path / "flow.yaml"
    path.write_text(
        f"name: {name}\n"
        "description: two steps\n"
        "nodes:\n"
        "  - {ref: hello, kind: transform, args: {greeting: 'hi {{ input.who }}'}}\n"
        "  - ref: shout\n"
        "    kind: transform\n"
        "    args: '{{ nodes.hello.output.greeting }}'\n"
        "    depends_on: [hello]\n"
    )
    code, out, err = cli(local_stack, "workflows", "apply", str(path), "--json")
    assert code == 0, err
    created = json.loads(out)
    assert created["name"] == name and created["version"] == 1
    assert [n["ref"] for n in created["nodes"]] == ["hello", "shout"]

    code, out, err = cli(local_stack, "workflows", "apply", str(path))
    assert code == 0, err
    assert out.strip() == f"workflow {created['id']} ({name}): saved version 2"

    code, out, _ = cli(local_stack, "workflows", "list", "--json")
    listed = [w for w in json.loads(out) if w["name"] == name]
    assert [(w["id"], w["latest_version"]) for w in listed] == [(created["id"], 2)]

    code, out, _ = cli(local_stack, "runs", "start", name, "--input", '{"who": "ada"}', "--wait")
    assert code == 0, out
    assert 'output: {"greeting": "hi ada"}' not in out  # the leaf's output is the run's
    assert "output: {" in out and "hi ada" in out


def test_a_workflow_file_the_api_refuses_shows_each_field_and_exits_3(local_stack, tmp_path):
    path = tmp_path / "bad.json"
    bad = {"name": unique("bad"), "nodes": [{"ref": "a", "kind": "teleport"}]}
    path.write_text(json.dumps(bad))
    code, out, err = cli(local_stack, "workflows", "apply", str(path))
    assert code == 3 and out == ""
    assert "422" in err and "body.nodes.0.kind:" in err
    assert "Traceback" not in err


def test_start_wait_prints_each_node_as_it_settles_and_exits_0(local_stack, tmp_path):
    path = tmp_path / "input.json"
    path.write_text('{"name": "ada", "n": 2}')
    workflow = create_workflow_by_cli(
        local_stack, tmp_path, {**diamond(), "name": unique("diamond")}
    )
    code, out, err = cli(local_stack, "runs", "start", workflow, "--input", f"@{path}", "--wait")
    assert code == 0, err
    assert not ESCAPE.search(out), "plain lines when stdout is not a terminal"
    run_id = re.search(r"started (run_\w+)", out).group(1)
    for ref in "abcd":
        assert re.search(rf"^\d\d:\d\d:\d\d  {ref} succeeded$", out, re.M), out
    assert f"{run_id} succeeded in" in out
    assert '"from_c": "n is 2"' in out


def test_a_failing_run_exits_1_and_says_which_node_failed(local_stack, tmp_path):
    workflow = create_workflow_by_cli(local_stack, tmp_path, failing_diamond(unique("failing")))
    code, out, err = cli(
        local_stack, "runs", "start", workflow, "--input", '{"n": "x"}', "--wait", "--json"
    )
    assert code == 1, err
    run = json.loads(out)  # --json: the settled run, and nothing else on stdout
    assert run["status"] == "failed" and run["error"]["node"] == "c"

    code, out, _ = cli(local_stack, "runs", "start", workflow, "--input", '{"n": "x"}', "--wait")
    assert code == 1
    assert re.search(r"run_\w+ failed in [\d.]+s: ExpressionError: .* \(node c\)", out), out


def test_graph_names_every_node_with_its_status(local_stack, api):
    workflow = create_workflow(api, failing_diamond(unique("graph")))
    run = wait_for_run(api, start_run(api, workflow, {"n": "x"}))
    statuses = {n["ref"]: n["status"] for n in run["nodes"]}
    code, out, err = cli(local_stack, "runs", "graph", run["id"])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{run['id']}  failed")
    drawn = {}
    for line in lines[1:]:  # " 2  b  transform  succeeded  <- a": layer, ref, kind, status
        tokens = line.split()
        ref, _kind, status = tokens[1:4] if tokens[0].isdigit() else tokens[0:3]
        drawn[ref] = status
    assert drawn == statuses
    assert re.search(r"^ 3  d\s+transform\s+cancelled\s+<- b, c$", out, re.M), out
    assert not ESCAPE.search(out) and "✔" not in out  # not a terminal: no colour, no symbols

    code, out, _ = cli(local_stack, "runs", "graph", run["id"], "--json")
    drawn = json.loads(out)
    assert [[n["ref"] for n in layer] for layer in drawn["layers"]] == [["a"], ["b", "c"], ["d"]]
    assert {n["ref"]: n["status"] for layer in drawn["layers"] for n in layer} == statuses


def test_every_json_output_parses(local_stack, api):
    workflow = create_workflow(api, {**diamond(), "name": unique("json")})
    run_id = start_run(api, workflow, {"name": "x", "n": 1})
    wait_for_run(api, run_id)
    for args, check in [
        (["runs", "list", "--workflow", workflow], lambda v: [r["id"] for r in v] == [run_id]),
        (["runs", "get", run_id], lambda v: v["status"] == "succeeded"),
        (["runs", "history", run_id], lambda v: v[0]["event_type"] == "RUN_CREATED"),
        (["runs", "logs", run_id], lambda v: v == []),
        (["workflows", "get", workflow], lambda v: v["id"] == workflow),
        (["--json", "workflows", "list", "--limit", "1"], lambda v: len(v) == 1),
    ]:
        code, out, err = cli(local_stack, *args, *([] if "--json" in args else ["--json"]))
        assert code == 0, (args, err)
        assert check(json.loads(out)), (args, out)


def test_logs_follow_ends_when_the_run_ends_with_every_line(local_stack, api):
    nodes = [
        {"ref": "nap", "kind": "wait", "start_delay": 2},
        {"ref": "boom", "kind": "transform", "args": "{{ abs(input.n) }}", "depends_on": ["nap"]},
    ]
    run_id = start_run(api, create_workflow(api, {"name": unique("slow-fail"), "nodes": nodes}))
    api.post(f"/runs/{run_id}/logs", json={"level": "info", "message": "before following"})

    def write_while_following():
        time.sleep(0.5)
        api.post(f"/runs/{run_id}/logs", json={"level": "warning", "message": "while following"})

    writer = threading.Thread(target=write_while_following)
    writer.start()
    try:
        code, out, err = cli(local_stack, "runs", "logs", run_id, "--follow", "--json")
    finally:
        writer.join()
    assert code == 0, err
    assert api.get(f"/runs/{run_id}").json()["data"]["status"] == "failed"
    lines = [json.loads(line) for line in out.splitlines()]  # JSON Lines, as they arrive
    messages = [line["message"] for line in lines]
    assert messages[:2] == ["before following", "while following"]
    assert [(line["source"], line["node_ref"]) for line in lines[2:]] == [("engine", "boom")]
    everything = api.get(f"/runs/{run_id}/logs").json()["data"]
    assert [line["id"] for line in lines] == [line["id"] for line in everything]

    code, out, _ = cli(local_stack, "runs", "logs", run_id)
    assert re.search(r"WARNING +while following$", out, re.M), out
    assert re.search(r"ERROR +\[boom\] ", out), out


def test_approve_lets_the_run_go_on_and_the_starting_key_is_refused(local_stack, api):
    made = api.post("/keys", json={"name": "cli-approver", "scopes": ["approve"]})
    approver = made.json()["data"]["key"]
    gated = {
        "name": unique("gated"),
        "nodes": [
            {"ref": "gate", "kind": "approval"},
            {"ref": "ship", "kind": "transform", "args": "shipped", "depends_on": ["gate"]},
        ],
    }
    workflow = create_workflow(api, gated)
    run_id = start_run(api, workflow)
    wait_for_node_status(api, run_id, "gate", "running")

    code, _, err = cli(local_stack, "approve", run_id, "gate")
    assert code == 3
    assert "403" in err and "separation of duties" in err

    code, out, err = cli(local_stack, "approve", run_id, "gate", "--comment", "ok", key=approver)
    assert code == 0, err
    assert out.startswith(f"{run_id} gate: approved")
    run = wait_for_run(api, run_id)
    assert run["status"] == "succeeded" and run["nodes"][0]["review"]["comment"] == "ok"

    rejected = start_run(api, workflow)
    wait_for_node_status(api, rejected, "gate", "running")
    code, _, err = cli(local_stack, "approve", rejected, "gate", "--reject", key=approver)
    assert code == 0, err
    assert wait_for_run(api, rejected)["status"] == "failed"
    code, _, err = cli(local_stack, "approve", rejected, "gate", key=approver)
    assert code == 3 and "409" in err


def test_cancel_wait_exits_1_once_the_run_is_cancelled(local_stack, api):
    slow = {"name": unique("slow"), "nodes": [{"ref": "nap", "kind": "wait", "start_delay": 60}]}
    run_id = start_run(api, create_workflow(api, slow))
    code, out, err = cli(local_stack, "runs", "cancel", run_id, "--reason", "not needed", "--wait")
    assert code == 1, err
    assert f"{run_id}: cancel accepted" in out and f"{run_id} cancelled in" in out
    assert api.get(f"/runs/{run_id}").json()["data"]["status"] == "cancelled"
    code, _, err = cli(local_stack, "runs", "cancel", run_id)
    assert code == 3 and "409" in err and "already ended" in err


def fixable(name):
    """a reads the input's name, b fails on an ``n`` that is not a number, c joins them."""
    return {
        "name": name,
        "nodes": [
            {"ref": "a", "kind": "transform", "args": {"who": "{{ input.name }}"}},
            {"ref": "b", "kind": "transform", "args": "{{ abs(input.n) }}", "depends_on": ["a"]},
            {
                "ref": "c",
                "kind": "transform",
                "args": {"who": "{{ nodes.a.output.who }}", "n": "{{ nodes.b.output }}"},
                "depends_on": ["b"],
            },
        ],
    }


def test_redrive_with_a_fixed_input_resumes_the_same_run_and_wait_exits_0(local_stack, api):
    workflow = create_workflow(api, fixable(unique("redrive")))
    run_id = start_run(api, workflow, {"name": "ada", "n": "x"})
    assert wait_for_run(api, run_id)["error"]["node"] == "b"

    code, _, err = cli(local_stack, "runs", "redrive", run_id, key=OTHER_KEY, org="globex")
    assert code == 3 and "404" in err  # another org's run: not found, not redriven
    fixed = '{"name": "bob", "n": -3}'
    code, out, err = cli(
        local_stack, "runs", "redrive", run_id, "--input", fixed, "--reason", "n fixed", "--wait"
    )
    assert code == 0, err
    # The API answers with the run as it reads it after queueing its start, which the engine
    # may already have taken: queued or running.
    accepted = rf"^{run_id}: redrive accepted \(run (queued|running), redrive 1\)$"
    assert re.search(accepted, out, re.M), out
    assert re.search(r"^\d\d:\d\d:\d\d  b succeeded  \[attempt 2\]$", out, re.M), out
    assert f"{run_id} succeeded in" in out
    run = api.get(f"/runs/{run_id}").json()["data"]
    # a had succeeded: kept with the output it made from the old input; b ran again, attempt 2.
    assert run["output"] == {"c": {"who": "ada", "n": 3}}
    attempts = {n["ref"]: [a["attempt"] for a in n["attempts"]] for n in run["nodes"]}
    assert attempts == {"a": [1], "b": [1, 2], "c": [1]}
    assert run["redrive_count"] == 1
    history = api.get(f"/runs/{run_id}/history").json()["data"]
    assert [e.get("reason") for e in history if e["event_type"] == "RUN_REDRIVEN"] == ["n fixed"]

    # A succeeded run is not redriven: the API's reason, exit 3, nothing on stdout.
    code, out, err = cli(local_stack, "runs", "redrive", run_id, "--wait")
    assert (code, out) == (3, "")
    assert "409 (conflict)" in err and "only a failed, timed_out or cancelled run" in err
    assert "Traceback" not in err
    assert api.get(f"/runs/{run_id}").json()["data"]["redrive_count"] == 1


def test_a_running_run_is_neither_redriven_nor_rerun(local_stack, api):
    slow = {"name": unique("slow"), "nodes": [{"ref": "nap", "kind": "wait", "start_delay": 60}]}
    run_id = start_run(api, create_workflow(api, slow))
    try:
        code, out, err = cli(local_stack, "runs", "redrive", run_id)
        assert (code, out) == (3, "") and "409 (conflict)" in err and "the run is " in err
        code, out, err = cli(local_stack, "runs", "rerun", run_id, "--from", "nap")
        assert (code, out) == (3, "") and "409 (conflict)" in err
    finally:
        assert api.post(f"/runs/{run_id}/cancel", json={}).status_code == 202
    assert wait_for_run(api, run_id)["status"] == "cancelled"


def test_rerun_from_a_node_starts_a_new_run_linked_to_the_old(local_stack, api):
    workflow = create_workflow(api, {**diamond(), "name": unique("rerun")})
    old = wait_for_run(api, start_run(api, workflow, {"name": "ada", "n": 2}))
    assert old["status"] == "succeeded"

    code, out, err = cli(local_stack, "runs", "rerun", old["id"], "--from", "c", "--wait")
    assert code == 0, err
    # As a redrive's: the local stack's RunQueue poller may have started the run already.
    started = rf"^started (run_\w+) \((?:queued|running)\), a rerun of {old['id']} from c$"
    new_id = re.search(started, out, re.M)
    assert new_id, out
    new_id = new_id.group(1)
    assert new_id != old["id"] and f"{new_id} succeeded in" in out
    new = api.get(f"/runs/{new_id}").json()["data"]
    assert new["rerun_of"] == old["id"] and new["output"] == old["output"]
    assert api.get(f"/runs/{old['id']}").json()["data"]["reruns"] == [new_id]

    # --json: the new run as the API answers it; the same Idempotency-Key starts no second one.
    args = ["runs", "rerun", old["id"], "--from", "b", "--idempotency-key", unique("k"), "--json"]
    code, out, err = cli(local_stack, *args)
    assert code == 0, err
    first = json.loads(out)
    assert first["rerun_of"] == old["id"] and first["id"] not in (old["id"], new_id)
    code, out, err = cli(local_stack, *args)
    assert code == 0, err
    assert json.loads(out)["id"] == first["id"]
    wait_for_run(api, first["id"])
    reruns = api.get(f"/runs/{old['id']}").json()["data"]["reruns"]
    assert sorted(reruns) == sorted([new_id, first["id"]])

    code, out, err = cli(local_stack, "runs", "rerun", old["id"], "--from", "nope")
    assert (code, out) == (3, "") and "422" in err and "body.from" in err


def test_another_orgs_key_gets_404_and_no_key_is_ever_printed(local_stack, api):
    run_id = start_run(api, create_workflow(api, {**diamond(), "name": unique("private")}))
    wait_for_run(api, run_id)
    code, out, err = cli(local_stack, "runs", "get", run_id, key=OTHER_KEY)
    assert code == 3 and "404" in err and out == ""
    code, _, err = cli(local_stack, "runs", "get", run_id, key=OTHER_KEY, org="globex")
    assert code == 3 and "404" in err
    code, out, err = cli(local_stack, "runs", "get", run_id, "--verbose")
    assert code == 0 and f"> GET {local_stack.base_url}/v1/orgs/acme/runs/{run_id}" in err
    assert DEFAULT_API_KEY not in out + err
    code, out, err = cli(local_stack, "runs", "list", "--verbose", key="swk_wrong_key")
    assert code == 3 and "401" in err and "swk_wrong_key" not in out + err


def test_the_command_as_a_process_exit_codes_and_plain_progress(local_stack, api):
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'layers/core'}",
        "STEPWISE_URL": local_stack.base_url,
        "STEPWISE_ORG": DEFAULT_ORG,
        "STEPWISE_API_KEY": DEFAULT_API_KEY,
        "STEPWISE_CONFIG": "/nonexistent/stepwise.toml",
    }
    workflow = create_workflow(api, {**diamond(), "name": unique("process")})

    def run(*args):
        return subprocess.run(  # noqa: S603 (this checkout's own command, fixed arguments)
            [sys.executable, "-m", "stepwise_cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    done = run("runs", "start", workflow, "--input", '{"name": "p", "n": 1}', "--wait")
    assert done.returncode == 0, done.stderr
    assert "d succeeded" in done.stdout and not ESCAPE.search(done.stdout)
    usage = run("runs", "rerun", "run_x")  # --from is required
    assert usage.returncode == 2 and "--from" in usage.stderr and "Traceback" not in usage.stderr
    assert run("runs", "start").returncode == 2
    assert run("runs", "start", workflow, "--input", "{nope").returncode == 2
    gone = run("--url", "http://127.0.0.1:9", "runs", "list")
    assert gone.returncode == 4 and "cannot reach" in gone.stderr


def create_workflow_by_cli(local_stack, tmp_path, body):
    """Applies ``body`` from a JSON file through the command; the new workflow's id."""
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(body))
    code, out, err = cli(local_stack, "workflows", "apply", str(path), "--json")
    assert code == 0, err
    return json.loads(out)["id"]


def json_status(api, run_id, ref):
    return api.get(f"/runs/{run_id}/nodes/{ref}").json()["data"]["status"]


def wait_for_node_status(api, run_id, ref, status, timeout=30):
    deadline = time.monotonic() + timeout
    while json_status(api, run_id, ref) != status:
        assert time.monotonic() < deadline, f"{ref} never {status}"
        time.sleep(0.05)


def test_pause_holds_what_becomes_ready_and_resume_wait_runs_it_to_the_end(local_stack, api):
    made = api.post("/keys", json={"name": "cli-pause-approver", "scopes": ["approve"]})
    approver = made.json()["data"]["key"]
    gated = {
        "name": unique("held"),
        "nodes": [
            {"ref": "gate", "kind": "approval"},
            {"ref": "ship", "kind": "transform", "args": "shipped", "depends_on": ["gate"]},
        ],
    }
    run_id = start_run(api, create_workflow(api, gated))
    wait_for_node_status(api, run_id, "gate", "running")

    code, out, err = cli(local_stack, "runs", "pause", run_id)
    assert code == 0, err
    assert out.strip() == f"{run_id}: pause accepted (run paused)"
    # The approval lands while paused: the gate finishes, ship is held.
    code, _, err = cli(local_stack, "approve", run_id, "gate", key=approver)
    assert code == 0, err
    wait_for_node_status(api, run_id, "gate", "succeeded")
    run = api.get(f"/runs/{run_id}").json()["data"]
    assert run["status"] == "paused"
    assert {n["ref"]: n["status"] for n in run["nodes"]}["ship"] == "pending"

    code, out, err = cli(local_stack, "runs", "resume", run_id, "--wait")
    assert code == 0, err
    assert f"{run_id}: resume accepted" in out
    run = wait_for_run(api, run_id)
    assert run["status"] == "succeeded" and run["output"] == {"ship": "shipped"}
    code, _, err = cli(local_stack, "runs", "resume", run_id)
    assert code == 3 and "409" in err
