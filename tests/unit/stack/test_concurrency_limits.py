"""The template's concurrency limits: every queue's event source capped by a parameter, no
reservation unless the operator asks for one, and a node start rate that a step of the largest
workflow can keep within the engine's timeout."""

import re

import pytest

from stepwise.workflows.models import WorkflowCreate
from stepwise_local.template import Resolver, load_template

# Lambda's ScalingConfig.MaximumConcurrency takes 2 to 1,000 (CloudFormation's own bounds).
SQS_MAXIMUM_CONCURRENCY = (2, 1000)
RESERVABLE = {
    "EngineFunction": "EngineReservedConcurrency",
    "ApiFunction": "ApiReservedConcurrency",
}


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template()


def _functions(template):
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _sqs_events(template):
    return [
        (name, event)
        for name, function in _functions(template).items()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]


def test_every_queue_consumer_is_capped_by_a_maximum_concurrency_parameter(template):
    """MaximumConcurrency stops the event source from reading more than it can hand to the
    function, so messages wait in the queue; a reservation alone would let it read batches that
    Lambda then throttles, each a receive counted towards the dead-letter queue."""
    events = _sqs_events(template)
    assert {name for name, _ in events} == {
        "DispatcherFunction",
        "SignalsFunction",
        "BatchesFunction",
        "BulkFunction",
        "EngineFunction",  # RunQueue
    }
    low, high = SQS_MAXIMUM_CONCURRENCY
    for name, event in events:
        ref = event["Properties"]["ScalingConfig"]["MaximumConcurrency"]["Ref"]
        parameter = template["Parameters"][ref]
        assert parameter["Type"] == "Number", name
        assert low <= parameter["MinValue"] <= parameter["Default"] <= parameter["MaxValue"], name
        assert parameter["MaxValue"] <= high, name
        assert parameter["Description"], name


def test_no_function_reserves_concurrency_unless_a_parameter_asks(template):
    """Lambda refuses a reservation that leaves the account under 100 unreserved: a default
    reservation could not deploy into a new account (whose quota may be 10)."""
    for name, function in _functions(template).items():
        reserved = function["Properties"].get("ReservedConcurrentExecutions")
        if name not in RESERVABLE:
            assert reserved is None, name
            continue
        parameter = RESERVABLE[name]
        condition, value, otherwise = reserved["Fn::If"]
        assert (value, otherwise) == ({"Ref": parameter}, {"Ref": "AWS::NoValue"})
        assert template["Conditions"][condition] == {
            "Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]
        }
        spec = template["Parameters"][parameter]
        assert spec["Default"] == ""
        pattern = re.compile(spec["AllowedPattern"])
        assert pattern.fullmatch("") and pattern.fullmatch("200")
        assert not pattern.fullmatch("0")  # a reservation of 0 would stop the function


@pytest.mark.parametrize(("value", "reserved"), [("", False), ("150", True)])
def test_a_reservation_parameter_turns_the_reservation_on_and_off(template, value, reserved):
    for parameter in RESERVABLE.values():
        resolver = Resolver(template, "stepwise", {}, {}, parameters={parameter: value})
        condition = next(
            c for c, e in template["Conditions"].items() if {"Ref": parameter} in _nested(e)
        )
        assert resolver.conditions[condition] is reserved


def _nested(value):
    """A template value and every value inside it."""
    yield value
    children = value.values() if isinstance(value, dict) else value
    if isinstance(value, dict | list):
        for child in children:
            yield from _nested(child)


def test_the_node_start_rate_lets_a_step_start_the_largest_workflow_in_half_its_timeout(
    template,
):
    spec = template["Parameters"]["NodeStartRate"]
    max_nodes = next(m.max_length for m in WorkflowCreate.model_fields["nodes"].metadata)
    engine = template["Resources"]["EngineFunction"]["Properties"]
    # Every node ready at once (a root per node) is started at the lowest rate allowed.
    assert max_nodes / spec["MinValue"] <= engine["Timeout"] / 2
    assert spec["MinValue"] <= spec["Default"] <= spec["MaxValue"]
    for function in ("EngineFunction", "JanitorFunction"):
        variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables["NODE_START_RATE"] == {"Ref": "NodeStartRate"}
