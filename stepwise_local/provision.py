"""Creates every resource of template.yaml in moto, with the names and settings it declares."""

import io
import json
import secrets
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

import boto3

from stepwise_local import faults
from stepwise_local.template import (
    ACCOUNT_ID,
    REGION,
    REPO_ROOT,
    Resolver,
    load_template,
    substitute_definition,
)

# Resource types that have no local counterpart, and why that is fine.
NOT_EMULATED = {
    "AWS::Serverless::LayerVersion": "the layer's package is imported from layers/core",
    "AWS::Serverless::HttpApi": "uvicorn serves the API on 127.0.0.1",
    "AWS::Logs::LogGroup": "logs go to the local process's output",
    "AWS::S3::BucketPolicy": "moto does not enforce bucket policies",
}


@dataclass
class QueueSource:
    """An SQS event of a function: which queue feeds it, in batches of how many."""

    queue_url: str
    queue_arn: str
    batch_size: int


@dataclass
class LocalFunction:
    logical_id: str
    name: str
    module: str
    attribute: str
    environment: dict[str, str]
    timeout: int
    memory: int
    queues: list[QueueSource] = field(default_factory=list)
    # EventBridge rate/cron rules that invoke it (SAM Schedule events), fired by LocalScheduler.
    rules: list[str] = field(default_factory=list)
    # Asynchronous invocations (Scheduler, rules): how often Lambda retries one that raised, and
    # the queue its failure record goes to then (EventInvokeConfig), if any.
    async_retries: int = 2
    on_failure_queue_url: str | None = None


@dataclass
class Created:
    """A resource provisioning created, and how to create it again exactly so (``reset``)."""

    logical_id: str
    type: str
    create: Callable[[], None]


@dataclass
class ProvisionedStack:
    stack_name: str
    outputs: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    created: list[Created] = field(default_factory=list)  # in creation order

    @property
    def principals(self) -> dict[str, str]:
        """Each function's name, state machine's ARN and role's name -> its logical id (whose
        role makes its AWS calls)."""
        machines = {arn: lid for lid, arn in self.names.items() if ":stateMachine:" in str(arn)}
        roles = {
            self.names[c.logical_id]: c.logical_id
            for c in self.created
            if c.type == "AWS::IAM::Role"
        }
        return {**{f.name: f.logical_id for f in self.functions.values()}, **machines, **roles}

    @property
    def environment(self) -> dict[str, str]:
        """The union of every function's environment (they share the local process)."""
        merged: dict[str, str] = {}
        for function in self.functions.values():
            for key, value in function.environment.items():
                if merged.get(key, value) != value:
                    raise ValueError(f"functions disagree on {key}: {merged[key]!r} vs {value!r}")
                merged[key] = value
        return merged


def _physical(stack: str, logical_id: str, rtype: str, props: dict[str, Any]) -> dict[str, Any]:
    """The Ref value and GetAtt attributes a resource will have once created locally."""
    base = f"{stack}-{logical_id}"
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT_ID}:{{}}"
    if rtype == "AWS::DynamoDB::Table":
        return {"Ref": base, "Arn": arn.format("dynamodb", f"table/{base}")}
    if rtype == "AWS::SQS::Queue":
        url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{base}"
        return {"Ref": url, "Arn": arn.format("sqs", base), "QueueName": base, "QueueUrl": url}
    if rtype == "AWS::S3::Bucket":
        name = base.lower()
        return {"Ref": name, "Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.local"}
    if rtype == "AWS::SecretsManager::Secret":
        return {"Ref": arn.format("secretsmanager", f"secret:{base}"), "Name": base}
    if rtype == "AWS::Serverless::Function":
        return {"Ref": base, "Arn": arn.format("lambda", f"function:{base}")}
    if rtype == "AWS::Serverless::StateMachine":
        return {"Ref": None, "Name": None}  # named by its Name property, resolved later
    if rtype == "AWS::Serverless::LayerVersion":
        return {"Ref": arn.format("lambda", f"layer:{base}:1")}
    if rtype == "AWS::Logs::LogGroup":
        name = props.get("LogGroupName") or f"/stepwise/{base}"
        return {"Ref": name, "Arn": arn.format("logs", f"log-group:{base}:*")}
    if rtype == "AWS::Serverless::HttpApi":
        return {"Ref": "local"}
    if rtype == "AWS::Scheduler::ScheduleGroup":
        return {"Ref": base, "Arn": arn.format("scheduler", f"schedule-group/{base}")}
    if rtype == "AWS::IAM::Role":
        return {"Ref": base, "Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{base}"}
    return {"Ref": base}


def resolver_for(
    template: dict[str, Any], stack_name: str, parameters: dict[str, Any] | None = None
) -> Resolver:
    """Resolves the template's intrinsics to the values the local stack gives its resources."""
    resources: dict[str, dict[str, Any]] = template["Resources"]
    refs: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    for logical_id, resource in resources.items():
        values = _physical(stack_name, logical_id, resource["Type"], resource.get("Properties", {}))
        refs[logical_id] = values.pop("Ref")
        for attribute, value in values.items():
            attrs[f"{logical_id}.{attribute}"] = value
    resolver = Resolver(template, stack_name, refs, attrs, parameters)
    # State machines are named by their (resolved) Name property; give Ref/Name their values.
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::StateMachine":
            name = resolver.resolve(resource["Properties"]["Name"])
            arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"
            resolver.refs[logical_id] = arn
            resolver.attrs[f"{logical_id}.Name"] = name
            resolver.attrs[f"{logical_id}.Arn"] = arn
    return resolver


def provision(stack_name: str = "stepwise-local", parameters: dict[str, Any] | None = None):
    """Creates the stack's resources in the active moto mock and describes what it made."""
    template = load_template()
    resources: dict[str, dict[str, Any]] = template["Resources"]
    resolver = resolver_for(template, stack_name, parameters)
    stack = ProvisionedStack(stack_name)
    by_type: dict[str, list[str]] = {}
    for logical_id, resource in resources.items():
        rtype = resource["Type"]
        if rtype not in _CREATORS and rtype not in NOT_EMULATED:
            raise NotImplementedError(f"{logical_id}: the local stack cannot create {rtype}")
        by_type.setdefault(rtype, []).append(logical_id)
    for rtype, creator in _CREATORS.items():
        for logical_id in _queues_first(by_type.get(rtype, []), resources):
            props = resolver.resolve(resources[logical_id].get("Properties", {}))
            create = partial(creator, stack, resolver, logical_id, props, template)
            create()
            stack.names[logical_id] = resolver.refs[logical_id]
            stack.created.append(Created(logical_id, rtype, create))
    for name, output in template.get("Outputs", {}).items():
        try:
            stack.outputs[name] = resolver.resolve(output["Value"])
        except KeyError:
            continue  # e.g. the API URL, which has no local counterpart in the template's terms
    return stack


def _queues_first(logical_ids: list[str], resources: dict[str, Any]) -> list[str]:
    """Dead-letter queues (no redrive of their own) before the queues that redrive to them."""
    return sorted(
        logical_ids, key=lambda lid: "RedrivePolicy" in resources[lid].get("Properties", {})
    )


def _table(stack, resolver, logical_id, props, template) -> None:
    ddb = local_client("dynamodb")
    kwargs: dict[str, Any] = {
        "TableName": resolver.refs[logical_id],
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = [
            {k: v for k, v in index.items() if k in {"IndexName", "KeySchema", "Projection"}}
            for index in props["GlobalSecondaryIndexes"]
        ]
    ddb.create_table(**kwargs)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        ddb.update_time_to_live(
            TableName=kwargs["TableName"],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )


def _bucket(stack, resolver, logical_id, props, template) -> None:
    local_client("s3").create_bucket(Bucket=resolver.refs[logical_id])


def _secret(stack, resolver, logical_id, props, template) -> None:
    generate = props.get("GenerateSecretString") or {}
    value = props.get("SecretString") or secrets.token_hex(
        max(16, int(generate.get("PasswordLength", 64)) // 2)
    )
    local_client("secretsmanager").create_secret(
        Name=resolver.attrs[f"{logical_id}.Name"], SecretString=value
    )


def _queue(stack, resolver, logical_id, props, template) -> None:
    attributes: dict[str, str] = {}
    for key in (
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
        "SqsManagedSseEnabled",
    ):
        if key in props:
            attributes[key] = (
                str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
            )
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    local_client("sqs").create_queue(
        QueueName=resolver.attrs[f"{logical_id}.QueueName"], Attributes=attributes
    )


def _function(stack, resolver, logical_id, props, template) -> None:
    globals_ = resolver.resolve(template.get("Globals", {}).get("Function", {}))
    environment = {
        **(globals_.get("Environment", {}).get("Variables", {})),
        **(props.get("Environment", {}).get("Variables", {})),
    }
    environment = {k: str(v) for k, v in environment.items() if v is not None}
    code_uri = props["CodeUri"].strip("/")
    module_file, attribute = props["Handler"].rsplit(".", 1)
    module = ".".join([*code_uri.split("/"), *module_file.split("/")])
    if not (REPO_ROOT / code_uri / f"{module_file}.py").is_file():
        raise FileNotFoundError(f"{logical_id}: handler file {code_uri}/{module_file}.py missing")
    name = resolver.refs[logical_id]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{module_file}.py", "# runs in-process, see stepwise_local.lambdas\n")
    local_client("lambda").create_function(
        FunctionName=name,
        Runtime=props.get("Runtime", globals_.get("Runtime", "python3.12")),
        Role=_role(),
        Handler=props["Handler"],
        Code={"ZipFile": buffer.getvalue()},
        Environment={"Variables": environment},
        Timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
        MemorySize=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
    )
    stack.functions[name] = LocalFunction(
        logical_id=logical_id,
        name=name,
        module=module,
        attribute=attribute,
        environment=environment,
        timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
        memory=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
        queues=[
            QueueSource(
                queue_url=_queue_url(resolver, event["Properties"]["Queue"]),
                queue_arn=event["Properties"]["Queue"],
                batch_size=int(event["Properties"].get("BatchSize", 10)),
            )
            for event in (props.get("Events") or {}).values()
            if event.get("Type") == "SQS"
        ],
        rules=[
            event["Properties"]["Schedule"]
            for event in (props.get("Events") or {}).values()
            if event.get("Type") == "Schedule" and event["Properties"].get("Enabled", True)
        ],
        **_async_config(resolver, props.get("EventInvokeConfig") or {}),
    )


def _async_config(resolver: Resolver, config: dict[str, Any]) -> dict[str, Any]:
    """What the template's EventInvokeConfig says of asynchronous invocations (Lambda's default
    is two retries and no destination)."""
    on_failure = (config.get("DestinationConfig") or {}).get("OnFailure") or {}
    if on_failure and on_failure.get("Type") != "SQS":
        raise NotImplementedError("the local stack delivers on-failure records to SQS only")
    return {
        "async_retries": int(config.get("MaximumRetryAttempts", 2)),
        "on_failure_queue_url": (
            _queue_url(resolver, on_failure["Destination"]) if on_failure else None
        ),
    }


def _queue_url(resolver: Resolver, queue_arn: str) -> str:
    for key, value in resolver.attrs.items():
        if key.endswith(".Arn") and value == queue_arn:
            return resolver.attrs[key.replace(".Arn", ".QueueUrl")]
    raise KeyError(f"no queue of the template has the ARN {queue_arn}")


def _state_machine(stack, resolver, logical_id, props, template) -> None:
    definition = (REPO_ROOT / props["DefinitionUri"]).read_text()
    definition = substitute_definition(definition, props.get("DefinitionSubstitutions", {}))
    local_client("stepfunctions").create_state_machine(
        name=props["Name"],
        definition=definition,
        roleArn=_role(),
        type=props.get("Type", "STANDARD"),
    )


def _schedule_group(stack, resolver, logical_id, props, template) -> None:
    local_client("scheduler").create_schedule_group(Name=resolver.refs[logical_id])


def _iam_role(stack, resolver, logical_id, props, template) -> None:
    iam = local_client("iam")
    name = resolver.refs[logical_id]
    iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
    )
    for policy in props.get("Policies", []):
        iam.put_role_policy(
            RoleName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )


def _alarm(stack, resolver, logical_id, props, template) -> None:
    """Created through CloudWatch's own API, so botocore checks every property's shape; nothing
    publishes AWS metrics locally, so an alarm never leaves INSUFFICIENT_DATA here."""
    present = {key: value for key, value in props.items() if value is not None}
    local_client("cloudwatch").put_metric_alarm(**present)


def _dashboard(stack, resolver, logical_id, props, template) -> None:
    body = props["DashboardBody"]
    json.loads(body)  # the resolved body must be JSON, as CloudWatch requires
    local_client("cloudwatch").put_dashboard(
        DashboardName=props["DashboardName"], DashboardBody=body
    )


def _role() -> str:
    iam = local_client("iam")
    name = "stepwise-local-execution-role"
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = {"Version": "2012-10-17", "Statement": []}
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]


@cache
def local_client(service: str) -> Any:
    """One client per service for the process (moto intercepts them whenever it is active)."""
    return faults.exempt(_session().client(service, region_name=REGION))


@cache
def _session() -> boto3.session.Session:
    # A session copies botocore's handlers when it is made: moto's stubber must be among them.
    import moto.core.models  # noqa: F401

    return boto3.session.Session()


# Creation order: what others refer to comes first (functions before the machines that call them).
_CREATORS = {
    "AWS::DynamoDB::Table": _table,
    "AWS::S3::Bucket": _bucket,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::SQS::Queue": _queue,
    "AWS::Serverless::Function": _function,
    "AWS::IAM::Role": _iam_role,
    "AWS::Scheduler::ScheduleGroup": _schedule_group,
    "AWS::Serverless::StateMachine": _state_machine,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::Dashboard": _dashboard,
}
