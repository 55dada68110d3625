"""The checker's own rules (run by ``make asl-check`` before the checks; not in the normal suite,
since the validator comes from tools/asl/node_modules)."""

import json
import shutil
import subprocess

import pytest

from tests.asl import definitions as definitions_module
from tests.asl.definitions import REGIONS, STATEMACHINES, definitions
from tests.asl.localstack import EXPRESS_COPY, _task_resources, mock_config, with_express_copies
from tests.asl.recording import Outcome, Recorded, execution_output, outcomes, state_path
from tests.asl.scenarios import SCENARIOS, _label
from tests.asl.validate import VALIDATOR


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_every_placeholder_becomes_an_arn_of_the_regions_partition(region):
    partition = REGIONS[region][0]
    found = definitions(region)
    assert {d.path for d in found} == set(STATEMACHINES.glob("*.asl.json"))
    for definition in found:
        assert "${" not in definition.text
        resources = _task_resources(json.loads(definition.text)["States"], {}).values()
        for resource in resources:
            assert resource.startswith(f"arn:{partition}:"), resource
            assert region in resource or ":states:::" in resource, resource


def test_a_file_no_state_machine_of_the_template_uses_is_an_error(tmp_path, monkeypatch):
    for path in STATEMACHINES.glob("*.asl.json"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "stray.asl.json").write_text('{"StartAt": "A", "States": {}}')
    monkeypatch.setattr(definitions_module, "STATEMACHINES", tmp_path)
    with pytest.raises(SystemExit, match=r"stray\.asl\.json: no state machine in template\.yaml"):
        definitions()


def test_the_validator_refuses_a_transition_to_a_missing_state(tmp_path):
    [node] = [d for d in definitions() if d.path.name == "node.asl.json"]
    broken = json.loads(node.text)
    name = next(n for n, state in broken["States"].items() if "Next" in state)
    broken["States"][name]["Next"] = "Nowhere"
    target = tmp_path / "node.asl.json"
    target.write_text(json.dumps(broken))
    result = subprocess.run(  # noqa: S603 (our own pinned tool)
        [str(VALIDATOR), "--json-path", str(target)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "Nowhere" in result.stdout + result.stderr


def _event(id_, prev, kind, **details):
    return {"id": id_, "previousEventId": prev, "type": kind, **details}


def _entered(id_, prev, name, kind="TaskStateEntered"):
    return _event(id_, prev, kind, stateEnteredEventDetails={"name": name})


def test_outcomes_follow_each_task_back_to_its_state_when_iterations_interleave():
    events = [
        _entered(1, 0, "FanOut", "MapStateEntered"),
        _entered(2, 1, "ItemAttempt"),
        _entered(3, 1, "ItemAttempt"),
        _event(
            4, 3, "LambdaFunctionSucceeded", lambdaFunctionSucceededEventDetails={"output": "1"}
        ),
        _event(5, 2, "LambdaFunctionFailed", lambdaFunctionFailedEventDetails={"error": "Boom"}),
        _entered(6, 0, "Deliver"),
        _event(7, 6, "TaskTimedOut", taskTimedOutEventDetails={}),
    ]
    assert state_path(events) == ["FanOut", "ItemAttempt", "ItemAttempt", "Deliver"]
    assert outcomes(events) == {
        "ItemAttempt": [Outcome(output=1), Outcome(error="Boom")],
        "Deliver": [Outcome(error="States.Timeout")],
    }


def test_the_mock_config_answers_lambda_tasks_only_each_as_its_integration_returns():
    recorded = Recorded(
        "node x",
        "NodeStateMachine",
        "n",
        {},
        "SUCCEEDED",
        [],
        {
            "Attempt": [Outcome(output={"next": "again"}), Outcome(error="ClientError")],
            "AwaitChild": [Outcome(output={"reason": "succeeded"})],
            "Deliver": [Outcome(output={"reason": "delivered"})],
        },
    )
    resources = {
        "Attempt": "arn:aws:lambda:us-east-1:000000000000:function:engine",
        "AwaitChild": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Deliver": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    }
    config = mock_config({"case0": recorded}, {"NodeStateMachine": ("stepwise-node", resources)})
    assert config["StateMachines"] == {
        "stepwise-node": {
            "TestCases": {"case0": {"Attempt": "case0.Attempt", "AwaitChild": "case0.AwaitChild"}}
        }
    }
    assert config["MockedResponses"] == {
        "case0.Attempt": {
            "0": {"Return": {"StatusCode": 200, "Payload": {"next": "again"}}},
            "1": {"Throw": {"Error": "ClientError", "Cause": "ClientError"}},
        },
        "case0.AwaitChild": {"0": {"Return": {"reason": "succeeded"}}},
    }


def test_each_definition_carries_its_template_type():
    types = {d.path.name: d.type for d in definitions()}
    assert types == {
        "items.asl.json": "STANDARD",
        "items_express.asl.json": "EXPRESS",
        "node.asl.json": "STANDARD",
        "node_express.asl.json": "EXPRESS",
    }


def _all_states(states: dict) -> set[str]:
    found = set(states)
    for state in states.values():
        for inner in (
            state.get("ItemProcessor"),
            state.get("Iterator"),
            *state.get("Branches", []),
        ):
            if inner:
                found |= _all_states(inner["States"])
    return found


def test_every_expected_path_names_states_of_a_machine_that_exists():
    kinds = {
        "node express": "NodeExpressStateMachine",
        "node": "NodeStateMachine",
        "items express": "ItemsExpressStateMachine",
        "items": "ItemsStateMachine",
    }
    states = {d.logical_id: _all_states(json.loads(d.text)["States"]) for d in definitions()}
    covered = set()
    for scenario in SCENARIOS:
        for label, path in scenario.paths.items():
            kind = next(k for k in kinds if label.startswith(f"{k} "))
            machine = kinds[kind]
            assert _label(machine, {"node_ref": label.split()[len(kind.split())]}, True) in label
            assert set(path) <= states[machine], (scenario.name, label)
            covered.add(machine)
    # every machine of the template has a scenario
    assert covered == set(states)


def test_an_execution_is_labelled_by_its_machine_and_a_run_has_none():
    data = {"run_id": "r", "node_ref": "x"}
    assert _label("NodeExpressStateMachine", data, own=True) == "node express x"
    assert _label("NodeStateMachine", data, own=True) == "node x"
    assert _label("ItemsExpressStateMachine", {**data, "chunk": 0}, own=True) == (
        "items express x chunk 0"
    )
    assert _label("NodeStateMachine", data, own=False) == "node x (child)"
    assert not any("run" in label for s in SCENARIOS for label in s.paths)


def test_an_express_machines_express_copy_gets_the_same_test_cases():
    config = {
        "StateMachines": {
            "stepwise-node-express": {"TestCases": {"case1": {"Attempt": "case1.Attempt"}}},
            "stepwise-node": {"TestCases": {"case0": {"Attempt": "case0.Attempt"}}},
        },
        "MockedResponses": {"case0.Attempt": {}, "case1.Attempt": {}},
    }
    copied = with_express_copies(config, ["stepwise-node-express", "stepwise-items-express"])
    assert copied["StateMachines"] == {
        **config["StateMachines"],
        "stepwise-node-express" + EXPRESS_COPY: {
            "TestCases": {"case1": {"Attempt": "case1.Attempt"}}
        },
    }
    assert copied["MockedResponses"] == config["MockedResponses"]


def test_the_output_is_the_succeeded_events_and_none_for_a_failed_execution():
    succeeded = [
        _event(1, 0, "ExecutionStarted"),
        _event(2, 1, "ExecutionSucceeded", executionSucceededEventDetails={"output": '{"a": 1}'}),
    ]
    assert execution_output(succeeded) == {"a": 1}
    assert (
        execution_output([_event(1, 0, "ExecutionStarted"), _event(2, 1, "ExecutionFailed")])
        is None
    )
