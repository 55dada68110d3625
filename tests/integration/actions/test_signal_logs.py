"""Issue 14 row 4: a signal URL's token authorises a callback on its own and lives in the URL's
path, so no log line may hold one. Every line the API function (as Lambda runs it) and the local
stack (as `make run` serves it, uvicorn at INFO) write for signal callbacks, accepted, forged,
garbled or misrouted, is captured here and searched for the token."""

import json
import logging

import httpx
import pytest

from stepwise_local.events import http_event
from tests.integration.actions.test_signals import (  # the fixture, for these tests too
    acked_attempt,
    resumed,  # noqa: F401
)

pytestmark = pytest.mark.attack  # issue 14: make audit runs it

# The service's, the Lambda adapter's and the local server's; the root logger at INFO (what a
# function whose log level is INFO lets through).
LOGGERS = ("stepwise", "mangum", "mangum.http", "uvicorn", "uvicorn.access", "uvicorn.error")


@pytest.fixture
def every_log_line(caplog):
    """Every record of every logger that may write for a request, at DEBUG (the most a
    deployment can log), whether or not it propagates to the root logger."""
    root = logging.getLogger()
    levels = {"": root.level}
    root.setLevel(logging.INFO)
    for name in LOGGERS:
        log = logging.getLogger(name)
        levels[name] = log.level
        log.setLevel(logging.DEBUG)
        log.addHandler(caplog.handler)
    yield caplog
    root.setLevel(levels[""])
    for name in LOGGERS:
        log = logging.getLogger(name)
        log.setLevel(levels[name])
        log.removeHandler(caplog.handler)


def _lines(caplog, capfd) -> list[str]:
    captured = capfd.readouterr()
    records = [
        f"{r.name}: " + r.getMessage() + json.dumps(r.__dict__, default=str)
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore"))  # this test's own client
    ]
    return [*records, *captured.out.splitlines(), *captured.err.splitlines()]


def _callbacks(token: str) -> list[tuple[str, str]]:
    """(method, path) of the callbacks sent with a token: accepted, repeated, altered, garbled
    (422 on the path's pattern), with a query string, and on a method the route does not take."""
    return [
        ("POST", f"/v1/signals/{token}"),
        ("POST", f"/v1/signals/{token}"),
        ("POST", f"/v1/signals/{token[:-2]}xx"),
        ("POST", f"/v1/signals/{token}!~"),
        ("POST", f"/v1/signals/{token}?token={token}"),
        ("GET", f"/v1/signals/{token}"),
    ]


def _assert_no_token(lines: list[str], token: str) -> None:
    assert len(lines) >= 6, lines  # the callbacks were logged
    # The token, or any long piece of it (an altered copy shares all but its end).
    pieces = {token, token[:-2], token[: len(token) // 2], token[len(token) // 2 :]}
    leaks = [line for line in lines if any(piece in line for piece in pieces)]
    assert not leaks, leaks[:3]


@pytest.mark.usefixtures("resumed")
def test_the_api_function_logs_no_signal_token(stack, receiver, every_log_line, capfd):
    _, token = acked_attempt(stack, receiver)
    capfd.readouterr()
    every_log_line.clear()
    body = {"signal": "success", "result": {"ok": True}}
    statuses = []
    for method, path in _callbacks(token):
        raw_path, _, query = path.partition("?")
        event = http_event(method, raw_path, body, None, query)
        statuses.append(stack.invoke("ApiFunction", event)["statusCode"])
    stack.drain("SignalsFunction")  # the queued signal, as the signals function applies it
    assert statuses[:4] == [202, 200, 401, 422], statuses
    _assert_no_token(_lines(every_log_line, capfd), token)


@pytest.mark.usefixtures("resumed")
def test_the_served_local_stack_logs_no_signal_token(stack, receiver, every_log_line, capfd):
    _, token = acked_attempt(stack, receiver)
    url = stack.serve_in_background(log_level="info")  # as `make run` serves it
    try:
        capfd.readouterr()
        every_log_line.clear()
        statuses = []
        with httpx.Client(base_url=url, timeout=30) as client:
            for method, path in _callbacks(token):
                body = {"signal": "heartbeat"} if method == "POST" else None
                statuses.append(client.request(method, path, json=body).status_code)
        stack.drain("SignalsFunction")
    finally:
        stack.stop_server()
    assert statuses[2:4] == [401, 422], statuses
    _assert_no_token(_lines(every_log_line, capfd), token)
