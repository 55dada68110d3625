"""Throttling is retried past botocore's own attempts and its retry quota, with full jitter,
for every client the code makes: a throttled StartExecution is sent again and the node starts;
DynamoDB writes under injected throttling and conflicts all land."""

import contextlib
import types

import botocore.endpoint
import pytest
from botocore.exceptions import ClientError
from botocore.retries import quota

from stepwise import components
from stepwise.infra import aws, dynamo, executions
from stepwise_local import faults


@pytest.fixture
def waits(monkeypatch):
    """The waits between attempts, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


class Scripted(faults.FaultInjector):
    """Answers the first ``times`` requests for ``operation`` with ``code``, as Step Functions
    does when its API is throttled; ``attempts`` counts the requests that reached it."""

    def __init__(self, operation: str, times: int, code: str, status: int):
        super().__init__(faults.FaultSpec())
        self.operation, self.times, self.code, self.status = operation, times, code, status
        self.attempts = 0

    def request_fault(self, service, operation, body):
        if operation != self.operation:
            return None
        self.attempts += 1
        if self.attempts > self.times:
            return None
        return faults._error_response(service, "json", self.status, self.code, "Rate exceeded")


@contextlib.contextmanager
def throttle_first(operation: str, times: int, code: str = "ThrottlingException", status=400):
    with faults.injecting(Scripted(operation, times, code, status)) as scripted:
        yield scripted


def node_machine(stack) -> str:
    return stack.stack.names["NodeStateMachine"]


def started(stack, run_id: str, ref: str) -> bool:
    return executions.describe_node(node_machine(stack), run_id, ref) is not None


def test_a_throttled_start_execution_is_retried_until_the_node_starts(stack, waits):
    with throttle_first("StartExecution", 9) as scripted:
        executions.start_node(node_machine(stack), "acme", "run_1", "a")
    assert started(stack, "run_1", "a")
    assert scripted.attempts == 10 == aws.THROTTLE_ATTEMPTS
    # Full jitter: each wait anywhere from 0 to its ceiling (botocore's 1, 2, 4 s, then ours).
    ceilings = [1, 2, 4] + [aws.THROTTLE_CAP_SECONDS] * 6
    assert all(0 <= w <= c for w, c in zip(waits, ceilings, strict=True))


def test_throttling_that_outlasts_every_attempt_is_raised_not_swallowed(stack, waits):
    with throttle_first("StartExecution", 100) as scripted, pytest.raises(ClientError) as raised:
        executions.start_node(node_machine(stack), "acme", "run_2", "a")
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert scripted.attempts == aws.THROTTLE_ATTEMPTS and not started(stack, "run_2", "a")


def test_an_error_that_is_not_throttling_keeps_botocores_attempts(stack, waits):
    """A 500 is retried by botocore (transient), and only by botocore."""
    failing = throttle_first("StartExecution", 100, "InternalFailure", 500)
    with failing as scripted, pytest.raises(ClientError):
        executions.start_node(node_machine(stack), "acme", "run_3", "a")
    assert scripted.attempts == aws.STANDARD_RETRIES + 1


def test_throttling_is_retried_after_botocores_retry_quota_is_spent(stack, waits, monkeypatch):
    """botocore stops retrying once its quota (500, 5 a throttled retry) is spent, as a burst
    spends it; the throttle retry does not depend on it."""
    refused: list[int] = []
    acquire = quota.RetryQuota.acquire

    def spy(self, amount):
        granted = acquire(self, amount)
        refused.extend([] if granted else [amount])
        return granted

    monkeypatch.setattr(quota.RetryQuota, "acquire", spy)
    client = aws.client("stepfunctions")
    with throttle_first("ListStateMachines", 10_000) as spent:
        for _ in range(40):  # each spends botocore's three retries and never succeeds
            with pytest.raises(ClientError) as raised:
                client.list_state_machines()
    # botocore ran out of quota on the way (100 throttled retries' worth), and yet every call
    # was attempted THROTTLE_ATTEMPTS times.
    assert refused and raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert spent.attempts == 40 * aws.THROTTLE_ATTEMPTS
    with throttle_first("StartExecution", 5) as scripted:
        executions.start_node(node_machine(stack), "acme", "run_4", "a")
    assert started(stack, "run_4", "a") and scripted.attempts == 6


@pytest.mark.parametrize("spec", ["throttle=0.5,seed=2", "transaction_conflict=0.5,seed=4"])
def test_writes_under_injected_faults_all_land_once(stack, waits, monkeypatch, spec):
    monkeypatch.setattr(dynamo.time, "sleep", waits.append)
    table = components.store().table
    with faults.injecting(faults.parse(spec)) as injector:
        for n in range(40):
            item = {"PK": f"T#{n}", "SK": "X", "n": n}
            dynamo.write_all([dynamo.put_new_item(table, item)])
            dynamo.put_new(table, {"PK": f"P#{n}", "SK": "X", "n": n})
    assert sum(injector.counts()["injected"].values()) > 10
    for prefix in ("T", "P"):
        found = dynamo.batch_get(table, [{"PK": f"{prefix}#{n}", "SK": "X"} for n in range(40)])
        assert sorted(item["n"] for item in found) == list(range(40))
