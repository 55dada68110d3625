"""Webhook signing, the SSRF guard and reading a destination's answer."""

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from stepwise.actions.webhooks.responses import Signal, read_response, retry_after_seconds
from stepwise.actions.webhooks.signing import new_signing_secret, signature_headers
from stepwise.actions.webhooks.ssrf import DestinationRefused, check_url, refusal


def test_a_signed_request_verifies_with_the_standard_library_and_fails_when_altered():
    secret = new_signing_secret()
    body = '{"type":"action.attempt","data":{"n":1}}'
    headers = signature_headers("msg_1", datetime.now(UTC), body, [secret])
    assert Webhook(secret).verify(body, headers) == {"type": "action.attempt", "data": {"n": 1}}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("1", "2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_signing_secret()).verify(body, headers)


def test_during_rotation_either_secret_verifies():
    old, new = new_signing_secret(), new_signing_secret()
    body = "{}"
    headers = signature_headers("msg_2", datetime.now(UTC), body, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) == {} and Webhook(new).verify(body, headers) == {}


def test_secrets_are_prefixed_and_unique():
    first, second = new_signing_secret(), new_signing_secret()
    assert first.startswith("whsec_") and first != second


@pytest.mark.parametrize(
    ("address", "fragment"),
    [
        ("169.254.169.254", "link-local"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.1.1", "carrier-grade NAT"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("0.0.0.0", "unicast"),  # noqa: S104 (an address under test, not a bind)
        ("224.0.0.1", "unicast"),
        # 6to4 carries an IPv4 address in bits 16-48: 2002:0a00:0001:: is 10.0.0.1
        ("2002:a00:1::1", "private"),
        ("2002:a9fe:a9fe::1", "link-local"),
        ("fec0::1", ""),
        ("192.0.0.8", ""),
        ("192.0.0.170", ""),
        # refused under one reason or another, by Python release: any reason will do
        ("2001:0:4136:e378::1", ""),  # Teredo
        ("64:ff9b:1::a00:1", ""),
    ],
)
@pytest.mark.attack
def test_non_public_addresses_are_refused(address, fragment):
    reason = refusal(address)
    assert reason is not None and fragment in reason


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "2002:5db8:d822::1"],  # 6to4 public
)
def test_public_addresses_pass(address):
    assert refusal(address) is None


def test_loopback_passes_only_when_allowed():
    assert refusal("127.0.0.1", allow_loopback=True) is None
    assert refusal("::ffff:127.0.0.1", allow_loopback=True) is None
    assert refusal("10.0.0.1", allow_loopback=True) is not None


@pytest.mark.parametrize("port", [80, 443, 1024, 8443, 65535])
def test_web_and_unprivileged_ports_pass(port):
    checked = check_url(
        f"http://ok.example:{port}/", resolve=fake_dns({"ok.example": ["93.184.216.34"]})
    )
    assert checked.port == port


def fake_dns(table):
    return lambda host, port: table[host]


@pytest.mark.attack
def test_every_resolved_address_is_checked():
    dns = fake_dns(
        {"mixed.example": ["93.184.216.34", "10.1.2.3"], "ok.example": ["93.184.216.34"]}
    )
    with pytest.raises(DestinationRefused, match=r"10\.1\.2\.3"):
        check_url("https://mixed.example/hook", resolve=dns)
    checked = check_url("https://ok.example:8443/hook", resolve=dns)
    assert (checked.host, checked.port, checked.addresses) == (
        "ok.example",
        8443,
        ("93.184.216.34",),
    )


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://ok.example/x", "only http and https"),
        ("https://user:pw@ok.example/", "credentials"),
        ("https:///path", "no host"),
        ("http://ok.example:99999/", "port"),
        ("http://nowhere.example/", "does not resolve"),
        ("http://ok.example:25/", "port 25 is refused"),
        ("https://ok.example:22/", "port 22 is refused"),
    ],
)
@pytest.mark.attack
def test_malformed_or_unresolvable_urls_are_refused(url, fragment):
    def dns(host, port):
        if host == "nowhere.example":
            raise OSError("Name or service not known")
        return ["93.184.216.34"]

    with pytest.raises(DestinationRefused, match=fragment):
        check_url(url, resolve=dns)


def test_a_2xx_without_signaling_is_the_result():
    outcome = read_response(200, {}, b'{"ok": true}')
    assert (outcome.kind, outcome.result) == (Signal.SUCCESS, {"ok": True})
    assert read_response(204, {}, b"").result is None


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (404, False), (408, True), (429, True), (500, True), (503, True)],
)
def test_error_statuses_are_permanent_except_408_429_and_5xx(status, retryable):
    outcome = read_response(status, {}, b"nope")
    assert outcome.kind == Signal.FAILURE and outcome.retryable is retryable
    assert outcome.error_type == f"HTTP{status}"


def test_retry_after_is_honoured_as_seconds_or_a_date():
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    assert read_response(503, {"Retry-After": "7"}, b"").retry_after == 7
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds(later, now) == 30
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:00 GMT", now) == 0
    assert retry_after_seconds("999999999", now) == 24 * 3600
    assert retry_after_seconds("soon", now) is None
    assert read_response(404, {"Retry-After": "7"}, b"").retry_after is None


def test_with_signaling_the_body_or_the_default_decides():
    assert read_response(202, {}, b"", signaling_default=Signal.ACK).kind == Signal.ACK
    success = read_response(200, {}, b'{"signal": "success", "result": {"id": 3}}', Signal.ACK)
    assert (success.kind, success.result) == (Signal.SUCCESS, {"id": 3})
    failure = read_response(200, {}, b'{"signal": "failure", "error": "no stock"}', Signal.ACK)
    assert (failure.kind, failure.message, failure.retryable) == (Signal.FAILURE, "no stock", False)
    weird = read_response(200, {}, b'{"signal": "maybe"}', Signal.ACK)
    assert weird.error_type == "InvalidSignal"
    assert read_response(500, {}, b"", Signal.ACK).retryable is True
