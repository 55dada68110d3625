"""Every AWS call the suite's functions and state machines made is one their deployed role
allows (tests/conftest.py runs this test last, after everything it checks).

Run on its own (or after tests that ran no execution), it first makes a fresh recording: the
smoke checks (a diamond, a failing node, a cancel) against a local stack of its own. Under
``pytest -n`` it sees its own worker's calls only; the controller checks every worker's at the end
(tests/iam/recordings.py).
"""

from smoke import checks
from stepwise_local import call_log
from stepwise_local.stack import DEFAULT_API_KEY, DEFAULT_ORG, LocalStack
from tests.conftest import QUIET
from tests.iam import policies

STATE_MACHINES = {"NodeStateMachine"}


def fresh_recording() -> None:
    with LocalStack(parameters=QUIET) as stack:
        base_url = stack.serve_in_background()
        results = checks.run_all(base_url, DEFAULT_ORG, DEFAULT_API_KEY)
        assert all(r.passed for r in results), results
        assert stack.wait_idle(timeout=60)


def test_every_recorded_call_is_allowed_by_its_deployed_role(iam_report):
    if not STATE_MACHINES & {r.principal for r in call_log.LOG.snapshot()}:
        fresh_recording()
    requests = call_log.LOG.snapshot()
    by_principal = policies.roles()
    verdict = policies.evaluate(requests, by_principal)
    unused = policies.unused_grants(requests, by_principal)
    text = policies.report(verdict, unused, by_principal)
    iam_report.write_text(text)
    print(text)
    # Every principal that runs in the suite made calls: a hook that stopped recording one of
    # them (or a handler that stopped being attributed) would otherwise pass in silence.
    assert {r.principal for r in requests} >= STATE_MACHINES | {"ApiFunction", "EngineFunction"}
    assert not verdict.refused, text
