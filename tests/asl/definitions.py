"""The state machines as a deployment would create them: every ``statemachines/*.asl.json`` with
its template resource's DefinitionSubstitutions resolved to plausible ARNs for a partition and
region (read from template.yaml, never copied)."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepwise_local.template import REPO_ROOT, Resolver, load_template, substitute_definition

STATEMACHINES = REPO_ROOT / "statemachines"
ASL_FOLDER = STATEMACHINES.name  # as template.yaml's DefinitionUri names it
STACK_NAME = "stepwise"
ACCOUNT_ID = "123456789012"
# One region per partition Step Functions runs in: ARNs and URLs differ in partition and suffix.
REGIONS = {
    "us-east-1": ("aws", "amazonaws.com"),
    "cn-north-1": ("aws-cn", "amazonaws.com.cn"),
    "us-gov-west-1": ("aws-us-gov", "amazonaws.com"),
}


@dataclass(frozen=True)
class Definition:
    logical_id: str
    path: Path
    name: str  # the state machine's name in the deployed stack
    text: str  # the ASL with every ${...} substituted
    type: str = "STANDARD"  # the template's Type: STANDARD or EXPRESS


def _values(
    template: dict[str, Any], region: str, account: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ref and GetAtt values a CloudFormation stack named STACK_NAME would give each resource."""
    partition, suffix = REGIONS[region]
    arn = f"arn:{partition}:{{service}}:{region}:{account}:{{rest}}"
    refs: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        physical = f"{STACK_NAME}-{logical_id}-1A2B3C4D5E6F"
        if kind == "AWS::Serverless::Function":
            refs[logical_id] = physical
            attrs[f"{logical_id}.Arn"] = arn.format(service="lambda", rest=f"function:{physical}")
        elif kind == "AWS::SQS::Queue":
            refs[logical_id] = f"https://sqs.{region}.{suffix}/{account}/{physical}"
            attrs[f"{logical_id}.Arn"] = arn.format(service="sqs", rest=physical)
            attrs[f"{logical_id}.QueueName"] = physical
        elif kind == "AWS::DynamoDB::Table":
            refs[logical_id] = physical
            attrs[f"{logical_id}.Arn"] = arn.format(service="dynamodb", rest=f"table/{physical}")
        elif kind == "AWS::Logs::LogGroup":
            refs[logical_id] = physical
            attrs[f"{logical_id}.Arn"] = arn.format(service="logs", rest=f"log-group:{physical}:*")
        elif kind == "AWS::S3::Bucket":
            refs[logical_id] = physical.lower()
            attrs[f"{logical_id}.Arn"] = f"arn:{partition}:s3:::{physical.lower()}"
        elif kind == "AWS::SecretsManager::Secret":
            refs[logical_id] = arn.format(
                service="secretsmanager", rest=f"secret:{physical}-AbCdEf"
            )
    return refs, attrs


def definitions(
    region: str = "us-east-1", account: str = ACCOUNT_ID, refs: dict[str, Any] | None = None
) -> list[Definition]:
    """Every ASL file in statemachines/, substituted as the template's resource for it says;
    ``refs`` overrides the Ref value of some resources (e.g. a queue that really exists).

    A file no state machine of the template uses is an error: it would never be checked by
    anything else either."""
    template = load_template()
    partition, suffix = REGIONS[region]
    values, attrs = _values(template, region, account)
    refs = {**values, **(refs or {})}
    resolver = Resolver(template, STACK_NAME, refs, attrs)
    resolver.refs.update(
        {"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": partition}
    )
    resolver.refs["AWS::URLSuffix"] = suffix
    # DefinitionUri is relative to the template: statemachines/<file>
    machines = {
        Path(r["Properties"]["DefinitionUri"]).as_posix(): (logical_id, r["Properties"])
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in r["Properties"]
    }
    found = []
    for path in sorted(STATEMACHINES.glob("*.asl.json")):
        uri = f"{ASL_FOLDER}/{path.name}"
        if uri not in machines:
            raise SystemExit(f"{uri}: no state machine in template.yaml")
        logical_id, props = machines[uri]
        substitutions = resolver.resolve(props.get("DefinitionSubstitutions", {}))
        text = substitute_definition(path.read_text(), substitutions)
        json.loads(text)
        name = resolver.resolve(props.get("Name", logical_id))
        kind = props.get("Type", "STANDARD")
        found.append(Definition(logical_id, path, name, text, kind))
    if not found:
        raise SystemExit(f"no *.asl.json in {STATEMACHINES}")
    return found
