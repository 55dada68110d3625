"""How an attempt ends, decided against a fake of the data access: retry and when, or fail for
good, and what the run's log says. No moto: the transitions are recorded, not written."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from stepwise.engine.address import NodeAddress
from stepwise.engine.attempts import Attempts
from stepwise.engine.executors import NodeFailure
from stepwise.engine.shared import EngineDeps
from stepwise.runs.records import NodeRecord
from stepwise.workflows.models import NodeSpec


class FakeNodes:
    """The node transitions an attempt's end makes; ``wins`` is what each conditional write
    answers (False: another step got there first, as on a replay)."""

    def __init__(self, wins: bool = True):
        self.calls: list[tuple] = []
        self.wins = wins

    def get_item(self, org_id, run_id, ref, index):
        return NodeRecord(ref, "running", index=index)  # no redrive: attempts count from 1

    def schedule_retry(
        self, org_id, run_id, ref, attempt, error, available_at, index=None, opening=False
    ):
        self.calls.append(("schedule_retry", ref, attempt, error, available_at, index))
        return self.wins

    def settle_node(
        self,
        org_id,
        run_id,
        ref,
        attempt,
        status,
        output=None,
        error=None,
        index=None,
        opening=False,
    ):
        self.calls.append(("settle_node", ref, attempt, str(status), output, error, index))
        return self.wins


class FakeLogs:
    def __init__(self):
        self.lines: list[tuple[str, str]] = []

    def write(self, org_id, run_id, level, message, ref, source):
        self.lines.append((str(level), message))


def attempts(wins: bool = True) -> tuple[Attempts, FakeNodes, FakeLogs]:
    nodes, logs = FakeNodes(wins), FakeLogs()
    # The node as read on a failure: no redrive, so its attempts count from 1.
    runs = SimpleNamespace(get_node=lambda org_id, run_id, ref: NodeRecord(ref, "running"))
    store = SimpleNamespace(nodes=nodes, runs=runs)
    deps = EngineDeps(store, None, "node-arn", "run-arn", logs=logs)
    return Attempts(deps, advance=None), nodes, logs


def spec(**retry) -> NodeSpec:
    return NodeSpec(ref="x", kind="transform", retry=retry)


def at(attempt: int, index: int | None = None) -> NodeAddress:
    return NodeAddress("acme", "run_1", "x", attempt, index)


def test_a_retryable_failure_schedules_the_next_attempt_after_the_backoff():
    ends, nodes, logs = attempts()
    policy = spec(max_attempts=3, initial_interval=2, backoff_coefficient=3)
    before = datetime.now(UTC)
    outcome = ends.failed(at(2), policy, NodeFailure("Busy", "later"))
    assert outcome == {"next": "again", "attempt": 3, "wait_seconds": 6}
    [(name, ref, attempt, error, available_at, index)] = nodes.calls
    assert (name, ref, attempt, error, index) == (
        "schedule_retry",
        "x",
        2,
        {"type": "Busy", "message": "later"},
        None,
    )
    waited = datetime.fromisoformat(available_at) - before
    assert timedelta(seconds=5) < waited < timedelta(seconds=8)
    assert logs.lines == [
        ("warning", f"x: attempt 2 failed (Busy: later); attempt 3 at {available_at}")
    ]


@pytest.mark.parametrize(
    ("interval", "retry_after", "waits"),
    [(1, 30, 30), (60, 5, 60)],
    ids=["Retry-After stretches the backoff", "but never shortens it"],
)
def test_a_destinations_retry_after_stretches_the_backoff_only(interval, retry_after, waits):
    ends, _, _ = attempts()
    policy = spec(max_attempts=2, initial_interval=interval)
    outcome = ends.failed(at(1), policy, NodeFailure("Busy", ""), min_wait=retry_after)
    assert outcome["wait_seconds"] == waits


@pytest.mark.parametrize(
    ("failure", "attempt"),
    [
        (NodeFailure("Fatal", "no"), 1),  # listed as non-retryable
        (NodeFailure("Busy", "no", retryable=False), 1),  # the failure says so itself
        (NodeFailure("Busy", "no"), 3),  # the last attempt
    ],
    ids=["non-retryable type", "non-retryable failure", "attempts used up"],
)
def test_a_failure_that_cannot_be_retried_fails_the_node_for_good(failure, attempt):
    ends, nodes, logs = attempts()
    policy = spec(max_attempts=3, non_retryable_errors=["Fatal"])
    assert ends.failed(at(attempt, index=4), policy, failure) is None
    error = {"type": failure.type, "message": "no"}
    assert nodes.calls == [("settle_node", "x", attempt, "failed", None, error, 4)]
    message = f"x[4]: attempt {attempt} failed for good ({failure.type}: no)"
    assert logs.lines == [("error", message)]


def test_a_replayed_end_whose_transition_lost_logs_nothing():
    ends, nodes, logs = attempts(wins=False)
    assert ends.failed(at(1), spec(max_attempts=1), NodeFailure("Busy", "no")) is None
    outcome = ends.failed(at(1), spec(max_attempts=2), NodeFailure("Busy", "no"))
    assert outcome["next"] == "again"  # the step still waits as the first run decided
    assert [c[0] for c in nodes.calls] == ["settle_node", "schedule_retry"]
    assert logs.lines == []


def test_retry_until_false_on_the_last_attempt_fails_without_another_try():
    ends, nodes, _ = attempts()
    policy = NodeSpec(
        ref="x",
        kind="transform",
        args={"ready": False},
        retry={"max_attempts": 2, "retry_until": "{{ result.ready }}"},
    )
    assert ends.try_once(at(1), policy, {"input": None, "nodes": {}})["next"] == "again"
    assert ends.try_once(at(2), policy, {"input": None, "nodes": {}}) is None
    error = nodes.calls[-1][5]
    assert error["type"] == "RetryUntilExhausted"
