"""The checker's own rules (run by ``make asl-check`` before the checks; not in the normal suite,
since the validator comes from tools/asl/node_modules)."""

import json
import shutil
import subprocess

import pytest

from tests.asl import definitions as definitions_module
from tests.asl.definitions import REGIONS, STATEMACHINES, definitions
from tests.asl.localstack import _task_resources, mock_config
from tests.asl.recording import Outcome, Recorded, outcomes, state_path
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
