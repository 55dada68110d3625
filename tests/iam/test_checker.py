"""The IAM check can fail: calls outside a grant, under a narrowed policy, or that it cannot
evaluate faithfully are refused; and calls are recorded as IAM sees them."""

import copy

import boto3
import pytest
from moto import mock_aws

from stepwise_local import call_log
from stepwise_local.call_log import Request
from tests.iam import policies

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/stepwise-local-StepwiseTable"
RUN_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:stepwise-local-run"
NODE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:stepwise-local-node"
SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/stepwise-local-SchedulerRole"
TRIGGER = "arn:aws:lambda:us-east-1:123456789012:function:stepwise-local-TriggerFunction"


@pytest.fixture(scope="module")
def roles():
    return policies.roles()


def request(principal, action, resource, **context):
    service, operation = action.split(":")
    return Request(principal, service, operation, action, resource, tuple(sorted(context.items())))


def verdict(roles, *requests):
    return policies.evaluate(requests, roles)


def test_the_deployed_roles_allow_what_the_code_does(roles):
    result = verdict(
        roles,
        request("EngineFunction", "dynamodb:UpdateItem", TABLE),
        request("EngineFunction", "states:StartExecution", NODE_MACHINE),
        request("SignalsFunction", "dynamodb:Query", f"{TABLE}/index/GSI1"),
        request("NodeStateMachine", "sqs:SendMessage", webhook_queue()),
        request("SchedulerRole", "lambda:InvokeFunction", TRIGGER),
    )
    assert result.refused == [] and len(result.allowed) == 5


def webhook_queue():
    return "arn:aws:sqs:us-east-1:123456789012:stepwise-local-WebhookQueue"


def test_a_call_outside_the_grant_is_refused(roles):
    # Only the node machine sends to the webhook queue (the signals function, which settles
    # awaited callbacks as the engine would, sends only to RunQueue), and the items machine
    # writes nothing to the table.
    result = verdict(
        roles,
        request("SignalsFunction", "sqs:SendMessage", webhook_queue()),
        request("ItemsStateMachine", "dynamodb:PutItem", TABLE),
        request("ApiFunction", "states:StartExecution", NODE_MACHINE),
        request("EngineFunction", "dynamodb:GetItem", TABLE.replace("StepwiseTable", "Other")),
        request("SchedulerRole", "lambda:InvokeFunction", TRIGGER.replace("Trigger", "Engine")),
    )
    assert result.allowed == []
    assert [r.principal for r, _ in result.refused] == [
        "SignalsFunction",
        "ItemsStateMachine",
        "ApiFunction",
        "EngineFunction",
        "SchedulerRole",
    ]


def test_a_narrowed_policy_refuses_what_the_template_allows(roles):
    # SendTaskSuccess has no resource type: IAM authorises it against "*", so a statement
    # scoped to the state machines' ARNs (as SAM's StepFunctionsCallbackPolicy writes) refuses.
    call = request("SignalsFunction", "states:SendTaskSuccess", "*")
    assert verdict(roles, call).refused == []
    narrowed = copy.deepcopy(roles)
    for _, document in narrowed["SignalsFunction"].inline:
        for statement in document["Statement"]:
            if statement.get("Sid") == "ResumeWaitingAttempts":
                statement["Resource"] = [RUN_MACHINE, NODE_MACHINE]
    [(refused, why)] = verdict(narrowed, call).refused
    assert refused == call and "refused" in why


def test_an_explicit_deny_wins(roles):
    denied = copy.deepcopy(roles)
    denied["EngineFunction"].inline.append(
        ("Deny", {"Statement": [{"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}]})
    )
    [(_, why)] = verdict(denied, request("EngineFunction", "dynamodb:GetItem", TABLE)).refused
    assert why.startswith("denied")


def test_actions_match_case_insensitively_as_in_iam(roles):
    lower = request("EngineFunction", "dynamodb:updateitem", TABLE)
    assert verdict(roles, lower).refused == []


def test_conditions_are_evaluated_or_the_call_is_refused(roles):
    passed = request(
        "ApiFunction",
        "iam:PassRole",
        SCHEDULER_ROLE,
        **{"iam:PassedToService": "scheduler.amazonaws.com"},
    )
    elsewhere = request(
        "ApiFunction",
        "iam:PassRole",
        SCHEDULER_ROLE,
        **{"iam:PassedToService": "ec2.amazonaws.com"},
    )
    unknown = request("ApiFunction", "iam:PassRole", SCHEDULER_ROLE)
    result = verdict(roles, passed, elsewhere, unknown)
    assert result.allowed == [passed]
    assert [r for r, _ in result.refused] == [elsewhere, unknown]
    assert "cannot decide" in result.refused[1][1]


def test_an_unmapped_operation_or_an_unknown_principal_is_refused(roles):
    [unknown] = call_log.requests_for("EngineFunction", "dynamodb", "ExecuteStatement", {})
    assert unknown.action == call_log.UNKNOWN
    stranger = request("SomeNewFunction", "dynamodb:GetItem", TABLE)
    result = verdict(roles, unknown, stranger)
    assert result.allowed == [] and len(result.refused) == 2


def test_unused_grants_are_reported_and_used_ones_are_not(roles):
    calls = [request("SignalsFunction", "states:SendTaskSuccess", "*")]
    unused = {(g.principal, g.action) for g in policies.unused_grants(calls, roles)}
    assert ("SignalsFunction", "states:SendTaskHeartbeat") in unused
    assert ("SignalsFunction", "states:SendTaskSuccess") not in unused


# -- recording ------------------------------------------------------------------------------------


def requests(principal, service, operation, **params):
    return sorted(
        (r.action, r.resource, dict(r.context))
        for r in call_log.requests_for(principal, service, operation, params)
    )


def test_operations_become_the_iam_requests_they_stand_for():
    assert requests(
        "EngineFunction",
        "dynamodb",
        "TransactWriteItems",
        TransactItems=[
            {"Put": {"TableName": "t"}},
            {"Update": {"TableName": "t"}},
            {"ConditionCheck": {"TableName": "u"}},
        ],
    ) == [
        ("dynamodb:ConditionCheckItem", "arn:aws:dynamodb:us-east-1:123456789012:table/u", {}),
        ("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t", {}),
        ("dynamodb:UpdateItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t", {}),
    ]
    assert requests("X", "dynamodb", "Query", TableName="t", IndexName="GSI2") == [
        ("dynamodb:Query", "arn:aws:dynamodb:us-east-1:123456789012:table/t/index/GSI2", {})
    ]
    assert requests(
        "X", "sqs", "DeleteMessageBatch", QueueUrl="https://sqs.us-east-1.amazonaws.com/123/q"
    ) == [("sqs:DeleteMessage", "arn:aws:sqs:us-east-1:123:q", {})]
    assert requests("X", "s3", "GetObject", Bucket="b", Key="k/1") == [
        ("s3:GetObject", "arn:aws:s3:::b/k/1", {})
    ]
    assert requests("X", "stepfunctions", "SendTaskHeartbeat", taskToken="t") == [
        ("states:SendTaskHeartbeat", "*", {})
    ]
    assert requests(
        "X",
        "scheduler",
        "CreateSchedule",
        Name="s",
        GroupName="g",
        Target={"RoleArn": SCHEDULER_ROLE},
    ) == [
        ("iam:PassRole", SCHEDULER_ROLE, {"iam:PassedToService": "scheduler.amazonaws.com"}),
        ("scheduler:CreateSchedule", "arn:aws:scheduler:us-east-1:123456789012:schedule/g/s", {}),
    ]
    # A secret named, not by ARN: IAM sees its full ARN, name plus a random suffix.
    [(_, secret, _)] = requests("X", "secretsmanager", "GetSecretValue", SecretId="a/b")
    assert secret.startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:a/b-")


def test_calls_are_recorded_for_the_principal_they_run_as():
    call_log.register({"stepwise-local-EngineFunction": "EngineFunction"})
    before = set(call_log.LOG.requests)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="recorded")["QueueUrl"]  # nobody's: not recorded
        with call_log.acting_as("stepwise-local-EngineFunction"):
            sqs.send_message(QueueUrl=url, MessageBody="x")
    new = set(call_log.LOG.requests) - before
    assert {(r.principal, r.action, r.resource) for r in new} == {
        ("EngineFunction", "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:recorded")
    }
    call_log.LOG.requests.difference_update(new)  # not a call of the stack's
    assert call_log.LOG.unattributed["sqs:CreateQueue"] >= 1


def test_calls_a_test_marks_unchecked_are_not_recorded():
    before = set(call_log.LOG.requests)
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="unchecked")["QueueUrl"]
        with call_log.unchecked("misconfigured on purpose"), call_log.acting_as("EngineFunction"):
            sqs.send_message(QueueUrl=url, MessageBody="x")
    assert set(call_log.LOG.requests) == before
