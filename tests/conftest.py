"""Shared fixtures: the local stack (template.yaml in moto) for integration and e2e tests."""

import logging

import pytest

from stepwise_local.stack import LocalStack
from tests.iam.recordings import (
    pytest_configure,
    pytest_configure_node,
    pytest_sessionfinish,
    pytest_terminal_summary,
    run_dir,
    worker,
)

OTHER_ORG = "globex"
OTHER_KEY = "swk_test_globex_key"
# LogLevel: the engine's INFO lines would drown pytest's report. OrgRateLimit: tests call the API
# in tight loops from one org (the limit itself is tested in tests/integration/api/
# test_rate_limits.py); high, not off, so every request still goes through the limiter.
QUIET = {"LogLevel": "WARNING", "OrgRateLimit": "100000"}


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


# -- IAM proven from real calls (tests/iam) ------------------------------------------------------
# stepwise_local.call_log records every AWS call the functions and state machines make while the
# suite runs; tests/iam/test_recorded_calls.py checks them against the deployed roles. It runs
# last, so that it sees every call the session made; under xdist the controller checks the
# workers' recordings together (tests/iam/recordings.py, whose hooks the import above registers).
IAM_CHECK = "tests/iam/test_recorded_calls.py"


# Under xdist (`make test`: --dist loadfile --no-loadscope-reorder) the workers take whole files
# in collection order, each pulling the next when it runs short. The suites' files differ in cost
# by two orders of magnitude (an e2e file takes minutes, a unit file a second), so the costly
# ones go first and the cheap ones fill in at the end: in testpaths' order (unit first, e2e
# last) the last e2e files would run on one core while the other sat idle. Without xdist the
# order stays testpaths'.
COSTLIEST_FIRST = ("tests/e2e/", "tests/integration/", "tests/unit/")


def _cost_rank(item) -> int:
    path = item.nodeid
    if path.startswith(IAM_CHECK):
        return len(COSTLIEST_FIRST) + 1
    ranks = (rank for rank, suite in enumerate(COSTLIEST_FIRST) if path.startswith(suite))
    return next(ranks, len(COSTLIEST_FIRST))


def pytest_collection_modifyitems(config, items):
    if worker(config) is not None:
        items.sort(key=_cost_rank)  # stable: each file's tests keep their order
    last = [item for item in items if item.nodeid.startswith(IAM_CHECK)]
    if last:
        items[:] = [item for item in items if item not in last] + last


@pytest.fixture
def iam_report(request):
    """Where this process's IAM check writes its report: in the session's own directory."""
    name = (
        f"iam-report-{worker(request.config)}.txt" if worker(request.config) else "iam-report.txt"
    )
    return run_dir(request.config) / name


__all__ = [
    "pytest_configure",
    "pytest_configure_node",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
]
