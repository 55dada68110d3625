"""How the bench bills an invocation and an Express execution: as AWS would run them, from what
was measured on the local stack (bench/aws_time.py), not from the local wall time."""

import json
from collections import Counter

import pytest

from bench import meter as meter_module
from bench.aws_time import (
    DESTINATION_SECONDS,
    OTHER_CALL_SECONDS,
    STATE_SECONDS,
    VCPU_MEMORY_MB,
    Invocation,
    call_seconds,
)
from bench.executions import express_seconds
from bench.meter import Meter, canonical
from stepwise_local import lambdas


def test_cpu_time_is_stretched_to_lambdas_share_of_a_vcpu_below_1769_mb():
    invocation = Invocation("f", cpu_seconds=0.1)
    assert invocation.billed_seconds(512) == pytest.approx(0.1 * VCPU_MEMORY_MB / 512)
    assert invocation.billed_seconds(VCPU_MEMORY_MB) == pytest.approx(0.1)
    assert invocation.billed_seconds(4096) == pytest.approx(0.1)  # never shrunk


def test_cpu_inside_aws_calls_is_the_emulators_and_is_replaced_by_each_calls_latency():
    invocation = Invocation(
        "f",
        cpu_seconds=0.5,
        aws_cpu_seconds=0.4,
        calls=Counter(
            {"dynamodb:GetItem": 2, "dynamodb:TransactWriteItems": 1, "sqs:SendMessage": 1}
        ),
    )
    calls = 2 * call_seconds("dynamodb", "GetItem") + call_seconds("dynamodb", "TransactWriteItems")
    calls += call_seconds("sqs", "SendMessage")
    assert invocation.billed_seconds(VCPU_MEMORY_MB) == pytest.approx(0.1 + calls)
    assert call_seconds("dynamodb", "TransactWriteItems") > call_seconds("dynamodb", "GetItem")
    assert call_seconds("sqs", "SendMessage") == OTHER_CALL_SECONDS


def test_a_destination_request_bills_the_destinations_time_and_a_nested_invocation_its_own():
    invocation = Invocation(
        "f", cpu_seconds=0.3, destination_requests=2, nested_seconds=0.25, nested_cpu_seconds=0.3
    )
    # The nested invocation's CPU was counted in this thread too: it is taken out once.
    assert invocation.billed_seconds(VCPU_MEMORY_MB) == pytest.approx(
        2 * DESTINATION_SECONDS + 0.25
    )


class FakeClock:
    """perf_counter and thread_time that advance only when the test says the code spent time."""

    def __init__(self):
        self.wall = 0.0
        self.cpu = 0.0

    def perf_counter(self):
        return self.wall

    def thread_time(self):
        return self.cpu

    def spend(self, cpu: float, wall: float | None = None):
        self.cpu += cpu
        self.wall += cpu if wall is None else wall


class FakeClient:
    class meta:  # botocore's shape
        class service_model:
            service_name = "sqs"


def test_the_meter_bills_the_handler_cpu_calls_and_destination_not_the_wall(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(meter_module, "time", clock)
    monkeypatch.setattr(lambdas, "memory_mb", lambda name: VCPU_MEMORY_MB)

    def emulated_call(client, operation, params):
        clock.spend(cpu=0.2, wall=0.5)  # moto's work, in the caller's thread
        return {"MessageId": "m"}

    def handler(name, event):
        clock.spend(cpu=0.03, wall=1.0)  # the handler's own code, slowed by other threads
        client = FakeClient()
        meter_module.BaseClient._make_api_call(client, "SendMessage", {"QueueUrl": "q"})
        meter_module.urllib3.HTTPConnectionPool.urlopen(object(), "POST", "/hook")
        return {"ok": True}

    # Stand-ins for moto, the destination and the local stack's invoke, patched before the
    # meter wraps them (and restored after it unwraps them).
    monkeypatch.setattr(meter_module.BaseClient, "_make_api_call", emulated_call)
    monkeypatch.setattr(
        meter_module.urllib3.HTTPConnectionPool,
        "urlopen",
        lambda pool, *a, **k: clock.spend(cpu=0.001, wall=0.3),
    )
    monkeypatch.setattr(lambdas, "invoke", handler)
    meter = Meter()
    with meter:
        lambdas.invoke("stepwise-local-DispatcherFunction", {"mode": "now", "attempt": 1})
    usage = meter.snapshot()
    expected = 0.031 + OTHER_CALL_SECONDS + DESTINATION_SECONDS
    name = "stepwise-local-DispatcherFunction"
    assert usage.lambda_billed_seconds[name] == pytest.approx(expected)
    assert usage.lambda_seconds[name] == pytest.approx(1.8)  # the wall time, kept apart
    assert usage.calls["sqs:SendMessage"] == 1
    # An Express task with the same function and input is priced at that invocation, once.
    event_json = json.dumps({"attempt": 1, "mode": "now"})
    assert meter.billed_seconds(name, event_json) == pytest.approx(expected)
    assert meter.billed_seconds(name, event_json) is None


def _event(kind, at, **details):
    return {"type": kind, "timestamp": f"2026-12-02T00:00:{at:06.3f}Z", **details}


def test_an_express_execution_is_billed_its_tasks_waits_and_states_not_its_wall():
    scheduled = {
        "resource": "arn:aws:lambda:us-east-1:123456789012:function:engine",
        "input": json.dumps({"step": "attempt", "n": 1}),
    }
    history = [
        _event("ExecutionStarted", 0),
        _event("TaskStateEntered", 0.1),
        _event("LambdaFunctionScheduled", 0.2, lambdaFunctionScheduledEventDetails=scheduled),
        _event("LambdaFunctionSucceeded", 3.2),  # 3 s here; billed 0.15 s
        _event("TaskStateExited", 3.3),
        _event("WaitStateEntered", 3.4),
        _event("WaitStateExited", 5.4),  # a 2 s backoff is billed as waited
        _event("TaskStateEntered", 5.5),
        _event(
            "TaskScheduled",
            5.6,
            taskScheduledEventDetails={
                "resourceType": "lambda",
                "parameters": json.dumps({"FunctionName": "arn:x:function:other", "Payload": {}}),
            },
        ),
        _event("TaskSucceeded", 6.6),  # no invocation seen: its wall time here
        _event("SucceedStateEntered", 7.0),
        _event("ExecutionSucceeded", 9.0),
    ]
    asked = []

    def priced(function, event_json):
        asked.append((function, canonical(json.loads(event_json))))
        return 0.15 if function == "engine" else None

    seconds = express_seconds(history, priced)
    assert seconds == pytest.approx(0.15 + 2.0 + 1.0 + 4 * STATE_SECONDS)
    assert asked == [("engine", canonical({"step": "attempt", "n": 1})), ("other", "{}")]
