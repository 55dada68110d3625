"""One step runs at most so many nodes inline, and only until its time is up."""

from types import SimpleNamespace

import pytest

from stepwise.engine import advance
from stepwise.engine.advance import Advance, InlineBudget


@pytest.fixture
def clock(monkeypatch):
    """A monotonic clock the test moves by hand."""
    now = SimpleNamespace(value=100.0)
    monkeypatch.setattr(advance.time, "monotonic", lambda: now.value)
    return now


def test_the_budget_stops_at_its_limit(clock):
    budget = InlineBudget(2)
    assert [budget.take() for _ in range(3)] == [True, True, False]
    assert budget.left == 0


def test_the_budget_stops_when_its_time_is_up_without_spending_a_node(clock):
    budget = InlineBudget(5, seconds=20)
    clock.value = 120.0
    assert budget.take() is True
    clock.value = 120.5
    assert budget.take() is False
    assert budget.left == 4


def test_a_zero_limit_runs_nothing_inline(clock):
    assert InlineBudget(0).take() is False


def test_the_engine_limit_is_read_when_a_step_starts():
    deps = SimpleNamespace(store=SimpleNamespace(table="table", payloads=None))
    steps = Advance(deps, inline_limit=5)
    steps.inline_limit = 1  # as tests and callers set it after the engine is built
    budget = steps.budget()
    assert [budget.take(), budget.take()] == [True, False]
