"""Queue pollers wake when a message can be received, instead of polling an empty queue.

The pollers that stand for Lambda's event source mappings polled every queue each 50 ms while it
was empty: in a 100-node fan-out, 1,865 of the stack's 2,326 AWS calls were such empty
receives, each a whole botocore request through moto, competing with the work for the GIL.
Lambda long-polls instead. Here a poller whose receive came back empty sleeps until one of:

- a message is added to its queue (moto's ``Queue.add_message``: sends, batches, DLQ moves) or
  a message's visibility is changed: woken at once;
- the moment the queue's next delayed or in-flight message becomes receivable (a failed
  message's visibility timeout, a ``DelaySeconds`` timer): woken then, to the millisecond;
- at most ``IDLE_SECONDS`` in any case, so nothing is missed that these do not cover.

Each queue has a version that every wake-up moves on; a poller reads it before its receive, and
sleeps only while it has not moved, so a message sent between the receive and the sleep wakes it.
"""

import threading
from collections import Counter
from typing import Any

from moto.core.utils import unix_time_millis
from moto.sqs.models import Queue, SQSBackend, sqs_backends

from stepwise_local.template import ACCOUNT_ID, REGION

IDLE_SECONDS = 1.0
_condition = threading.Condition()
_versions: Counter[str] = Counter()
_installed = False
_original_add = Queue.__dict__["add_message"]
_original_visibility = SQSBackend.__dict__["change_message_visibility"]


def queue_name(queue_url: str) -> str:
    return queue_url.rstrip("/").rsplit("/", 1)[-1]


def installed() -> bool:
    return _installed


def version(name: str) -> int:
    with _condition:
        return _versions[name]


def notify(name: str) -> None:
    """Wakes whatever sleeps on queue ``name``."""
    with _condition:
        _versions[name] += 1
        _condition.notify_all()


def receivable_in(name: str) -> float | None:
    """Seconds until the queue's next delayed or in-flight message can be received, or None
    when it holds none that cannot be received yet."""
    try:
        queue = sqs_backends[ACCOUNT_ID][REGION].get_queue(name)
    except Exception:  # noqa: BLE001 a queue deleted meanwhile holds nothing
        return None
    now = unix_time_millis()
    moments = [
        moment
        for m in list(queue._messages)
        if (moment := max(m.visible_at, m.delayed_until)) >= now
    ]
    if not moments:
        return None
    return (min(moments) - now) / 1000 + 0.002  # moto receives strictly after the moment


def sleep(name: str, seen: int, stop: threading.Event) -> None:
    """Until queue ``name`` moves past version ``seen``, one of its messages can be received,
    ``stop`` is set, or ``IDLE_SECONDS`` pass."""
    timeout = IDLE_SECONDS
    upcoming = receivable_in(name)
    if upcoming is not None:
        timeout = min(timeout, upcoming)
    with _condition:
        _condition.wait_for(lambda: _versions[name] != seen or stop.is_set(), timeout=timeout)


def _add_message(self: Queue, message: Any) -> None:
    _original_add(self, message)
    notify(self.name)


def _change_message_visibility(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any):
    answer = _original_visibility(self, queue_name, *args, **kwargs)
    notify(queue_name)
    return answer


def install() -> None:
    global _installed
    Queue.add_message = _add_message
    SQSBackend.change_message_visibility = _change_message_visibility
    _installed = True


def uninstall() -> None:
    global _installed
    Queue.add_message = _original_add
    SQSBackend.change_message_visibility = _original_visibility
    _installed = False
    with _condition:
        _versions.clear()
        _condition.notify_all()
