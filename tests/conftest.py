"""Shared fixtures: the local stack (template.yaml in moto) for integration and e2e tests."""

import logging

import pytest

from stepwise_local.stack import LocalStack

OTHER_ORG = "globex"
OTHER_KEY = "swk_test_globex_key"
QUIET = {"LogLevel": "WARNING"}  # the engine's INFO lines would drown pytest's report


def fresh(local: LocalStack) -> LocalStack:
    """The state every test of ``stack`` starts from: as provisioned, with the two orgs' keys."""
    local.reset()
    local.add_api_key(OTHER_ORG, OTHER_KEY)
    return local


@pytest.fixture(scope="module")
def module_local_stack():
    """One provisioned stack per test module, whose state machines do not execute: provisioning
    all of template.yaml costs far more than a reset. Per module, not per session, so that a
    module that starts a stack of its own (bench's, an executing one) never meets this one: two
    stacks cannot share moto in one process."""
    with LocalStack(execute_state_machines=False, parameters=QUIET) as local:
        yield local


@pytest.fixture
def stack(module_local_stack):
    """The module's stack, reset before each test to the state a new one would have (see
    tests/integration/stack/test_stack_reset.py): tests drive engine steps, and see nothing an
    earlier test left."""
    return fresh(module_local_stack)


@pytest.fixture(autouse=True)
def _quiet_moto():
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
