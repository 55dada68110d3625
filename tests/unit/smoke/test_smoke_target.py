"""Which stack `make smoke` checks: a deployed one by its name (its ApiUrl output) or URL, or the
local one; too little said is a clear usage error, not a traceback."""

import json

import boto3
import pytest
from moto import mock_aws

from smoke.__main__ import Usage, api_url_from_stack, target

KEYS = {"STEPWISE_ORG": "acme", "STEPWISE_API_KEY": "swk_x"}


def _stack(outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="stepwise-dev", TemplateBody=json.dumps(template)
    )


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


def test_a_stack_name_is_read_for_its_api_url(aws):
    _stack({"ApiUrl": "https://abc.execute-api.us-east-1.amazonaws.com", "TableName": "t"})
    assert target({"STEPWISE_STACK": "stepwise-dev", **KEYS}) == (
        "https://abc.execute-api.us-east-1.amazonaws.com",
        "acme",
        "swk_x",
    )


def test_a_stack_without_an_api_url_is_named_in_the_error(aws):
    _stack({"Other": "x"})
    with pytest.raises(Usage, match="no ApiUrl output"):
        api_url_from_stack("stepwise-dev")


def test_a_url_needs_no_aws_call_and_nothing_means_the_local_stack():
    assert target({"STEPWISE_API_URL": "http://127.0.0.1:3000", **KEYS})[0] == (
        "http://127.0.0.1:3000"
    )
    assert target({}) is None


def test_a_deployed_stack_without_org_or_key_is_a_usage_error():
    with pytest.raises(Usage, match="STEPWISE_ORG and STEPWISE_API_KEY"):
        target({"STEPWISE_API_URL": "http://x"})
    with pytest.raises(Usage, match="STEPWISE_API_KEY"):
        target({"STEPWISE_STACK": "s", "STEPWISE_ORG": "acme"})
