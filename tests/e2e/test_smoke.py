"""``make smoke``'s checks pass against the local stack (CI runs them here; an operator runs them
against a deployed stack), and a check that breaks is reported as failed, not passed."""

from smoke import checks
from stepwise_local.stack import DEFAULT_API_KEY, DEFAULT_ORG


def test_every_smoke_check_passes_on_the_local_stack(local_stack):
    results = checks.run_all(local_stack.base_url, DEFAULT_ORG, DEFAULT_API_KEY)
    assert [(r.name, r.passed) for r in results] == [
        ("diamond", True),
        ("failing node", True),
        ("cancel", True),
        ("wrong key", True),
    ], results


def test_a_smoke_check_that_fails_is_reported_failed(local_stack):
    results = checks.run_all(local_stack.base_url, DEFAULT_ORG, "swk_wrong_key_for_all")
    assert [r.passed for r in results] == [False, False, False, True]
    assert "401" in results[1].detail
