"""Fixtures of the integration tests."""

import pytest

from stepwise.infra import executions
from stepwise.runs import lifecycle_events
from stepwise_local.receiver import Receiver


@pytest.fixture
def receiver():
    """A real webhook receiver on 127.0.0.1, for one test."""
    with Receiver() as running:
        yield running


@pytest.fixture
def resumed(monkeypatch):
    """Every resume of a waiting execution, as (token, reason), instead of a Step Functions
    call."""
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(executions, "resume_run", lambda t, r: calls.append((t, r)) or True)
    return calls


@pytest.fixture
def published(monkeypatch):
    """The lifecycle events the engine publishes (their detail), instead of EventBridge."""
    sent: list[dict] = []
    monkeypatch.setattr(
        "stepwise.engine.run_steps.lifecycle_events.publish",
        lambda bus_name, run: sent.append(lifecycle_events.detail(run)),
    )
    return sent
