"""The engine routes every step the state machines send to its family, with the event's fields,
and refuses a step it does not know."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stepwise.engine.address import NodeAddress
from stepwise.engine.engine import Engine

STATEMACHINES = Path(__file__).resolve().parents[3] / "statemachines"

# A value for every field a step event carries (the ASL files name the fields).
SAMPLE = {
    "org_id": "acme",
    "run_id": "run_1",
    "node_ref": "a",
    "attempt": 2,
    "index": 3,
    "task_token": "token-1",
    "child_run_id": "run_child",
    "delivery": {"outcome": "timeout"},
    "prepared": True,
    "timed_out": True,
    "error": "States.TaskFailed",
    "cause": "boom",
    "chunk": 4,
    "started_at": "2026-12-01T10:00:00.123Z",
    "owner": "arn:aws:states:us-east-1:1:express:sw-node-express:run_1-a:5f0c",
}
OWNER = SAMPLE["owner"]
EXPRESS_START = datetime(2026, 12, 1, 10, 0, 0, 123000, tzinfo=UTC)
NODE = NodeAddress("acme", "run_1", "a", 2)
ITEM = NodeAddress("acme", "run_1", "a", 2, index=3)

# Step name -> (family attribute, method, the arguments the event must give it).
ROUTES: dict[str, tuple[str, str, tuple[Any, ...]]] = {
    "attempt": ("nodes", "attempt", (NODE, True, None, None)),
    # The Express node machine sends its steps with when its execution started, and its id
    # (the owner of an action attempt's lease).
    "attempt (node_express)": ("nodes", "attempt", (NODE, True, EXPRESS_START, OWNER)),
    "hand_off": ("nodes", "hand_off", (NODE, True)),
    "node_crashed": ("nodes", "node_crashed", (NODE, "States.TaskFailed", "boom")),
    "item_attempt": ("for_each", "item_attempt", (ITEM, None)),
    "item_attempt (items_express)": ("for_each", "item_attempt", (ITEM, OWNER)),
    "item_crashed": ("for_each", "item_crashed", (ITEM, "States.TaskFailed", "boom")),
    "collect_items": ("for_each", "collect_items", (NodeAddress("acme", "run_1", "a"),)),
    "start_items": ("for_each", "start_items", (NodeAddress("acme", "run_1", "a"), "token-1")),
    "chunk_done": ("for_each", "chunk_done", (NodeAddress("acme", "run_1", "a"), 4)),
    "chunk_crashed": (
        "for_each",
        "chunk_crashed",
        (NodeAddress("acme", "run_1", "a"), 4, "States.TaskFailed", "boom"),
    ),
    "await_child": ("children", "await_child", ("acme", "run_1", "run_child", "token-1")),
    "child_settled": ("children", "child_settled", (NODE, "run_child", True)),
    "action_settled": ("actions", "action_settled", (NODE, SAMPLE["delivery"], None)),
    "await_signal": ("actions", "await_signal", (NODE, "token-1")),
    "item_action_settled": ("actions", "action_settled", (ITEM, SAMPLE["delivery"])),
    "await_review": ("approvals", "await_review", (NODE, "token-1")),
    "review_settled": ("approvals", "review_settled", (NODE,)),
}


def asl_step_payloads() -> dict[str, dict[str, Any]]:
    """Every engine step the state machines send, with the payload fields each one names; a
    step a second machine sends with other fields is ``"<step> (<machine file>)"``."""
    found: dict[str, dict[str, Any]] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "step" in value:
                step = value["step"]
                if step in found and found[step] != value:
                    step = f"{step} ({path.name.removesuffix('.asl.json')})"
                found[step] = value
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    for path in sorted(STATEMACHINES.glob("*.asl.json")):
        walk(json.loads(path.read_text()))
    return found


def event_from(payload: dict[str, Any]) -> dict[str, Any]:
    """The event the engine receives: each '<field>.$' path filled with a sample value."""
    event = {"step": payload["step"]}
    for key, value in payload.items():
        if key.endswith(".$"):
            event[key[:-2]] = SAMPLE[key[:-2]]
        else:
            event[key] = value  # a constant the machine sends, such as ``express``
    return event


@pytest.fixture
def engine_and_calls():
    """An engine whose families record their calls instead of touching AWS."""
    store = SimpleNamespace(table="table", payloads=None)
    engine = Engine(store, "node-arn", "run-arn", definitions=None)
    calls: list[tuple[str, str, tuple[Any, ...]]] = []
    for family, method, _ in {(f, m, None) for f, m, _ in ROUTES.values()}:

        def record(*args, family=family, method=method):
            calls.append((family, method, args))
            return {"answered_by": f"{family}.{method}"}

        setattr(getattr(engine, family), method, record)
    return engine, calls


def test_the_table_covers_exactly_the_steps_the_state_machines_send():
    assert set(asl_step_payloads()) == set(ROUTES)


@pytest.mark.parametrize("step", sorted(ROUTES))
def test_each_step_reaches_its_family_with_the_events_fields(engine_and_calls, step):
    engine, calls = engine_and_calls
    answer = engine.handle(event_from(asl_step_payloads()[step]))
    family, method, arguments = ROUTES[step]
    assert calls == [(family, method, arguments)]
    assert answer == {"answered_by": f"{family}.{method}"}


def test_optional_fields_take_their_defaults(engine_and_calls):
    engine, calls = engine_and_calls
    engine.handle({**event_from(asl_step_payloads()["node_crashed"]), "error": None, "cause": None})
    assert calls == [("nodes", "node_crashed", (NODE, "States.Runtime", ""))]


@pytest.mark.parametrize("step", ["explode", None, ["attempt"]])
def test_an_unknown_step_is_refused_by_name(engine_and_calls, step):
    engine, calls = engine_and_calls
    with pytest.raises(ValueError, match=f"^{re.escape(f'unknown engine step {step!r}')}$"):
        engine.handle({"step": step, "org_id": "acme", "run_id": "run_1"})
    assert calls == []


def test_a_step_whose_event_lacks_a_field_names_it(engine_and_calls):
    engine, calls = engine_and_calls
    event = event_from(asl_step_payloads()["await_review"])
    del event["task_token"]
    with pytest.raises(ValueError, match="engine step 'await_review' has no 'task_token' field"):
        engine.handle(event)
    assert calls == []


def test_setting_an_attribute_the_engine_does_not_have_fails_loudly(engine_and_calls):
    engine, _ = engine_and_calls
    with pytest.raises(AttributeError):
        engine.inline_limit = 0  # the limit is engine.advance.inline_limit
