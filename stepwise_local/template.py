"""Reads template.yaml and resolves its intrinsic functions to the local stack's values."""

import json
import re
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation short tags (!Ref, !Sub, ...) as long forms."""


def _construct_tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)


class Resolver:
    """Evaluates Ref, Fn::GetAtt, Fn::Sub, Fn::If, Fn::Equals, Fn::Join and Fn::Select.

    ``refs`` maps a logical id to its Ref value, ``attrs`` maps "LogicalId.Attr" to GetAtt values.
    """

    def __init__(
        self,
        template: dict[str, Any],
        stack_name: str,
        refs: dict[str, Any],
        attrs: dict[str, Any],
        parameters: dict[str, Any] | None = None,
    ):
        self.template = template
        params = {
            name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()
        }
        params.update(parameters or {})
        self.refs = {
            **params,
            **refs,
            "AWS::StackName": stack_name,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        self.attrs = attrs
        self.conditions = {
            name: bool(self.resolve(expr)) for name, expr in template.get("Conditions", {}).items()
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                return self._get_att(*(arg.split(".", 1) if isinstance(arg, str) else arg))
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.conditions[name] else when_false)
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(i) for i in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(index)]
            if key == "Condition":
                return self.conditions[arg]
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> Any:
        if name not in self.refs:
            raise KeyError(f"template refers to {name!r}, which the local stack does not know")
        return self.refs[name]

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        key = f"{logical_id}.{attribute}"
        if key not in self.attrs:
            raise KeyError(f"template asks for {key!r}, which the local stack does not provide")
        return self.attrs[key]

    def _sub(self, arg: Any) -> str:
        text, local = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return str(local[name])
            if "." in name:
                return str(self._get_att(*name.split(".", 1)))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def substitute_definition(text: str, substitutions: dict[str, Any]) -> str:
    """An ASL file with its ``${Name}`` DefinitionSubstitutions filled in (all must be given)."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in substitutions:
            raise KeyError(f"ASL placeholder ${{{name}}} has no DefinitionSubstitution")
        return str(substitutions[name])

    result = re.sub(r"\$\{([A-Za-z0-9_]+)\}", replace, text)
    json.loads(result)
    return result
