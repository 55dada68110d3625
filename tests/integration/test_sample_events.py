"""Every file in events/ is valid input for its function (as `sam local invoke -e` would pass)."""

import json
from pathlib import Path

import pytest

from stepwise import components, executions
from stepwise.models import WorkflowCreate

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize("name", sorted(p.name for p in (EVENTS / "api").glob("*.json")))
def test_api_events_are_answered(stack, name):
    response = stack.invoke("ApiFunction", load(f"api/{name}"))
    assert response["statusCode"] in (200, 201), response["body"]


@pytest.fixture
def example_run(stack, monkeypatch):
    """The run the engine events name, with a one-node workflow, and recorded resumes."""
    resumed: list[tuple[str, str]] = []
    monkeypatch.setattr(executions, "resume_run", lambda t, r: resumed.append((t, r)) or True)
    components.engine().inline_limit = 0  # the attempt event is a node execution's step
    event = load("engine/start-run.json")
    store = components.store()
    workflow = store.create_workflow(
        event["org_id"],
        "wf_01example",
        WorkflowCreate(name="one", nodes=[{"ref": "a", "kind": "transform", "args": {"x": 1}}]),
    )
    store.create_run(event["org_id"], event["run_id"], workflow, {"from": "events"})
    return resumed


def test_engine_events_drive_a_run_to_success(stack, example_run):
    for name in ("start-run", "attempt", "finalize-run"):
        stack.invoke("EngineFunction", load(f"engine/{name}.json"))
    event = load("engine/finalize-run.json")
    run = components.store().get_run(event["org_id"], event["run_id"])
    assert run["status"] == "succeeded"
    assert example_run == [(load("engine/start-run.json")["task_token"], "all_nodes_settled")]


def test_the_node_crashed_event_fails_the_node(stack, example_run):
    stack.invoke("EngineFunction", load("engine/start-run.json"))
    stack.invoke("EngineFunction", load("engine/node-crashed.json"))
    event = load("engine/node-crashed.json")
    node = components.store().get_node(event["org_id"], event["run_id"], "a")
    assert node["status"] == "failed"
    assert node["error"] == {"type": "Lambda.Unknown", "message": "out of memory"}


def test_every_event_file_is_covered():
    covered = {"start-run", "attempt", "finalize-run", "node-crashed"}
    assert {p.stem for p in (EVENTS / "engine").glob("*.json")} == covered
    assert {p.parent.name for p in EVENTS.glob("*/*.json")} == {"api", "engine"}
