"""The Hypothesis budget of the property tests whose examples are whole runs on moto: the CI count
by default, the full count only when STEPWISE_FULL_EXAMPLES=1 asks for it (docs/testing.md)."""

import pytest

from tests.helpers import FULL_EXAMPLES_VAR, examples


def test_the_ci_count_unless_the_full_count_is_asked_for(monkeypatch):
    monkeypatch.delenv(FULL_EXAMPLES_VAR, raising=False)
    assert examples(ci=15, full=40) == 15
    monkeypatch.setenv(FULL_EXAMPLES_VAR, "1")
    assert examples(ci=15, full=40) == 40


@pytest.mark.parametrize("value", ["", "0", "yes", "true"])
def test_only_1_asks_for_the_full_count(monkeypatch, value):
    monkeypatch.setenv(FULL_EXAMPLES_VAR, value)
    assert examples(ci=15, full=40) == 15
