"""A reset stack is a new stack: every kind of resource provisioning creates is reset, and after
a test has left something behind in each of them, a reset leaves what a new stack has.

These tests start a stack of their own, so no test of this module may use ``stack`` (whose
module-scoped stack would then be running too)."""

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from stepwise import components
from stepwise_local import provision, reset
from stepwise_local.provision import local_client
from stepwise_local.stack import LocalStack
from tests.conftest import OTHER_KEY, OTHER_ORG, QUIET, fresh
from tests.helpers import http_event


def test_every_resource_type_provisioning_creates_is_reset_or_keeps_no_state():
    reset_types, stateless = set(reset.RESETTERS), set(reset.STATELESS)
    assert not reset_types & stateless, "a type is either reset or stateless"
    assert set(provision._CREATORS) == reset_types | stateless, (
        "a resource type provision can create is missing from stepwise_local.reset: "
        f"{sorted(set(provision._CREATORS) - reset_types - stateless)}"
    )


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    pages = client.get_paginator(operation).paginate(**kwargs)
    return [found for page in pages for found in page.get(key, [])]


def inventory(local: LocalStack) -> dict[str, Any]:
    """What a test could see of the stack, by kind; values a new stack draws at random (secret
    values and ARN suffixes, creation times) are left out."""
    ddb, sqs, s3 = local_client("dynamodb"), local_client("sqs"), local_client("s3")
    secrets, scheduler = local_client("secretsmanager"), local_client("scheduler")
    sfn, events = local_client("stepfunctions"), local_client("events")
    found: dict[str, Any] = {}
    found["tables"] = {
        table: {
            "keys": sorted(
                (item["PK"]["S"], item["SK"]["S"])
                for item in _pages(ddb, "scan", "Items", TableName=table)
            ),
            "schema": ddb.describe_table(TableName=table)["Table"]["KeySchema"],
            "indexes": sorted(
                index["IndexName"]
                for index in ddb.describe_table(TableName=table)["Table"].get(
                    "GlobalSecondaryIndexes", []
                )
            ),
            "ttl": ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"],
        }
        for table in _pages(ddb, "list_tables", "TableNames")
    }
    found["queues"] = {
        url: {
            key: value
            for key, value in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"
            ].items()
            if not key.endswith("Timestamp")
        }
        for url in sqs.list_queues().get("QueueUrls", [])
    }
    found["buckets"] = {
        bucket["Name"]: sorted(
            o["Key"] for o in _pages(s3, "list_objects_v2", "Contents", Bucket=bucket["Name"])
        )
        for bucket in s3.list_buckets()["Buckets"]
    }
    found["secrets"] = {
        secret["Name"]: len(secrets.list_secret_version_ids(SecretId=secret["ARN"])["Versions"])
        for secret in _pages(secrets, "list_secrets", "SecretList")
    }
    found["schedules"] = {
        group["Name"]: sorted(
            s["Name"]
            for s in _pages(scheduler, "list_schedules", "Schedules", GroupName=group["Name"])
        )
        for group in _pages(scheduler, "list_schedule_groups", "ScheduleGroups")
    }
    found["state machines"] = {
        machine["stateMachineArn"]: {
            "definition": hashlib.sha256(
                sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])[
                    "definition"
                ].encode()
            ).hexdigest(),
            "executions": sorted(
                e["name"]
                for e in _pages(
                    sfn, "list_executions", "executions", stateMachineArn=machine["stateMachineArn"]
                )
            ),
        }
        for machine in _pages(sfn, "list_state_machines", "stateMachines")
    }
    found["rules"] = {
        (bus["Name"], rule["Name"]): (
            rule.get("EventPattern"),
            sorted(
                t["Arn"]
                for t in events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus["Name"])[
                    "Targets"
                ]
            ),
        )
        for bus in events.list_event_buses()["EventBuses"]
        for rule in events.list_rules(EventBusName=bus["Name"])["Rules"]
    }
    found["event buses"] = sorted(b["Name"] for b in events.list_event_buses()["EventBuses"])
    found["environment"] = {key: os.environ.get(key) for key in sorted(local._saved_env)}
    found["built components"] = {
        name: builder.cache_info().currsize
        for name, builder in vars(components).items()
        if hasattr(builder, "cache_info")
    }
    found["local scheduler"] = (
        list(local.scheduler.fired),  # copies: the inventory is a snapshot
        dict(local.scheduler._last),
        local.scheduler_paused,
    )
    found["lifecycle events"] = local.lifecycle_events()
    found["keys that authenticate"] = sorted(
        key for key in (local.api_key, OTHER_KEY, "swk_left_behind") if _authenticates(local, key)
    )
    return found


def _authenticates(local: LocalStack, key: str) -> bool:
    """Whether the API takes the key (what the request builds, the inventory counted before)."""
    org = local.org_id if key != OTHER_KEY else OTHER_ORG
    answer = local.invoke("ApiFunction", http_event("GET", f"/v1/orgs/{org}/runs", key=key))
    return answer["statusCode"] == 200


def leave_something_in_every_kind(local: LocalStack) -> None:
    """What tests leave behind: through the API and the engine, and by hand."""
    nodes = [{"ref": "a", "kind": "transform", "args": {"n": 1}}]

    def call(method: str, path: str, body: Any = None) -> Any:
        event = http_event(method, f"/v1/orgs/acme{path}", body)
        return json.loads(local.invoke("ApiFunction", event)["body"])

    workflow = call("POST", "/workflows", {"name": "left", "nodes": nodes})["data"]["id"]
    call("POST", "/runs", {"workflow_id": workflow})  # items, a run execution
    call(
        "POST", "/schedules", {"name": "s", "expression": "rate(1 minute)", "workflow_id": workflow}
    )
    local.add_api_key("acme", "swk_left_behind")
    names = local.stack.names
    sfn = local_client("stepfunctions")
    sfn.start_execution(stateMachineArn=names["NodeStateMachine"], name="left", input="{}")
    sfn.create_state_machine(
        name="extra",
        definition='{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}',
        roleArn=provision._role(),
    )
    local_client("s3").put_object(Bucket=names["PayloadBucket"], Key="left/behind", Body=b"x")
    local_client("s3").create_bucket(Bucket="extra-bucket")
    sqs = local_client("sqs")
    for created in local.stack.created:
        if created.type == "AWS::SQS::Queue":
            url = names[created.logical_id]
            sqs.send_message(QueueUrl=url, MessageBody="waiting")
            sqs.send_message(QueueUrl=url, MessageBody="in flight")
            sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "7"})
    sqs.create_queue(QueueName="extra-queue")
    secrets = local_client("secretsmanager")
    for logical_id in ("CursorSigningSecret", "SignalSigningSecret"):
        secrets.put_secret_value(SecretId=names[logical_id], SecretString="changed")
    secrets.create_secret(Name="extra-secret", SecretString="x")
    local_client("scheduler").create_schedule_group(Name="extra-group")
    local_client("dynamodb").create_table(
        TableName="extra-table",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    events = local_client("events")
    events.create_event_bus(Name="extra-bus")
    events.put_rule(Name="extra-rule", EventPattern=json.dumps({"source": ["stepwise"]}))
    events.put_targets(
        Rule="extra-rule",
        Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:extra-queue"}],
    )
    events.put_events(
        Entries=[{"Source": "stepwise", "DetailType": "Run Succeeded", "Detail": "{}"}]
    )
    local.scheduler_paused = True
    local.tick(datetime.now(UTC) + timedelta(minutes=6))  # the janitor rule fires
    local.lifecycle.collect()
    components.engine()
    os.environ["TABLE_NAME"] = "not-the-stack-table"


def test_a_reset_leaves_what_a_new_stack_has_whatever_a_test_left():
    with LocalStack(execute_state_machines=False, parameters=QUIET) as local:
        local.add_api_key(OTHER_ORG, OTHER_KEY)
        new = inventory(local)
        leave_something_in_every_kind(local)
        left = inventory(local)
        untouched = [kind for kind in new if left[kind] == new[kind]]
        assert untouched == [], "the test leaves nothing in these kinds, so proves nothing there"

        fresh(local)

        after = inventory(local)
        differ = {kind: (new[kind], after[kind]) for kind in new if after[kind] != new[kind]}
        assert differ == {}
