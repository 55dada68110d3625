"""The local stack fails an execution at its 25,000th history event, as Step Functions does
(stepwise_local/limits.py). The limit is lowered here so that a small machine reaches it."""

import json
import time

import boto3
import pytest

from stepwise_local import limits

LIMIT = 30


@pytest.fixture
def low_limit(monkeypatch):
    monkeypatch.setattr(limits, "HISTORY_LIMIT", LIMIT)


def passes(count: int) -> dict:
    """A machine of ``count`` Pass states: 2 + 2 * count events."""
    names = [f"P{i}" for i in range(count)]
    states = {
        name: {"Type": "Pass", **({"Next": names[i + 1]} if i + 1 < count else {"End": True})}
        for i, name in enumerate(names)
    }
    return {"StartAt": names[0], "States": states}


def a_map(items: int) -> dict:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }


def run(name: str, definition: dict, execution_input: dict | None = None) -> tuple[dict, list]:
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=name,
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/local",
    )["stateMachineArn"]
    arn = sfn.start_execution(
        stateMachineArn=machine, name="e1", input=json.dumps(execution_input or {})
    )["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return described, sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]


def test_an_execution_whose_last_event_is_the_limit_and_succeeds_succeeds(local_stack, low_limit):
    described, history = run("limit-exact", passes((LIMIT - 2) // 2))
    assert described["status"] == "SUCCEEDED"
    assert len(history) == LIMIT and history[-1]["type"] == "ExecutionSucceeded"


def test_an_execution_that_would_pass_the_limit_fails_as_on_aws(local_stack, low_limit):
    described, history = run("limit-over", passes(LIMIT // 2))
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert (
        described["cause"]
        == f"The execution reached the maximum number of history events ({LIMIT})."
    )
    assert len(history) == LIMIT and history[-1]["type"] == "ExecutionFailed"


def test_a_map_that_would_pass_the_limit_fails_and_stops(local_stack, low_limit):
    described, history = run("limit-map", a_map(40), {"xs": list(range(40))})
    assert described["status"] == "FAILED" and described["error"] == "States.Runtime"
    assert len(history) == LIMIT
