"""template.yaml's alarms and dashboard: every dead-letter queue, function and state machine is
watched, every alarm can notify the topic, and the dashboard graphs the metrics the code emits
with the dimensions it emits them with."""

import json
import re
from typing import Any

import pytest

from stepwise.core.metrics import DIMENSIONS, Metric
from stepwise_local.template import load_template


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return load_template()["Resources"]


def of_type(resources: dict[str, Any], rtype: str) -> dict[str, dict]:
    return {lid: r for lid, r in resources.items() if r["Type"] == rtype}


def alarms(resources: dict[str, Any]) -> list[dict]:
    return [r["Properties"] for r in of_type(resources, "AWS::CloudWatch::Alarm").values()]


def _walk(value: Any, path: tuple[str, ...] = ()):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _walk(inner, (*path, key))
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner, path)
    else:
        yield path, value


def dead_letter_targets(resources: dict[str, Any]) -> set[str]:
    """Every queue something sends its failures to: a redrive policy's target, an async
    invocation's on-failure destination, or the queue Scheduler's schedules are given."""
    targets = set()
    for resource in resources.values():
        for path, value in _walk(resource.get("Properties", {})):
            failures = {"deadLetterTargetArn", "OnFailure"} & set(path) or any(
                p.endswith("DLQ_ARN") for p in path
            )
            queue = value in resources and resources[value]["Type"] == "AWS::SQS::Queue"
            if "Fn::GetAtt" in path and failures and queue:
                targets.add(value)
    return targets


def watched(resources, namespace: str, metric: str, dimension: str) -> dict[str, dict]:
    """The alarms on ``metric``, by the logical id their one dimension points at."""
    found: dict[str, dict] = {}
    for alarm in alarms(resources):
        if alarm.get("Namespace") == namespace and alarm.get("MetricName") == metric:
            [dim] = alarm["Dimensions"]
            assert dim["Name"] == dimension
            value = dim["Value"]
            target = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
            found[target] = alarm
    return found


def test_every_dead_letter_queue_has_an_alarm_that_fires_on_one_message(resources):
    targets = dead_letter_targets(resources)
    assert targets >= {
        "WebhookDeadLetterQueue",
        "SignalDeadLetterQueue",
        "BatchDeadLetterQueue",
        "ScheduleDeadLetterQueue",
    }
    found = watched(resources, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName")
    for queue in targets:
        alarm = found.get(queue)
        assert alarm is not None, f"{queue} is a dead-letter queue with no alarm"
        assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue, "QueueName"]}
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert alarm["Statistic"] == "Maximum"
        # SQS stops publishing for an idle queue: missing data must not clear the alarm.
        assert alarm["TreatMissingData"] == "ignore"


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_errors_and_a_throttles_alarm(resources, metric):
    functions = set(of_type(resources, "AWS::Serverless::Function"))
    found = watched(resources, "AWS/Lambda", metric, "FunctionName")
    assert functions and functions <= set(found), functions - set(found)
    assert {"EngineFunction", "DispatcherFunction"} <= set(found)
    for alarm in found.values():
        assert alarm["TreatMissingData"] == "notBreaching"  # no invocations, no errors


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut"])
def test_every_state_machine_has_failed_and_timed_out_alarms(resources, metric):
    machines = set(of_type(resources, "AWS::Serverless::StateMachine"))
    found = watched(resources, "AWS/States", metric, "StateMachineArn")
    assert machines and machines <= set(found), machines - set(found)
    for alarm in found.values():
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_the_http_api_has_a_5xx_alarm(resources):
    assert set(watched(resources, "AWS/ApiGateway", "5xx", "ApiId")) == {"HttpApi"}


def test_every_alarm_notifies_the_topic_only_when_one_is_given(resources):
    notify = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    names = [alarm["AlarmName"]["Fn::Sub"] for alarm in alarms(resources)]
    assert len(names) == len(set(names))
    for alarm in alarms(resources):
        assert alarm["AlarmActions"] == notify and alarm["OKActions"] == notify
        assert alarm["Period"] * alarm["EvaluationPeriods"] <= 3600  # pages within the hour
        assert "docs/operations.md#alarms" in alarm["AlarmDescription"]


def _dashboard(resources) -> dict:
    [dashboard] = of_type(resources, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    names = set(re.findall(r"\$\{([A-Za-z0-9:.]+)\}", body))
    for name in names:
        target = name.split(".")[0]
        assert target in resources or name in ("AWS::Region", "MetricsNamespace"), name
    return json.loads(re.sub(r"\$\{[A-Za-z0-9:.]+\}", "X", body))


def _graphed(dashboard: dict) -> tuple[set[tuple[str, frozenset[str]]], set[str]]:
    """(our metric, its dimension names) pairs the dashboard graphs, and AWS metrics' targets."""
    ours, targets = set(), set()
    for widget in dashboard["widgets"]:
        for line in widget["properties"]["metrics"]:
            first = line[0]
            if isinstance(first, dict):
                found = re.match(
                    r"SEARCH\('\{X,([^}]*)\} MetricName=\"(\w+)\"", first["expression"]
                )
                assert found, first
                ours.add((found[2], frozenset(found[1].split(","))))
            elif first == "X":
                names = [p for p in line[2:] if isinstance(p, str)][0::2]
                ours.add((line[1], frozenset(names)))
            else:
                targets.add(line[1])
    return ours, targets


def test_the_dashboard_graphs_every_metric_the_code_emits_as_it_emits_it(resources):
    ours, aws = _graphed(_dashboard(resources))
    declared = {(str(m), frozenset({*DIMENSIONS[m], "service"})) for m in Metric}
    assert ours <= declared, ours - declared  # nothing graphed that the code never emits
    assert {name for name, _ in ours} == {str(m) for m in Metric}
    assert {"ApproximateNumberOfMessagesVisible", "Errors", "Throttles", "Duration"} <= aws
    assert {"ExecutionsFailed", "ExecutionsTimedOut", "4xx", "5xx", "Latency"} <= aws


def test_the_dashboard_reads_the_namespace_and_service_the_functions_write():
    template = load_template()
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}
    [dashboard] = of_type(template["Resources"], "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    graphed = json.loads(re.sub(r"\$\{[A-Za-z0-9:.]+\}", "X", body))
    services = {
        line[line.index("service") + 1]
        for widget in graphed["widgets"]
        for line in widget["properties"]["metrics"]
        if "service" in line
    }
    assert services == {env["POWERTOOLS_SERVICE_NAME"]}
    assert body.count("${MetricsNamespace}") >= len(Metric)
