"""Puts a provisioned stack's resources back the way ``provision`` left them, in a fraction of
the time provisioning again takes: what holds state (items, messages, objects, secret values,
schedules, executions) is emptied or created again by the very code that provisioned it, and
what was made beside the template (a test's own queue, rule, bucket, secret) is deleted.

For a stack whose state machines do not execute: nothing may be running meanwhile.
"""

import contextlib
from collections.abc import Callable
from typing import Any

from stepwise_local.provision import Created, ProvisionedStack, local_client


def _table(name: str, created: Created) -> None:
    local_client("dynamodb").delete_table(TableName=name)
    created.create()


def _bucket(name: str, created: Created) -> None:
    _empty_bucket(name)


def _secret(name: str, created: Created) -> None:
    """A new secret with a new random value, as provisioning makes (and no other version)."""
    local_client("secretsmanager").delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    created.create()


def _queue(name: str, created: Created) -> None:
    """Created again rather than purged: SQS allows one purge a minute, and a purge would leave
    whatever attributes a test changed. ``provision`` created dead-letter queues first, and the
    reset follows its order."""
    local_client("sqs").delete_queue(QueueUrl=name)
    created.create()


def _schedule_group(name: str, created: Created) -> None:
    _delete_schedules(name)


def _state_machine(arn: str, created: Created) -> None:
    """Created again under the same ARN: Step Functions cannot delete one execution."""
    local_client("stepfunctions").delete_state_machine(stateMachineArn=arn)
    created.create()


# Every resource type ``provision`` creates is either reset here, in this order, ...
RESETTERS: dict[str, Callable[[str, Created], None]] = {
    "AWS::DynamoDB::Table": _table,
    "AWS::S3::Bucket": _bucket,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::SQS::Queue": _queue,
    "AWS::Scheduler::ScheduleGroup": _schedule_group,
    "AWS::Serverless::StateMachine": _state_machine,
}
# ... or keeps no state a test can change, and why (tests/integration checks both lists cover
# every type provisioning knows).
STATELESS = {
    "AWS::Serverless::Function": "code and configuration; the handlers run in-process",
    "AWS::IAM::Role": "moto enforces no policy, and nothing at run time changes a role",
    "AWS::CloudWatch::Alarm": "no metric reaches it locally, and nothing at run time changes it",
    "AWS::CloudWatch::Dashboard": "nothing at run time changes a dashboard",
}


def reset(stack: ProvisionedStack) -> None:
    """Every provisioned resource as provisioning left it, and nothing else in the services
    Stepwise uses (EventBridge rules and buses included: the caller makes its own again)."""
    _sweep_unprovisioned(stack)
    for created in stack.created:
        if created.type in RESETTERS:
            RESETTERS[created.type](stack.names[created.logical_id], created)
        elif created.type not in STATELESS:
            raise NotImplementedError(f"{created.logical_id}: cannot reset a {created.type}")


def _sweep_unprovisioned(stack: ProvisionedStack) -> None:
    """Deletes what exists beside the template's resources: what tests (and the local stack's
    lifecycle event log) created themselves."""
    kept = {stack.names[c.logical_id] for c in stack.created}

    ddb = local_client("dynamodb")
    for table in _pages(ddb, "list_tables", "TableNames"):
        if table not in kept:
            ddb.delete_table(TableName=table)

    sqs = local_client("sqs")
    for url in _pages(sqs, "list_queues", "QueueUrls"):
        if url not in kept:
            sqs.delete_queue(QueueUrl=url)

    s3 = local_client("s3")
    for bucket in s3.list_buckets()["Buckets"]:
        if bucket["Name"] not in kept:
            _empty_bucket(bucket["Name"])
            s3.delete_bucket(Bucket=bucket["Name"])

    secrets = local_client("secretsmanager")
    for secret in _pages(secrets, "list_secrets", "SecretList"):
        # A provisioned secret's Ref is its ARN without the random suffix SecretsManager adds.
        if secret["ARN"].rsplit("-", 1)[0] not in kept:
            secrets.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)

    scheduler = local_client("scheduler")
    for group in _pages(scheduler, "list_schedule_groups", "ScheduleGroups"):
        if group["Name"] not in kept:
            _delete_schedules(group["Name"])
            if group["Name"] != "default":
                scheduler.delete_schedule_group(Name=group["Name"])

    sfn = local_client("stepfunctions")
    for machine in _pages(sfn, "list_state_machines", "stateMachines"):
        if machine["stateMachineArn"] not in kept:
            sfn.delete_state_machine(stateMachineArn=machine["stateMachineArn"])

    events = local_client("events")
    for bus in events.list_event_buses()["EventBuses"]:
        for rule in _pages(events, "list_rules", "Rules", EventBusName=bus["Name"]):
            targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus["Name"])
            ids = [target["Id"] for target in targets["Targets"]]
            if ids:
                events.remove_targets(Rule=rule["Name"], EventBusName=bus["Name"], Ids=ids)
            events.delete_rule(Name=rule["Name"], EventBusName=bus["Name"])
        if bus["Name"] != "default":
            events.delete_event_bus(Name=bus["Name"])


def _empty_bucket(name: str) -> None:
    s3 = local_client("s3")
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        if doomed:
            s3.delete_objects(Bucket=name, Delete={"Objects": doomed, "Quiet": True})


def _delete_schedules(group: str) -> None:
    scheduler = local_client("scheduler")
    for schedule in _pages(scheduler, "list_schedules", "Schedules", GroupName=group):
        with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
            scheduler.delete_schedule(Name=schedule["Name"], GroupName=group)


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    return [
        found
        for page in client.get_paginator(operation).paginate(**kwargs)
        for found in page.get(key, [])
    ]
