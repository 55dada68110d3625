"""Fixtures of the integration tests."""

import pytest

from stepwise_local.receiver import Receiver


@pytest.fixture
def receiver():
    """A real webhook receiver on 127.0.0.1, for one test."""
    with Receiver() as running:
        yield running
