"""The local stack parses each state machine definition once (stepwise_local/asl_cache.py):
executions still behave as without it, each with components of its own."""

import json
import time

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.asl.parse.asl_parser import (
    AmazonStateLanguageParser,
    ASLParserException,
)

from stepwise_local import asl_cache

PASS = json.dumps(
    {
        "StartAt": "Add",
        "States": {
            "Add": {"Type": "Pass", "Parameters": {"n.$": "$.n", "seen": True}, "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
)


@pytest.fixture
def installed():
    original = AmazonStateLanguageParser.__dict__["parse"]
    asl_cache.install()
    try:
        yield
    finally:
        asl_cache.uninstall()
    assert AmazonStateLanguageParser.__dict__["parse"] is original


def test_a_definition_is_parsed_once_and_preprocessed_per_execution(installed):
    first, tree = AmazonStateLanguageParser.parse(PASS)
    second, same_tree = AmazonStateLanguageParser.parse(PASS)
    assert same_tree is tree  # parsed once
    assert second is not first  # each caller gets components of its own
    assert asl_cache.cached() == 1
    AmazonStateLanguageParser.parse(PASS.replace("Done", "End"))
    assert asl_cache.cached() == 2


def test_a_definition_that_does_not_parse_still_fails_and_is_not_kept(installed):
    with pytest.raises(ASLParserException):
        AmazonStateLanguageParser.parse('{"StartAt": "A", "States": {"A": {"Type": ')
    assert asl_cache.cached() == 0


def test_executions_of_a_cached_definition_each_run_with_their_own_input(installed):
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        role = "arn:aws:iam::123456789012:role/r"
        arn = sfn.create_state_machine(name="m", definition=PASS, roleArn=role)["stateMachineArn"]
        runs = [
            sfn.start_execution(stateMachineArn=arn, name=f"e{n}", input=json.dumps({"n": n}))
            for n in range(3)
        ]
        outputs = []
        for run in runs:
            deadline = time.monotonic() + 30
            while (found := sfn.describe_execution(executionArn=run["executionArn"]))[
                "status"
            ] == "RUNNING":
                assert time.monotonic() < deadline
                time.sleep(0.02)
            assert found["status"] == "SUCCEEDED"
            outputs.append(json.loads(found["output"]))
    assert outputs == [{"n": n, "seen": True} for n in range(3)]
    assert asl_cache.cached() == 1
