"""Attack tests for issue 14 rows 1 and 10: what a key below admin, a key that started a run,
and a key limited to named workflows try, and what must not happen."""

import json

import pytest

from stepwise import components
from stepwise.engine.address import NodeAddress
from stepwise.infra import executions
from stepwise_local.receiver import Answer
from tests.helpers import DEFAULT_KEY, http_event
from tests.integration.actions.test_dispatcher import ORG, api, prepared_attempt

pytestmark = pytest.mark.attack  # issue 14: each test is a request an attacker would send

WRITER = "swk_test_writer"
APPROVER = "swk_test_approver"
TOKEN = {"name": "c", "type": "bearer", "token": "tok-stored-secret"}


@pytest.fixture
def keys(stack):
    store = components.api_keys()
    return {
        "writer": store.store(WRITER, ORG, "writer", ["write"], "test"),
        "approver": store.store(APPROVER, ORG, "approver", ["approve"], "test"),
    }


@pytest.fixture
def resumed(resumed, monkeypatch):
    """Every resume (tests/integration/conftest.py) and heartbeat a step sends, in order."""
    monkeypatch.setattr(executions, "heartbeat", lambda t: resumed.append((t, "heartbeat")) or True)
    return resumed


def call(stack, method, path, body=None, key=DEFAULT_KEY):
    path, _, query = path.partition("?")
    event = http_event(method, f"/v1/orgs/{ORG}{path}", body, key, query)
    response = stack.invoke("ApiFunction", event)
    return response["statusCode"], json.loads(response["body"] or "null")


def message_of(payload):
    return payload["errors"][0]["message"]


# -- credentials and destinations ---------------------------------------------------------------


def test_a_write_key_cannot_re_point_a_destination_that_has_a_credential(
    stack, keys, receiver, resumed
):
    url = receiver.answer("/owner", Answer(200, {"ok": True}))
    evil = receiver.answer("/attacker", Answer(200, {"ok": True}))
    _, message = prepared_attempt(stack, url, TOKEN)
    [destination] = api(stack, "GET", "/destinations")["data"]

    status, payload = call(
        stack, "PATCH", f"/destinations/{destination['id']}", {"url": evil}, key=WRITER
    )
    assert status == 403 and "admin" in message_of(payload)
    status, payload = call(  # nor by clearing and re-adding the credential in one request
        stack,
        "PATCH",
        f"/destinations/{destination['id']}",
        {"url": evil, "credential_id": destination["credential_id"]},
        key=WRITER,
    )
    assert status == 403

    components.dispatcher().deliver(message)
    assert receiver.at("/attacker") == []
    [delivered] = receiver.at("/owner")
    assert delivered.headers["authorization"] == "Bearer tok-stored-secret"


def test_a_write_key_may_re_point_a_destination_without_a_credential_only(stack, keys, receiver):
    url = receiver.answer("/plain", Answer(200, {}))
    created = call(stack, "POST", "/destinations", {"label": "d", "url": url}, key=WRITER)
    assert created[0] == 201
    dest_id = created[1]["data"]["id"]
    other = receiver.answer("/plain2", Answer(200, {}))
    assert call(stack, "PATCH", f"/destinations/{dest_id}", {"url": other}, key=WRITER)[0] == 200
    # Removing a credential sends no secret anywhere: write may do that.
    assert (
        call(stack, "PATCH", f"/destinations/{dest_id}", {"credential_id": None}, key=WRITER)[0]
        == 200
    )


def test_a_write_key_cannot_give_a_destination_a_stored_credential(stack, keys, receiver):
    credential = call(stack, "POST", "/credentials", TOKEN)[1]["data"]
    evil = receiver.answer("/attacker", Answer(200, {}))
    body = {"label": "mine", "url": evil, "credential_id": credential["id"]}
    status, payload = call(stack, "POST", "/destinations", body, key=WRITER)
    assert status == 403 and "credential" in message_of(payload)
    assert api(stack, "GET", "/destinations")["data"] == []  # nothing was created

    plain = call(stack, "POST", "/destinations", {"label": "p", "url": evil}, key=WRITER)[1]
    patch = {"credential_id": credential["id"]}
    status, _ = call(stack, "PATCH", f"/destinations/{plain['data']['id']}", patch, key=WRITER)
    assert status == 403
    shown = api(stack, "GET", f"/destinations/{plain['data']['id']}")["data"]
    assert shown["credential_id"] is None
    # The admin key may.
    assert call(stack, "PATCH", f"/destinations/{plain['data']['id']}", patch)[0] == 200


def test_a_write_key_cannot_create_or_delete_credentials(stack, keys):
    status, payload = call(stack, "POST", "/credentials", TOKEN, key=WRITER)
    assert status == 403 and "do not include admin" in message_of(payload)
    credential = call(stack, "POST", "/credentials", TOKEN)[1]["data"]
    assert call(stack, "DELETE", f"/credentials/{credential['id']}", key=WRITER)[0] == 403
    assert call(stack, "GET", f"/credentials/{credential['id']}", key=WRITER)[0] == 200


def test_a_write_key_cannot_rotate_a_signing_secret(stack, keys, receiver):
    url = receiver.answer("/x", Answer(200, {}))
    dest = call(stack, "POST", "/destinations", {"label": "d", "url": url}, key=WRITER)[1]["data"]
    status, payload = call(
        stack, "POST", f"/destinations/{dest['id']}/rotate-secret", {}, key=WRITER
    )
    assert status == 403 and "signing_secret" not in json.dumps(payload)
    assert call(stack, "POST", f"/destinations/{dest['id']}/rotate-secret", {})[0] == 200


# -- approvals ----------------------------------------------------------------------------------


def approval_run(stack, key=DEFAULT_KEY):
    nodes = [{"ref": "gate", "kind": "approval"}]
    workflow = api(stack, "POST", "/workflows", {"name": "a", "nodes": nodes})["data"]
    status, payload = call(stack, "POST", "/runs", {"workflow_id": workflow["id"]}, key=key)
    assert status == 201, payload
    run_id = payload["data"]["id"]
    engine = components.engine()
    engine.runs.start_run(ORG, run_id)
    assert engine.nodes.attempt(NodeAddress(ORG, run_id, "gate", 1))["next"] == "review"
    return run_id


def approve(stack, run_id, key):
    path = f"/runs/{run_id}/nodes/gate/approval"
    return call(stack, "POST", path, {"decision": "approve"}, key=key)


def test_a_write_key_cannot_approve(stack, keys, resumed):
    run_id = approval_run(stack)
    status, payload = approve(stack, run_id, WRITER)
    assert status == 403 and "do not include approve" in message_of(payload)
    assert components.store().runs.get_node(ORG, run_id, "gate").attempt_record(1).signal is None


def test_the_key_that_started_a_run_cannot_approve_it(stack, keys, resumed):
    components.api_keys().store("swk_test_both", ORG, "both", ["write", "approve"], "test")
    run_id = approval_run(stack, key="swk_test_both")
    status, payload = approve(stack, run_id, "swk_test_both")
    assert status == 403 and "separation of duties" in message_of(payload)
    both = components.api_keys().find("swk_test_both")
    assert api(stack, "GET", f"/runs/{run_id}")["data"]["created_by_key"] == both["id"]

    status, payload = approve(stack, run_id, APPROVER)
    assert status == 202, payload
    review = payload["data"]["review"]
    assert review["reviewed_by"] == "key:approver"
    assert review["reviewed_by_key"] == keys["approver"]["id"]


def test_the_key_that_started_the_root_run_cannot_approve_a_child_run(stack, keys, resumed):
    components.api_keys().store("swk_test_both", ORG, "both", ["write", "approve"], "test")
    nodes = [{"ref": "gate", "kind": "approval"}]
    child_wf = api(stack, "POST", "/workflows", {"name": "c", "nodes": nodes})["data"]["id"]
    parent = {"name": "p", "nodes": [{"ref": "a", "kind": "transform", "args": 1}]}
    parent_wf = api(stack, "POST", "/workflows", parent)["data"]["id"]
    body = {"workflow_id": parent_wf}
    parent_id = call(stack, "POST", "/runs", body, key="swk_test_both")[1]["data"]["id"]
    store = components.store()
    child_id = f"{parent_id}.a.1"
    origin = {"parent_run_id": parent_id, "parent_node_ref": "a", "depth": 1, "role": "parent"}
    store.runs.create_run(ORG, child_id, store.workflows.get_workflow(ORG, child_wf), {}, origin)
    engine = components.engine()
    engine.runs.start_run(ORG, child_id)
    assert engine.nodes.attempt(NodeAddress(ORG, child_id, "gate", 1))["next"] == "review"

    status, payload = approve(stack, child_id, "swk_test_both")
    assert status == 403 and "separation of duties" in message_of(payload)
    assert approve(stack, child_id, APPROVER)[0] == 202


def test_the_key_that_created_a_batch_cannot_approve_its_runs(stack, keys, resumed):
    components.api_keys().store("swk_test_both", ORG, "both", ["write", "approve"], "test")
    nodes = [{"ref": "gate", "kind": "approval"}]
    workflow = api(stack, "POST", "/workflows", {"name": "a", "nodes": nodes})["data"]["id"]
    batch = {"workflow_id": workflow, "inputs": [{}]}
    assert call(stack, "POST", "/batches", batch, key="swk_test_both")[0] == 202
    stack.drain("BatchesFunction")
    [run] = api(stack, "GET", "/runs")["data"]
    both = components.api_keys().find("swk_test_both")
    assert api(stack, "GET", f"/runs/{run['id']}")["data"]["created_by_key"] == both["id"]
    engine = components.engine()
    engine.runs.start_run(ORG, run["id"])
    assert engine.nodes.attempt(NodeAddress(ORG, run["id"], "gate", 1))["next"] == "review"

    status, payload = approve(stack, run["id"], "swk_test_both")
    assert status == 403 and "separation of duties" in message_of(payload)


def test_the_key_that_created_a_schedule_cannot_approve_its_runs(stack, keys, resumed):
    components.api_keys().store("swk_test_both", ORG, "both", ["write", "approve"], "test")
    nodes = [{"ref": "gate", "kind": "approval"}]
    workflow = api(stack, "POST", "/workflows", {"name": "a", "nodes": nodes})["data"]["id"]
    body = {"name": "s", "expression": "rate(1 hour)", "workflow_id": workflow}
    status, schedule = call(stack, "POST", "/schedules", body, key="swk_test_both")
    assert status == 201, schedule
    event = {
        "org_id": ORG,
        "schedule_id": schedule["data"]["id"],
        "scheduled_time": "2026-11-24T10:00:00Z",
    }
    stack.invoke("TriggerFunction", event)
    [run] = api(stack, "GET", "/runs")["data"]
    engine = components.engine()
    engine.runs.start_run(ORG, run["id"])
    assert engine.nodes.attempt(NodeAddress(ORG, run["id"], "gate", 1))["next"] == "review"

    status, payload = approve(stack, run["id"], "swk_test_both")
    assert status == 403 and "separation of duties" in message_of(payload)
    assert approve(stack, run["id"], APPROVER)[0] == 202


def test_an_approve_key_reads_but_does_not_write(stack, keys):
    assert call(stack, "GET", "/runs", key=APPROVER)[0] == 200
    body = {"name": "w", "nodes": [{"ref": "a", "kind": "transform", "args": 1}]}
    assert call(stack, "POST", "/workflows", body, key=APPROVER)[0] == 403


# -- workflow-limited keys ----------------------------------------------------------------------


def test_a_workflow_limited_key_sees_and_starts_only_its_workflows_runs(stack):
    nodes = [{"ref": "a", "kind": "transform", "args": 1}]
    mine = api(stack, "POST", "/workflows", {"name": "mine", "nodes": nodes})["data"]["id"]
    theirs = api(stack, "POST", "/workflows", {"name": "theirs", "nodes": nodes})["data"]["id"]
    status, made = call(
        stack, "POST", "/keys", {"name": "ci", "scopes": ["write"], "workflows": [mine]}
    )
    assert status == 201 and made["data"]["workflows"] == [mine]
    limited = made["data"]["key"]
    their_run = api(stack, "POST", "/runs", {"workflow_id": theirs})["data"]["id"]

    status, payload = call(stack, "POST", "/runs", {"workflow_id": theirs}, key=limited)
    assert status == 403 and theirs in message_of(payload)
    batch = {"workflow_id": theirs, "inputs": [{}]}
    assert call(stack, "POST", "/batches", batch, key=limited)[0] == 403
    status, own = call(stack, "POST", "/runs", {"workflow_id": mine}, key=limited)
    assert status == 201

    for path in (f"/runs/{their_run}", f"/runs/{their_run}/history", f"/runs/{their_run}/logs"):
        assert call(stack, "GET", path, key=limited)[0] == 404, path
    assert call(stack, "POST", f"/runs/{their_run}/cancel", {}, key=limited)[0] == 404
    assert call(stack, "GET", f"/workflows/{theirs}", key=limited)[0] == 404
    listed = call(stack, "GET", "/runs", key=limited)[1]["data"]
    assert [r["id"] for r in listed] == [own["data"]["id"]]
    assert call(stack, "GET", f"/runs?workflow_id={theirs}", key=limited)[0] == 403
    assert call(stack, "GET", f"/runs/{own['data']['id']}", key=limited)[0] == 200
    # Org-wide changes are not open to it: a new workflow version could start any workflow.
    body = {"name": "w", "nodes": nodes}
    assert call(stack, "PUT", f"/workflows/{mine}", body, key=limited)[0] == 403
    assert call(stack, "GET", "/destinations", key=limited)[0] == 403


def test_a_key_limited_to_several_workflows_lists_all_their_runs_and_no_others(stack):
    """Before: such a key had to name one workflow per list (403 without workflow_id). Now its
    list merges its workflows' runs, newest first, paged both ways, and never shows another
    workflow's run, nor a total that counts them."""
    nodes = [{"ref": "a", "kind": "transform", "args": 1}]
    one, two, theirs = (
        api(stack, "POST", "/workflows", {"name": n, "nodes": nodes})["data"]["id"]
        for n in ("one", "two", "theirs")
    )
    order = (one, theirs, two, one, theirs, two, two)
    started = [(api(stack, "POST", "/runs", {"workflow_id": w})["data"]["id"], w) for w in order]
    mine = [run for run, w in started if w != theirs]
    body = {"name": "ci", "scopes": ["read"], "workflows": [one, two]}
    status, made = call(stack, "POST", "/keys", body)
    assert status == 201, made
    limited = made["data"]["key"]

    seen, cursor, pages = [], None, []
    while True:
        path = "/runs?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = call(stack, "GET", path, key=limited)
        assert status == 200, page
        pages.append(page)
        seen += [r["id"] for r in page["data"]]
        assert page["total"] == len(mine)
        cursor = page["next_page"]
        if not cursor:
            break
    assert seen == list(reversed(mine))  # newest first, every run of its workflows, once
    # Back from the last page: the page before it, in the same order.
    path = f"/runs?limit=2&cursor={pages[-1]['previous_page']}"
    back = call(stack, "GET", path, key=limited)[1]
    assert [r["id"] for r in back["data"]] == [r["id"] for r in pages[-2]["data"]]
    # Filters still apply; a total with no counter of its own is null, not the org's.
    queued = call(stack, "GET", "/runs?status=queued&limit=100", key=limited)[1]
    assert {r["id"] for r in queued["data"]} == set(mine) and queued["total"] is None
    # A cursor of the org-wide list does not page this one.
    org_page = call(stack, "GET", "/runs?limit=2")[1]
    path = f"/runs?limit=2&cursor={org_page['next_page']}"
    assert call(stack, "GET", path, key=limited)[0] == 400
    assert call(stack, "GET", f"/runs?workflow_id={theirs}", key=limited)[0] == 403
    listed = call(stack, "GET", f"/runs?workflow_id={two}", key=limited)[1]["data"]
    assert [r["id"] for r in listed] == [run for run, w in reversed(started) if w == two]


def test_a_key_limited_to_more_workflows_than_a_list_merges_names_one(stack):
    nodes = [{"ref": "a", "kind": "transform", "args": 1}]
    ids = [
        api(stack, "POST", "/workflows", {"name": f"w{i}", "nodes": nodes})["data"]["id"]
        for i in range(11)
    ]
    made = call(stack, "POST", "/keys", {"name": "many", "scopes": ["read"], "workflows": ids})[1]
    status, payload = call(stack, "GET", "/runs", key=made["data"]["key"])
    assert status == 403 and "workflow_id" in message_of(payload)
    assert call(stack, "GET", f"/runs?workflow_id={ids[3]}", key=made["data"]["key"])[0] == 200
