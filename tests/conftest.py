"""Shared fixtures: the local stack (template.yaml in moto) for integration and e2e tests."""

import logging

import pytest

from stepwise_local.stack import LocalStack

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
# last, so that it sees every call the session made.
IAM_CHECK = "tests/iam/test_recorded_calls.py"


def pytest_collection_modifyitems(config, items):
    last = [item for item in items if item.nodeid.startswith(IAM_CHECK)]
    if last:
        items[:] = [item for item in items if item not in last] + last


def _worker(config) -> str | None:
    return getattr(config, "workerinput", {}).get("workerid")


def pytest_sessionstart(session):
    if _worker(session.config) is None:  # a new session: earlier workers' recordings are stale
        from tests.iam.policies import report_dir

        for stale in report_dir().glob("calls-*.jsonl"):
            stale.unlink()


def pytest_sessionfinish(session, exitstatus):
    """Each process (an xdist worker, or the only one) writes what it recorded; with xdist the
    controller checks the union, since the IAM test itself sees only its own worker's calls."""
    from stepwise_local import call_log
    from tests.iam import policies

    worker = _worker(session.config)
    if call_log.LOG.requests:
        call_log.LOG.write(policies.report_dir() / f"calls-{worker or 'main'}.jsonl")
    if worker is None and session.config.getoption("dist", "no") != "no":
        recorded = [
            r for f in policies.report_dir().glob("calls-gw*.jsonl") for r in call_log.read(f)
        ]
        if recorded:
            by_principal = policies.roles()
            verdict = policies.evaluate(set(recorded), by_principal)
            text = policies.report(
                verdict, policies.unused_grants(recorded, by_principal), by_principal
            )
            (policies.report_dir() / "iam-report.txt").write_text(text)
            if verdict.refused:
                session.config._stepwise_iam_refused = text
                session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from stepwise_local import call_log
    from tests.iam import policies

    refused = getattr(config, "_stepwise_iam_refused", None)
    if refused:
        terminalreporter.section("IAM: calls the deployed roles would refuse")
        terminalreporter.write(refused)
    if _worker(config) is None and config.getoption("dist", "no") != "no":
        terminalreporter.write_line(
            f"IAM: the workers' recordings were checked together; report in {policies.report_dir()}"
        )
    elif call_log.LOG.requests:
        terminalreporter.write_line(
            f"IAM: {len(call_log.LOG.requests)} distinct calls recorded; report and recordings "
            f"in {policies.report_dir()}"
        )
