"""Shared fixtures: the local stack (template.yaml in moto) for integration and e2e tests."""

import logging

import pytest

from stepwise_local.stack import LocalStack

OTHER_ORG = "globex"
OTHER_KEY = "swk_test_globex_key"
QUIET = {"LogLevel": "WARNING"}  # the engine's INFO lines would drown pytest's report


@pytest.fixture
def stack():
    """A fresh stack per test whose state machines do not execute: tests drive engine steps."""
    with LocalStack(execute_state_machines=False, parameters=QUIET) as local:
        local.add_api_key(OTHER_ORG, OTHER_KEY)
        yield local


@pytest.fixture(autouse=True)
def _quiet_moto():
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
