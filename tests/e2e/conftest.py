"""The full local stack over HTTP: real Step Functions executions in moto, handlers in-process."""

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from stepwise_local.stack import DEFAULT_API_KEY, DEFAULT_ORG, LocalStack
from tests.conftest import OTHER_KEY, QUIET

SETTLED = {"succeeded", "failed", "cancelled", "timed_out"}


@pytest.fixture(scope="package")
def local_stack():
    with LocalStack(parameters=QUIET) as stack:
        stack.add_api_key("globex", OTHER_KEY)
        stack.base_url = stack.serve_in_background()
        yield stack


@pytest.fixture(autouse=True)
def _no_execution_left_running(local_stack):
    """Every test leaves the stack idle: nothing it started may still be running."""
    yield
    assert local_stack.wait_idle(timeout=60), local_stack.running_executions()


@pytest.fixture
def api(local_stack):
    with httpx.Client(
        base_url=f"{local_stack.base_url}/v1/orgs/{DEFAULT_ORG}",
        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture
def approver_api(api, local_stack):
    """A client with an approve-only key: the key that starts a run may not review it."""
    made = api.post("/keys", json={"name": "approver", "scopes": ["approve"]})
    assert made.status_code == 201, made.text
    with httpx.Client(
        base_url=f"{local_stack.base_url}/v1/orgs/{DEFAULT_ORG}",
        headers={"Authorization": f"Bearer {made.json()['data']['key']}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture
def other_org_api(local_stack):
    with httpx.Client(
        base_url=local_stack.base_url, headers={"x-api-key": OTHER_KEY}, timeout=30
    ) as client:
        yield client


def wait_for_run(api: httpx.Client, run_id: str, timeout: float = 60) -> dict:
    """Polls the run until it settles and returns it."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/runs/{run_id}")
        assert response.status_code == 200, response.text
        run = response.json()["data"]
        if run["status"] in SETTLED:
            return run
        assert time.monotonic() < deadline, f"run still {run['status']}: {run}"
        time.sleep(0.05)


def create_workflow(api: httpx.Client, body: dict) -> str:
    response = api.post("/workflows", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def start_run(api: httpx.Client, workflow_id: str, run_input=None) -> str:
    """Starts a run; the answer is the run as accepted (queued)."""
    response = api.post("/runs", json={"workflow_id": workflow_id, "input": run_input})
    assert response.status_code == 201, response.text
    assert response.json()["data"]["status"] == "queued"
    return response.json()["data"]["id"]


def orphan(local_stack: LocalStack, run_id: str) -> None:
    """Leaves the run as a finalisation that never ran does (its RunQueue message dead-lettered):
    asked to settle ten minutes ago, still open, for the janitor to find."""
    from stepwise import components
    from stepwise.core.clock import iso
    from stepwise.infra import dynamo, keys

    asked = iso(datetime.now(UTC) - timedelta(minutes=10))
    dynamo.update_item(
        components.store().table,
        keys.run(local_stack.org_id, run_id),
        "SET settle_requested_at = :at, settle_reason = :reason",
        {":at": asked, ":reason": "node_failed"},
    )
