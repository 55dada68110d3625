"""SQS SendMessageBatch and EventBridge PutEvents answer 200 and report the entries they did
not take: those refused for throttling or an internal error are sent again (only they, so no
message is queued twice); those refused for the sender's fault fail at once."""

import pytest

from stepwise.infra import aws, event_bus, queues


class StubSqs:
    """Answers each SendMessageBatch with the next scripted failures (by entry position)."""

    def __init__(self, *failures: list[tuple[int, bool]]):
        self.failures, self.sent = list(failures), []

    def send_message_batch(self, QueueUrl, Entries):
        self.sent.append([e["MessageBody"] for e in Entries])
        failing = self.failures.pop(0) if self.failures else []
        return {
            "Successful": [],
            "Failed": [
                {"Id": Entries[i]["Id"], "SenderFault": sender, "Code": "InternalError"}
                for i, sender in failing
            ],
        }


class StubEvents:
    def __init__(self, *codes: str | None):
        self.codes, self.calls = list(codes), 0

    def put_events(self, Entries):
        self.calls += 1
        code = self.codes.pop(0) if self.codes else None
        if code is None:
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]}
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": code, "ErrorMessage": "no"}]}


@pytest.fixture
def waits(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(queues.time, "sleep", slept.append)
    monkeypatch.setattr(event_bus.time, "sleep", slept.append)
    return slept


def test_entries_sqs_did_not_take_are_sent_again_alone(monkeypatch, waits):
    sqs = StubSqs([(1, False), (3, False)], [(0, False)])
    monkeypatch.setattr(aws, "client", lambda service: sqs)
    queues.send_all("q", [{"n": n} for n in range(4)])
    assert sqs.sent == [
        ['{"n": 0}', '{"n": 1}', '{"n": 2}', '{"n": 3}'],
        ['{"n": 1}', '{"n": 3}'],
        ['{"n": 1}'],
    ]
    assert len(waits) == 2 and all(0 <= w <= queues.SEND_CAP_SECONDS for w in waits)


def test_an_entry_refused_for_the_senders_fault_fails_at_once(monkeypatch, waits):
    sqs = StubSqs([(0, True)])
    monkeypatch.setattr(aws, "client", lambda service: sqs)
    with pytest.raises(queues.SendFailed):
        queues.send_all("q", [{"n": 0}, {"n": 1}])
    assert len(sqs.sent) == 1 and waits == []


def test_entries_refused_every_time_fail_after_the_last_attempt(monkeypatch, waits):
    sqs = StubSqs(*([(0, False)],) * 20)
    monkeypatch.setattr(aws, "client", lambda service: sqs)
    with pytest.raises(queues.SendFailed):
        queues.send_all("q", [{"n": 0}])
    assert len(sqs.sent) == queues.SEND_ATTEMPTS


@pytest.mark.parametrize("code", ["ThrottlingException", "InternalFailure"])
def test_an_event_refused_for_throttling_or_an_internal_failure_is_put_again(
    monkeypatch, waits, code
):
    events = StubEvents(code, code)
    monkeypatch.setattr(aws, "client", lambda service: events)
    event_bus.put("bus", "stepwise", "Run Succeeded", {"run_id": "r"})
    assert events.calls == 3 and len(waits) == 2


def test_an_event_refused_for_another_reason_fails_at_once(monkeypatch, waits):
    events = StubEvents("MalformedDetail")
    monkeypatch.setattr(aws, "client", lambda service: events)
    with pytest.raises(event_bus.PutFailed):
        event_bus.put("bus", "stepwise", "Run Succeeded", {"run_id": "r"})
    assert events.calls == 1 and waits == []
