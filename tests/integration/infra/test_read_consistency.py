"""Which reads are eventually consistent: the versions of a workflow and of an action definition,
never changed once written, are read at half the units, and strongly again only when that misses
(a version put moments ago that the replica read has not seen). Heads, runs, destinations and API
keys change, and are read strongly. A spy on the DynamoDB client sees every GetItem's parameters;
moto's replicas never lag, so a lagging one is played by answering the eventually consistent
read of a version with nothing."""

import json

import pytest
from botocore.awsrequest import AWSResponse

from stepwise import components
from stepwise.core.errors import NotFound
from stepwise.infra import aws
from tests.integration.actions.test_action_definitions import BASE, call, definition


@pytest.fixture
def reads():
    """Every GetItem as (sort key, ConsistentRead); ``lag["versions"]`` makes the eventually
    consistent reads of version items find nothing, as a replica that missed the put would."""
    seen: list[tuple[str, bool]] = []
    lag = {"versions": False}

    def spy(params, **_):
        body = json.loads(params["body"])
        sort_key, consistent = body["Key"]["SK"]["S"], body.get("ConsistentRead", False)
        seen.append((sort_key, consistent))
        if lag["versions"] and sort_key.startswith("V#") and not consistent:
            return AWSResponse("https://dynamodb", 200, {}, None), {}  # not replicated yet
        return None

    events = aws.client("dynamodb").meta.events
    events.register("before-call.dynamodb.GetItem", spy)
    yield seen, lag
    events.unregister("before-call.dynamodb.GetItem", spy)


def new_workflow(stack) -> str:
    body = {"name": "w", "nodes": [{"ref": "a", "kind": "transform"}]}
    status, created = call(stack, "POST", f"{BASE}/workflows", body)
    assert status == 201, created
    return created["data"]["id"]


def test_a_workflow_version_is_read_eventually_consistent_and_its_head_strongly(stack, reads):
    seen, _ = reads
    workflow_id = new_workflow(stack)
    workflows = components.store().workflows
    seen.clear()
    assert workflows.get_workflow("acme", workflow_id, 1).version == 1
    assert seen == [("V#00000001", False)]
    seen.clear()
    assert workflows.get_workflow("acme", workflow_id).version == 1
    assert seen == [("WORKFLOW", True), ("V#00000001", False)]


def test_a_version_the_replica_has_not_seen_is_read_again_strongly(stack, reads):
    seen, lag = reads
    workflow_id = new_workflow(stack)
    lag["versions"] = True
    seen.clear()
    status, got = call(stack, "GET", f"{BASE}/workflows/{workflow_id}")
    assert status == 200, got
    assert got["data"]["version"] == 1
    versions = [read for read in seen if read[0].startswith("V#")]
    assert versions == [("V#00000001", False), ("V#00000001", True)]


def test_a_version_that_does_not_exist_is_not_found_after_a_strong_read(stack, reads):
    seen, _ = reads
    workflow_id = new_workflow(stack)
    seen.clear()
    with pytest.raises(NotFound):
        components.store().workflows.get_workflow("acme", workflow_id, 2)
    assert seen == [("V#00000002", False), ("V#00000002", True)]


def test_an_action_definition_version_is_read_eventually_consistent(stack, reads):
    seen, lag = reads
    status, created = call(
        stack, "POST", f"{BASE}/destinations", {"label": "a", "url": "https://a.example/x"}
    )
    assert status == 201, created
    destination_id = created["data"]["id"]
    status, made = call(stack, "POST", f"{BASE}/actions/definitions", definition([destination_id]))
    assert status == 201, made
    seen.clear()
    status, got = call(stack, "GET", f"{BASE}/actions/definitions/send-welcome")
    assert status == 200, got
    assert ("V#00000001", False) in seen and ("V#00000001", True) not in seen
    assert ("ACTION", True) in seen and ("DESTINATION", True) in seen  # they change
    lag["versions"] = True  # just written: found by the strong read that follows the miss
    seen.clear()
    status, got = call(stack, "GET", f"{BASE}/actions/definitions/send-welcome")
    assert status == 200 and got["data"]["version"] == 1
    assert [r for r in seen if r[0].startswith("V#")] == [
        ("V#00000001", False),
        ("V#00000001", True),
    ]


def test_runs_and_api_keys_are_read_strongly(stack, reads):
    seen, _ = reads
    workflow_id = new_workflow(stack)
    status, run = call(stack, "POST", f"{BASE}/runs", {"workflow_id": workflow_id})
    assert status == 201, run
    seen.clear()
    status, got = call(stack, "GET", f"{BASE}/workflows/{workflow_id}")  # the key, the head
    assert status == 200, got
    assert components.store().runs.get_run("acme", run["data"]["id"]).status == "queued"
    mutable = [read for read in seen if not read[0].startswith("V#")]
    assert mutable == [("APIKEY", True), ("WORKFLOW", True), ("RUN", True)]
