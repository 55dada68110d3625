"""The local stack's injected faults reach a client exactly as AWS's errors would: each
service's throttling error, DynamoDB's cancelled transaction, Lambda service errors that Step
Functions names Lambda.*; the local stack's own plumbing meets none."""

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ThrottledRetryableChecker

from stepwise import components
from stepwise.infra import dynamo
from stepwise_local import faults
from stepwise_local.provision import local_client

ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})

# What each service the code calls answers when it throttles (looked up per service).
THROTTLED = {
    "dynamodb": (lambda c: c.list_tables(), "ProvisionedThroughputExceededException", 400),
    "stepfunctions": (lambda c: c.list_state_machines(), "ThrottlingException", 400),
    "sqs": (lambda c: c.list_queues(), "RequestThrottled", 400),
    "events": (lambda c: c.list_rules(), "ThrottlingException", 400),
    "secretsmanager": (lambda c: c.list_secrets(), "ThrottlingException", 400),
    "scheduler": (lambda c: c.list_schedules(), "ThrottlingException", 429),
    "s3": (lambda c: c.list_buckets(), "SlowDown", 503),
    "lambda": (lambda c: c.list_functions(), "TooManyRequestsException", 429),
}


@pytest.mark.parametrize("service", sorted(THROTTLED))
def test_a_throttled_call_gets_its_services_throttling_error(stack, service):
    call, code, status = THROTTLED[service]
    client = boto3.client(service, config=ONE_ATTEMPT)
    with (
        faults.injecting(faults.parse("throttle=1")) as injector,
        pytest.raises(ClientError) as raised,
    ):
        call(client)
    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    # botocore's standard retry mode takes it for throttling, as it would AWS's.
    assert code in ThrottledRetryableChecker._THROTTLED_ERROR_CODES
    assert injector.counts()["injected"]["throttle"] == 1


def transaction(table: str, *pks: str) -> list[dict]:
    return [
        {"Put": {"TableName": table, "Item": {"PK": {"S": pk}, "SK": {"S": "X"}}}} for pk in pks
    ]


def test_a_conflicting_transaction_is_cancelled_as_dynamodb_cancels_it_and_writes_nothing(stack):
    client, table = boto3.client("dynamodb", config=ONE_ATTEMPT), components.store().table
    conflicting = faults.injecting(faults.parse("transaction_conflict=1,seed=3"))
    with conflicting as injector, pytest.raises(ClientError) as raised:
        client.transact_write_items(TransactItems=transaction(table, "a", "b", "c"))
    error = raised.value.response
    codes = [reason["Code"] for reason in error["CancellationReasons"]]
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert sorted(codes) == ["None", "None", "TransactionConflict"]
    assert f"[{', '.join(codes)}]" in error["Error"]["Message"]
    assert dynamo.contended(raised.value) and not dynamo.condition_failed(raised.value)
    for pk in "abc":
        key = {"PK": {"S": pk}, "SK": {"S": "X"}}
        assert "Item" not in client.get_item(TableName=table, Key=key)
    assert injector.counts()["by_operation"]["transaction_conflict"] == {
        "dynamodb.TransactWriteItems": 1
    }


def test_a_throttled_transaction_is_cancelled_with_a_throttling_reason(stack):
    client, table = boto3.client("dynamodb", config=ONE_ATTEMPT), components.store().table
    with faults.injecting(faults.parse("throttle=1")), pytest.raises(ClientError) as raised:
        client.transact_write_items(TransactItems=transaction(table, "a", "b"))
    reasons = [r["Code"] for r in raised.value.response["CancellationReasons"]]
    assert sorted(reasons) == ["None", "ThrottlingError"] and dynamo.contended(raised.value)


def test_the_local_stacks_own_plumbing_meets_no_fault(stack):
    with faults.injecting(faults.parse("throttle=1,transaction_conflict=1")) as injector:
        local_client("sqs").list_queues()
        local_client("stepfunctions").list_state_machines()
    assert injector.counts()["injected"]["throttle"] == 0


def test_a_lambda_error_fails_the_invocation_before_the_handler_runs(stack, monkeypatch):
    """Step Functions invokes through Lambda's Invoke: the answer is a Lambda service error,
    named as Step Functions names it, and the handler never ran."""
    [engine] = [f for f in stack.stack.functions.values() if f.logical_id == "EngineFunction"]
    ran: list[object] = []
    monkeypatch.setattr(
        "stepwise_local.lambdas.invoke", lambda name, event: ran.append(name) or {"ok": True}
    )
    client = boto3.client("lambda", config=ONE_ATTEMPT)
    with faults.injecting(faults.parse("lambda_error=1")) as injector:
        answer = client.invoke(FunctionName=engine.name, Payload=json.dumps({"step": "x"}))
    error = json.loads(answer["Payload"].read())
    assert answer["FunctionError"] and not ran
    assert error["errorType"] in {"Lambda.ServiceException", "Lambda.TooManyRequestsException"}
    assert injector.counts()["by_operation"]["lambda_error"] == {engine.name: 1}
    # Without the fault the same invocation reaches the handler.
    client.invoke(FunctionName=engine.name, Payload=json.dumps({"step": "x"}))
    assert ran == [engine.name]


def test_a_lost_answer_fails_an_invocation_whose_handler_ran(stack, monkeypatch):
    """The handler did its work, and Step Functions sees a Lambda service error: it will run
    the step again."""
    [engine] = [f for f in stack.stack.functions.values() if f.logical_id == "EngineFunction"]
    ran: list[object] = []
    monkeypatch.setattr(
        "stepwise_local.lambdas.invoke", lambda name, event: ran.append(name) or {"ok": True}
    )
    client = boto3.client("lambda", config=ONE_ATTEMPT)
    with faults.injecting(faults.parse("lambda_lost=1")) as injector:
        answer = client.invoke(FunctionName=engine.name, Payload=json.dumps({"step": "x"}))
    assert answer["FunctionError"] and ran == [engine.name]
    assert json.loads(answer["Payload"].read())["errorType"] == "Lambda.ServiceException"
    assert injector.counts()["by_operation"]["lambda_lost"] == {engine.name: 1}


def test_a_bad_stepwise_faults_refuses_to_build_the_stack(monkeypatch):
    from stepwise_local.stack import LocalStack

    monkeypatch.setenv("STEPWISE_FAULTS", "throttle=0.1,conflict=0.2")
    with pytest.raises(faults.FaultsError, match="'conflict'"):
        LocalStack()
