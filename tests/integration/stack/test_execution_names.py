"""The local stack refuses the execution names Step Functions (with execution logging) refuses."""

import boto3
import pytest
from botocore.exceptions import ClientError

from stepwise.core.ids import batch_run_id, child_run_id, execution_name, new_id
from stepwise.infra import executions


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("run_x~0123456789abcdef", "InvalidName"),
        ("run_x.a", "InvalidName"),  # AWS starts it, but CloudWatch cannot log it
        ("run x", "InvalidName"),
        ("r" * 81, "ValidationException"),
    ],
)
def test_a_name_aws_refuses_is_refused(stack, name, code):
    machine = stack.stack.names["NodeStateMachine"]
    with pytest.raises(ClientError) as refused:
        boto3.client("stepfunctions").start_execution(stateMachineArn=machine, name=name)
    assert refused.value.response["Error"]["Code"] == code


def test_every_execution_the_engine_names_starts(stack):
    run = child_run_id(child_run_id(batch_run_id(new_id("bat"), 3), "s" * 64, 1), "t" * 64, 2)
    machine = stack.stack.names["NodeStateMachine"]
    executions.start_node(machine, "acme", run, "n" * 64)
    assert executions.describe_node(machine, run, "n" * 64)["name"] == execution_name(run, "n" * 64)
