"""Writes that DynamoDB cancels for contention are sent again with jittered backoff; writes
that fail on a condition or a validation are not. A stub client stands in for DynamoDB, which
moto never makes contend."""

import pytest
from botocore.exceptions import ClientError

from stepwise.infra import aws, dynamo


def cancelled(*reasons: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": r} for r in reasons],
        },
        "TransactWriteItems",
    )


def conflict() -> ClientError:
    error = {"Code": "TransactionConflictException", "Message": "in a transaction"}
    return ClientError({"Error": error}, "UpdateItem")


class StubDynamo:
    """Fails each call with the next scripted error, then answers."""

    def __init__(self, *errors: ClientError):
        self.errors = list(errors)
        self.calls = 0

    def _answer(self, **request):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"Attributes": {}}

    transact_write_items = update_item = put_item = _answer


@pytest.fixture
def stub(monkeypatch):
    """Installs a stub client; the sleeps between tries are recorded, not slept."""
    waits: list[float] = []
    monkeypatch.setattr(dynamo.time, "sleep", waits.append)

    def install(*errors: ClientError) -> StubDynamo:
        client = StubDynamo(*errors)
        monkeypatch.setattr(aws, "client", lambda service: client)
        return client

    install.waits = waits
    return install


def test_a_transaction_cancelled_by_a_conflict_is_sent_again_until_it_commits(stub):
    client = stub(cancelled("None", "TransactionConflict"), cancelled("ThrottlingError"))
    assert dynamo.transact([{"Put": {}}]) is True
    assert client.calls == 3
    ceilings = [dynamo.CONTENTION_BASE_SECONDS * 2**n for n in range(2)]
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(stub.waits, ceilings, strict=True))


def test_a_condition_that_fails_is_not_retried_even_beside_a_conflict(stub):
    client = stub(cancelled("ConditionalCheckFailed", "TransactionConflict"))
    assert dynamo.transact([{"Update": {}}]) is False  # the condition's answer, at once
    assert client.calls == 1 and stub.waits == []


def test_a_validation_error_is_raised_at_once(stub):
    client = stub(cancelled("ValidationError"))
    with pytest.raises(ClientError):
        dynamo.write_all([{"Put": {}}])
    assert client.calls == 1


def test_an_update_on_an_item_held_by_a_transaction_is_retried(stub):
    client = stub(conflict(), conflict())
    assert dynamo.update_item("t", {"PK": "p", "SK": "s"}, "SET a = :a", {":a": 1}) == {}
    assert client.calls == 3


def test_contention_that_outlasts_every_attempt_is_raised(stub):
    client = stub(*[cancelled("TransactionConflict")] * dynamo.CONTENTION_ATTEMPTS)
    with pytest.raises(ClientError) as raised:
        dynamo.write_all([{"Put": {}}])
    assert dynamo.contended(raised.value)
    assert client.calls == dynamo.CONTENTION_ATTEMPTS
    assert max(stub.waits) <= dynamo.CONTENTION_CAP_SECONDS
