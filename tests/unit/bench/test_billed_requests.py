"""What the meter bills of EventBridge and SQS: custom events per PutEvents entry and 64 KB
chunk, and SQS requests to the queues template.yaml declares only (the local stack's own
lifecycle-events queue stands in for a consumer's rule: on AWS it is the consumer's bill)."""

import json

import pytest

from bench import meter as meter_module
from bench.billing import Bill, load_prices
from bench.meter import Meter, template_queues
from stepwise_local.lifecycle_events import QUEUE_NAME
from stepwise_local.template import ACCOUNT_ID, REGION

KB = 1024


def queue_url(name: str) -> str:
    return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"


def client_of(service: str):
    class Client:
        class meta:  # botocore's shape
            class service_model:
                service_name = service

    return Client()


def entry(detail_bytes: int) -> dict:
    """A PutEvents entry of exactly ``detail_bytes`` + 16 bytes, as EventBridge sizes it."""
    detail = json.dumps({"x": "a" * (detail_bytes - 9)})
    assert len(detail) == detail_bytes
    return {"Source": "stepwise", "DetailType": "Run Done", "Detail": detail}  # 8 + 8 bytes


@pytest.fixture
def answers(monkeypatch):
    """moto's stand-in, patched before the meter wraps it: ``answers[operation]`` is what a call
    of that operation gets back."""
    found: dict[str, dict] = {}
    monkeypatch.setattr(
        meter_module.BaseClient,
        "_make_api_call",
        lambda client, operation, params: found.get(operation, {}),
    )
    return found


def call(service: str, operation: str, **params) -> None:
    meter_module.BaseClient._make_api_call(client_of(service), operation, params)


def test_put_events_bills_each_entry_and_each_started_64_kb_of_it(answers):
    answers["PutEvents"] = {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}, {"EventId": "2"}]}
    with Meter() as meter:
        call("events", "PutEvents", Entries=[entry(200), entry(70 * KB)])
    usage = meter.snapshot()
    assert usage.events == 3  # 1 + 2: a 70 KB entry is two 64 KB chunks
    assert usage.calls["events:PutEvents"] == 1
    bill = Bill.of(usage, 0, api_requests=0)
    assert (bill.events, bill.events_put) == (3, 1)  # billed events, requests (the quota)
    assert bill.usd(load_prices())["eventbridge"] == pytest.approx(3 * 0.000001)


def test_an_entry_of_exactly_64_kb_is_one_event_and_one_byte_more_is_two(answers):
    answers["PutEvents"] = {"Entries": [{"EventId": "1"}, {"EventId": "2"}]}
    with Meter() as meter:
        call("events", "PutEvents", Entries=[entry(64 * KB - 16), entry(64 * KB - 15)])
    assert meter.snapshot().events == 3


def test_an_entry_eventbridge_refused_is_not_billed(answers):
    answers["PutEvents"] = {
        "FailedEntryCount": 1,
        "Entries": [{"EventId": "1"}, {"ErrorCode": "ThrottlingException", "ErrorMessage": "x"}],
    }
    with Meter() as meter:
        call("events", "PutEvents", Entries=[entry(100), entry(100)])
    assert meter.snapshot().events == 1


def test_an_sqs_request_is_billed_only_for_a_queue_of_the_template(answers):
    answers["ReceiveMessage"] = {"Messages": [{"MessageId": "m", "ReceiptHandle": "h"}]}
    with Meter() as meter:
        call("sqs", "SendMessage", QueueUrl=queue_url("stepwise-local-RunQueue"), MessageBody="{}")
        for operation in ("ReceiveMessage", "DeleteMessage"):
            call("sqs", operation, QueueUrl=queue_url(QUEUE_NAME), ReceiptHandle="h")
    usage = meter.snapshot()
    assert usage.sqs_requests == 1
    # Every call is still counted as made; only the RunQueue's is Stepwise's bill.
    assert usage.calls["sqs:ReceiveMessage"] == usage.calls["sqs:DeleteMessage"] == 1
    bill = Bill.of(usage, 0, api_requests=0)
    assert bill.sqs_requests == 1
    assert bill.usd(load_prices())["sqs"] == pytest.approx(0.0000004)


def test_a_receive_that_found_nothing_is_not_billed_one_that_did_is(answers):
    url = queue_url("stepwise-local-RunQueue")
    with Meter() as meter:
        call("sqs", "ReceiveMessage", QueueUrl=url)
        answers["ReceiveMessage"] = {"Messages": [{"MessageId": "m"}]}
        call("sqs", "ReceiveMessage", QueueUrl=url)
    assert meter.snapshot().sqs_requests == 1


def test_the_billed_queues_are_the_templates_as_the_stack_names_them(answers):
    mine = template_queues()
    assert {"stepwise-local-RunQueue", "stepwise-local-WebhookQueue"} <= mine
    assert QUEUE_NAME not in mine
    other = template_queues("other")
    assert {name.replace("stepwise-local-", "other-", 1) for name in mine} == other
    with Meter("other") as meter:
        call("sqs", "SendMessage", QueueUrl=queue_url("stepwise-local-RunQueue"))
        call("sqs", "SendMessage", QueueUrl=queue_url("other-RunQueue"))
    assert meter.snapshot().sqs_requests == 1


def test_eventbridge_is_priced_from_the_price_file_with_its_source():
    item = load_prices()["items"]["eventbridge_custom_event"]
    assert item["usd"] == 0.000001
    assert item["source"] == "https://aws.amazon.com/eventbridge/pricing/"
    assert "64 KB" in item["unit"]
    usd = Bill(events=1_000_000).usd(load_prices())
    assert usd["eventbridge"] == pytest.approx(1.0)
    assert usd["total"] == pytest.approx(1.0)
