"""STEPWISE_FAULTS: shares per kind and a seed; anything else is an error naming the key."""

import pytest

from stepwise_local.faults import FaultInjector, FaultsError, FaultSpec, parse


def test_a_full_spec_reads_every_kind_and_the_seed():
    spec = parse(" transaction_conflict=0.1, throttle=0.05 ,lambda_error=0.02,lambda_lost=0,seed=7")
    assert spec == FaultSpec(transaction_conflict=0.1, throttle=0.05, lambda_error=0.02, seed=7)
    assert spec.active()


@pytest.mark.parametrize("text", [None, "", " , ", "seed=3", "throttle=0"])
def test_nothing_to_inject_is_inactive(text):
    assert not parse(text).active()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("throtle=0.1", "'throtle'"),
        ("throttle=0.1,lambda_errors=1", "'lambda_errors'"),
        ("throttle=1.5", "throttle"),
        ("throttle=-0.1", "throttle"),
        ("transaction_conflict=nan", "transaction_conflict"),
        ("lambda_error=often", "lambda_error"),
        ("throttle", "throttle"),
        ("throttle=", "throttle"),
        ("seed=1.5", "seed"),
        ("throttle=0.1,throttle=0.2", "throttle"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_key(text, named):
    with pytest.raises(FaultsError) as raised:
        parse(text)
    assert "STEPWISE_FAULTS" in str(raised.value) and named in str(raised.value)


def draws(seed: int) -> list[object]:
    injector = FaultInjector(FaultSpec(throttle=0.3, lambda_error=0.3, seed=seed))
    return [
        (injector.request_fault("sfn", "StartExecution", b"{}"), injector.lambda_fault("engine"))
        for _ in range(50)
    ]


def test_a_seed_draws_the_same_faults_every_time():
    def shape(seq):  # responses carry fresh request ids: compare what failed, and how
        return [(r[0] if r else None, f) for r, f in seq]

    assert shape(draws(5)) == shape(draws(5))
    assert shape(draws(5)) != shape(draws(6))


def test_shares_are_honoured_and_counted():
    injector = FaultInjector(FaultSpec(throttle=0.25, seed=1))
    failed = sum(
        injector.request_fault("sqs", "SendMessage", b"{}") is not None for _ in range(4000)
    )
    counts = injector.counts()
    assert 850 < failed < 1150  # 1000 expected; 5 standard deviations is about 137
    assert counts["injected"] == {
        "transaction_conflict": 0,
        "throttle": failed,
        "lambda_error": 0,
        "lambda_lost": 0,
        "express_replay": 0,
    }
    assert counts["by_operation"]["throttle"] == {"sqs.SendMessage": failed}
    assert counts["considered"]["throttle"] == 4000


def test_lambda_invocations_by_step_functions_are_not_throttled_as_requests():
    """Step Functions names a Lambda service error Lambda.*; that is ``lambda_error``'s job."""
    injector = FaultInjector(FaultSpec(throttle=1.0, lambda_error=1.0))
    assert injector.request_fault("lambda", "Invoke", b"{}") is None
    assert injector.lambda_fault("engine")[0] in {
        "Lambda.ServiceException",
        "Lambda.TooManyRequestsException",
    }
