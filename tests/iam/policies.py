"""The deployed roles' policies, from the SAM-translated template, and IAM's decision on a call.

The template is translated offline by aws-sam-translator (in .venv-sam, where SAM CLI pins it;
its pydantic pin conflicts with the runtime's, so it cannot live in .venv): SAM policy templates
such as DynamoDBCrudPolicy only become statements there, and SAM adds policies of its own (an
SQS event's poller policy, an EventInvokeConfig destination's). Intrinsics are resolved to the
local stack's names (``provision.resolver_for``), the same names the recorded ARNs carry.

Decisions come from moto's IAM policy evaluator (``moto.iam.access_control.IAMPolicy``: the one
moto enforces requests with when its access control is on; already pinned with moto, so no new
dependency). Where it is weaker than IAM this module makes it strict or refuses to decide:
actions are compared case-insensitively as IAM does (moto compares them as written); a
condition is evaluated only with StringEquals on keys the request carries, and any other
condition operator, or a key the request does not carry, is an error rather than a silent pass
(moto would ignore both).
"""

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.aws_managed_policies import aws_managed_policies_data

from stepwise_local.call_log import UNKNOWN, Request
from stepwise_local.provision import resolver_for
from stepwise_local.template import REPO_ROOT, TEMPLATE_PATH, load_template

STACK_NAME = "stepwise-local"  # what the local stack calls itself (provision's default)
SAM_PYTHON = REPO_ROOT / ".venv-sam" / "bin" / "python"
EVALUABLE_OPERATORS = {"StringEquals"}

_TRANSLATE = r"""
import json, os, sys
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

template = yaml_parse(open(sys.argv[1]).read())
for resource in template["Resources"].values():
    properties = resource.get("Properties", {})
    for key in ("CodeUri", "ContentUri", "DefinitionUri"):
        if isinstance(properties.get(key), str):  # local paths: what `sam package` would upload
            properties[key] = f"s3://placeholder-bucket/{key}"
translated = Translator(managed_policy_map=None, sam_parser=Parser()).translate(
    sam_template=template, parameter_values={}
)
json.dump(translated, sys.stdout, default=str)
"""


def report_dir() -> Path:
    """Where recordings and the report go: ``STEPWISE_IAM_DIR``, else <temp dir>/stepwise-iam."""
    return Path(os.environ.get("STEPWISE_IAM_DIR") or Path(tempfile.gettempdir()) / "stepwise-iam")


@cache
def translated_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """template.yaml as CloudFormation sees it after the SAM transform (offline)."""
    if not SAM_PYTHON.exists():
        raise RuntimeError(f"{SAM_PYTHON} is missing: `make sam` creates it (SAM's virtualenv)")
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"}
    done = subprocess.run(  # noqa: S603 SAM's own interpreter, our script
        [str(SAM_PYTHON), "-c", _TRANSLATE, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"aws-sam-translator failed:\n{done.stderr}")
    return json.loads(done.stdout)


@dataclass
class Role:
    logical_id: str
    # (name, document): the template's own policies (inline), resolved to local names.
    inline: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # (ARN, document): AWS-managed policies SAM attaches (logs, X-Ray, SQS polling).
    managed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def documents(self) -> list[dict[str, Any]]:
        return [doc for _, doc in self.inline] + [doc for _, doc in self.managed]


def roles(translated: dict[str, Any] | None = None) -> dict[str, Role]:
    """Each principal (function or state machine logical id) -> the role it runs with."""
    translated = translated if translated is not None else translated_template()
    resolver = resolver_for(load_template(), STACK_NAME)
    resources = translated["Resources"]
    managed_data = json.loads(aws_managed_policies_data)
    principals: dict[str, str] = {}  # principal -> its role's logical id
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        role_ref = {
            "AWS::Lambda::Function": properties.get("Role"),
            "AWS::StepFunctions::StateMachine": properties.get("RoleArn"),
        }.get(resource["Type"])
        if role_ref is not None:
            principals[logical_id] = role_ref["Fn::GetAtt"][0]
    # A role no function or machine runs with is a principal of its own (a service assumes it:
    # SchedulerRole, with which Scheduler invokes the trigger).
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::IAM::Role" and logical_id not in principals.values():
            principals[logical_id] = logical_id
    found: dict[str, Role] = {}
    for logical_id, role_id in principals.items():
        role = resources[role_id]["Properties"]
        inline = [
            (p["PolicyName"], resolver.resolve(p["PolicyDocument"]))
            for p in role.get("Policies", [])
        ]
        managed = []
        for arn in role.get("ManagedPolicyArns", []):
            name = arn.rsplit("/", 1)[-1]
            if name not in managed_data:
                raise KeyError(f"{logical_id}: no document known for managed policy {arn}")
            managed.append((arn, managed_data[name]["Document"]))
        found[logical_id] = Role(role_id, inline, managed)
    return found


# -- decisions ------------------------------------------------------------------------------------


class CannotDecide(Exception):
    """A policy condition the evaluator cannot evaluate faithfully for this request."""


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _lower_actions(statement: dict[str, Any]) -> dict[str, Any]:
    """IAM compares action names case-insensitively; moto's evaluator does not."""
    copy = dict(statement)
    for key in ("Action", "NotAction"):
        if key in copy:
            values = copy[key] if isinstance(copy[key], list) else [copy[key]]
            copy[key] = [v.lower() for v in values]
    return copy


def _applies(statement: dict[str, Any], action: str) -> bool:
    """Whether the statement's Action/NotAction covers ``action`` (resource and condition aside)."""
    probe = {k: v for k, v in _lower_actions(statement).items() if k in ("Action", "NotAction")}
    probe.update(Effect="Allow", Resource="*")
    return (
        IAMPolicy(json.dumps({"Statement": [probe]})).is_action_permitted(action.lower(), "*")
        == PermissionResult.PERMITTED
    )


def _check_conditions(documents: Iterable[dict[str, Any]], request: Request) -> None:
    context = dict(request.context)
    for document in documents:
        for statement in _statements(document):
            if "Condition" not in statement or not _applies(statement, request.action):
                continue
            for operator, values in statement["Condition"].items():
                if operator not in EVALUABLE_OPERATORS:
                    raise CannotDecide(f"condition operator {operator} on {request.action}")
                missing = [key for key in values if key not in context]
                if missing:
                    raise CannotDecide(
                        f"{request.action} on {request.resource}: the call carries no {missing}"
                    )


def prepare(documents: list[dict[str, Any]]) -> list[IAMPolicy]:
    """The documents as moto's evaluator reads them, with actions compared as IAM does."""
    return [
        IAMPolicy(json.dumps({**d, "Statement": [_lower_actions(s) for s in _statements(d)]}))
        for d in documents
    ]


def decide(
    documents: list[dict[str, Any]], request: Request, prepared: list[IAMPolicy] | None = None
) -> str:
    """IAM's answer for an identity-based request: "allowed", "denied" (an explicit Deny) or
    "refused" (no statement allows it: the implicit deny)."""
    if request.action == UNKNOWN:
        raise CannotDecide(f"{request.service}:{request.operation} is not mapped to IAM")
    _check_conditions(documents, request)
    allowed = False
    for policy in prepared if prepared is not None else prepare(documents):
        result = policy.is_action_permitted(
            request.action.lower(), request.resource, None, dict(request.context)
        )
        if result == PermissionResult.DENIED:
            return "denied"
        allowed = allowed or result == PermissionResult.PERMITTED
    return "allowed" if allowed else "refused"


@dataclass
class Verdict:
    refused: list[tuple[Request, str]]  # (request, why)
    allowed: list[Request]


def evaluate(requests: Iterable[Request], by_principal: dict[str, Role]) -> Verdict:
    refused: list[tuple[Request, str]] = []
    allowed: list[Request] = []
    prepared = {principal: prepare(role.documents) for principal, role in by_principal.items()}
    for request in requests:
        role = by_principal.get(request.principal)
        if role is None:
            refused.append((request, f"no role in the template for {request.principal}"))
            continue
        try:
            answer = decide(role.documents, request, prepared[request.principal])
        except CannotDecide as exc:
            refused.append((request, f"cannot decide: {exc}"))
            continue
        if answer == "allowed":
            allowed.append(request)
        else:
            refused.append((request, f"{answer} by {role.logical_id}'s policies"))
    return Verdict(refused, allowed)


# -- grants no call used --------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    principal: str
    policy: str
    sid: str
    action: str
    resource: str


def unused_grants(requests: Iterable[Request], by_principal: dict[str, Role]) -> list[Grant]:
    """Every (action, resource) an Allow statement of a template policy grants that no recorded
    call of its principal used. AWS-managed policies are left out: the Lambda runtime and X-Ray
    use them, not the project's code."""
    by_who: dict[str, list[Request]] = {}
    for request in requests:
        by_who.setdefault(request.principal, []).append(request)
    unused: list[Grant] = []
    for principal, role in sorted(by_principal.items()):
        calls = by_who.get(principal, [])
        for name, document in role.inline:
            for statement in _statements(document):
                if statement.get("Effect") != "Allow":
                    continue
                actions = statement.get("Action", [])
                resources = statement.get("Resource", [])
                for action in actions if isinstance(actions, list) else [actions]:
                    for resource in resources if isinstance(resources, list) else [resources]:
                        grant = {"Statement": [{"Effect": "Allow", "Action": action.lower()}]}
                        grant["Statement"][0]["Resource"] = resource
                        policy = IAMPolicy(json.dumps(grant))
                        if not any(
                            policy.is_action_permitted(c.action.lower(), c.resource)
                            == PermissionResult.PERMITTED
                            for c in calls
                            if "*" in action or c.action.lower() == action.lower()
                        ):
                            sid = statement.get("Sid", "")
                            unused.append(Grant(principal, name, sid, action, resource))
    return unused


def report(verdict: Verdict, unused: list[Grant], by_principal: dict[str, Role]) -> str:
    lines = [
        f"IAM check of recorded calls: {len(verdict.allowed)} allowed, "
        f"{len(verdict.refused)} refused",
    ]
    for request, why in verdict.refused:
        lines.append(
            f"  REFUSED {request.principal}: {request.action} on {request.resource} "
            f"({request.service}:{request.operation}) - {why}"
        )
    seen = {r.principal for r in verdict.allowed} | {r.principal for r, _ in verdict.refused}
    silent = sorted(set(by_principal) - seen)
    if silent:
        lines.append(f"Principals with no recorded call: {', '.join(silent)}")
    lines.append(f"Grants no recorded call used ({len(unused)}):")
    for grant in unused:
        where = f"{grant.policy}{'/' + grant.sid if grant.sid else ''}"
        lines.append(f"  {grant.principal}  {grant.action}  {grant.resource}  [{where}]")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # prints each principal's resolved policies (debugging aid)
    json.dump({k: v.inline for k, v in roles().items()}, sys.stdout, indent=1)
