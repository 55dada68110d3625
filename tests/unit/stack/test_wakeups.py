"""Idle queue pollers sleep until a message can be received (stepwise_local/wakeups.py): a send
wakes them at once, a delayed or in-flight message at the moment it becomes receivable."""

import threading
import time

import boto3
import pytest
from moto import mock_aws

from stepwise_local import wakeups
from stepwise_local.template import ACCOUNT_ID, REGION


@pytest.fixture
def sqs(monkeypatch):
    monkeypatch.setattr(wakeups, "IDLE_SECONDS", 30.0)  # nothing here may end by the safety net
    with mock_aws():
        wakeups.install()
        try:
            client = boto3.client("sqs", region_name=REGION)
            yield client, client.create_queue(QueueName="q")["QueueUrl"]
        finally:
            wakeups.uninstall()


def _sleep_in_thread(name, seen, stop):
    slept = {}

    def run():
        started = time.monotonic()
        wakeups.sleep(name, seen, stop)
        slept["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()
    return thread, slept


def test_a_send_wakes_a_sleeping_poller_at_once(sqs):
    client, url = sqs
    name = wakeups.queue_name(url)
    assert name == "q" and url.endswith(f"/{ACCOUNT_ID}/q")
    thread, slept = _sleep_in_thread(name, wakeups.version(name), threading.Event())
    time.sleep(0.2)
    assert thread.is_alive()  # an empty queue: it sleeps
    client.send_message(QueueUrl=url, MessageBody="{}")
    thread.join(timeout=10)
    assert not thread.is_alive() and slept["seconds"] < 10


def test_a_message_sent_before_the_sleep_began_is_not_missed(sqs):
    client, url = sqs
    name = wakeups.queue_name(url)
    seen = wakeups.version(name)  # read before the receive, as the poller does
    client.send_message(QueueUrl=url, MessageBody="{}")  # lands between receive and sleep
    started = time.monotonic()
    wakeups.sleep(name, seen, threading.Event())
    assert time.monotonic() - started < 1


def test_a_delayed_message_wakes_the_poller_when_it_becomes_receivable(sqs):
    client, url = sqs
    name = wakeups.queue_name(url)
    client.send_message(QueueUrl=url, MessageBody="{}", DelaySeconds=1)
    assert 0.5 < wakeups.receivable_in(name) <= 1.01
    assert client.receive_message(QueueUrl=url).get("Messages") is None  # not yet
    started = time.monotonic()
    wakeups.sleep(name, wakeups.version(name), threading.Event())
    assert 0.5 < time.monotonic() - started < 5  # at its moment, not after IDLE_SECONDS
    assert len(client.receive_message(QueueUrl=url)["Messages"]) == 1


def test_an_in_flight_message_wakes_the_poller_when_its_visibility_ends(sqs):
    client, url = sqs
    name = wakeups.queue_name(url)
    client.send_message(QueueUrl=url, MessageBody="{}")
    [message] = client.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"]
    assert 0.5 < wakeups.receivable_in(name) <= 1.01
    seen = wakeups.version(name)
    client.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    assert wakeups.version(name) != seen  # made visible at once: a wake-up


def test_stopping_wakes_a_sleeping_poller(sqs):
    _, url = sqs
    name = wakeups.queue_name(url)
    stop = threading.Event()
    thread, _ = _sleep_in_thread(name, wakeups.version(name), stop)
    stop.set()
    wakeups.notify(name)
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_uninstall_gives_moto_its_own_methods_back(sqs):
    from moto.sqs.models import Queue, SQSBackend

    wakeups.uninstall()
    assert not wakeups.installed()
    assert Queue.add_message is wakeups._original_add
    assert SQSBackend.change_message_visibility is wakeups._original_visibility
    wakeups.install()
