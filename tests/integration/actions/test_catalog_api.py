"""Credentials and destinations over the API: secrets go in and never come back out."""

import json
import logging

import boto3
import pytest
from standardwebhooks.webhooks import Webhook

from stepwise import components
from stepwise.actions.webhooks.signing import signature_headers
from stepwise.core.clock import now
from tests.conftest import OTHER_KEY
from tests.helpers import http_event

BASE = "/v1/orgs/acme"


def call(stack, method, path, body=None, key="swk_local_dev_key", query=""):
    response = stack.invoke("ApiFunction", http_event(method, path, body, key, query))
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None


@pytest.fixture
def service_logs(caplog):
    """Every line the service's own logger writes, at DEBUG (it does not propagate to root)."""
    service = logging.getLogger("stepwise")
    level = service.level
    service.addHandler(caplog.handler)
    service.setLevel(logging.DEBUG)
    yield caplog
    service.removeHandler(caplog.handler)
    service.setLevel(level)


def test_a_credential_value_is_stored_in_secrets_manager_and_never_returned(stack, service_logs):
    body = {"name": "crm", "type": "bearer", "token": "tok-very-secret-123"}
    status, created = call(stack, "POST", f"{BASE}/credentials", body)
    assert status == 201
    credential = created["data"]
    assert credential["type"] == "bearer" and "token" not in json.dumps(created)
    status, read = call(stack, "GET", f"{BASE}/credentials/{credential['id']}")
    assert status == 200 and "tok-very-secret-123" not in json.dumps(read)
    _, listed = call(stack, "GET", f"{BASE}/credentials")
    assert [c["id"] for c in listed["data"]] == [credential["id"]]
    item = components.catalog().get_credential("acme", credential["id"])
    stored = boto3.client("secretsmanager").get_secret_value(SecretId=item["secret_arn"])
    assert json.loads(stored["SecretString"]) == {"token": "tok-very-secret-123"}
    assert "tok-very-secret-123" not in json.dumps(item, default=str)
    logged = json.dumps([vars(r) for r in service_logs.records], default=str)
    assert service_logs.records and "tok-very-secret-123" not in logged

    status, _ = call(stack, "DELETE", f"{BASE}/credentials/{credential['id']}")
    assert status == 204
    _, read = call(stack, "GET", f"{BASE}/credentials/{credential['id']}")
    assert read["data"]["deleted_at"] is not None
    described = boto3.client("secretsmanager").describe_secret(SecretId=item["secret_arn"])
    assert "DeletedDate" in described


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "x", "type": "bearer"}, "needs token"),
        ({"name": "x", "type": "basic", "username": "u"}, "needs password"),
        (
            {
                "name": "x",
                "type": "header",
                "header_name": "X-Key",
                "header_value": "v",
                "token": "t",
            },
            "does not take token",
        ),
        ({"name": "x", "type": "oauth", "token": "t"}, "bearer"),
    ],
)
def test_a_credential_with_the_wrong_fields_is_a_422(stack, body, fragment):
    status, payload = call(stack, "POST", f"{BASE}/credentials", body)
    assert status == 422 and fragment in json.dumps(payload)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "bearer", "token": "tok-secret\n"}, "token"),
        (
            {"type": "header", "header_name": "X-Key", "header_value": "v\r\nX-Evil: 1"},
            "header_value",
        ),
        ({"type": "basic", "username": "a:b", "password": "p"}, "username"),
        ({"type": "basic", "username": "a", "password": "tok-secret\x00"}, "password"),
        # Beyond Latin-1: http.client (and urllib3's basic auth) cannot encode it, so every
        # delivery raised instead of failing its attempt.
        ({"type": "bearer", "token": "tok-secret\u20ac"}, "token"),
        ({"type": "basic", "username": "a", "password": "tok-secret\u0416"}, "password"),
        (
            {"type": "header", "header_name": "X-Key", "header_value": "tok-secret\u2028"},
            "header_value",
        ),
    ],
)
@pytest.mark.attack
def test_a_credential_value_with_control_characters_is_a_422_that_does_not_echo_it(
    stack, fields, field
):
    status, payload = call(stack, "POST", f"{BASE}/credentials", {"name": "x", **fields})
    assert status == 422 and ["body", field] in [e["loc"] for e in payload["detail"]], payload
    assert "tok-secret" not in json.dumps(payload) and "X-Evil" not in json.dumps(payload)


def destination(**fields):
    return {"label": "crm hook", "url": "https://hooks.example.com/stepwise", **fields}


def test_a_destination_shows_its_signing_secret_once_and_signs_with_it(stack):
    status, created = call(
        stack,
        "POST",
        f"{BASE}/destinations",
        destination(
            signaling={"enabled": True, "default": "ack"},
            response_time_sla_ms=2000,
            tags={"team": "crm"},
        ),
    )
    assert status == 201
    data = created["data"]
    secret = data["signing_secret"]
    assert secret.startswith("whsec_")
    assert data["config"]["signaling"] == {"enabled": True, "default": "ack"}
    assert data["config"]["response_time_sla_ms"] == 2000 and data["tags"] == {"team": "crm"}
    _, read = call(stack, "GET", f"{BASE}/destinations/{data['id']}")
    assert "signing_secret" not in read["data"] and secret not in json.dumps(read)
    catalog = components.catalog()
    item = catalog.get_destination("acme", data["id"])
    assert catalog.signing_secrets(item) == [secret]


def test_rotation_signs_with_both_secrets_during_the_grace_period(stack):
    _, created = call(stack, "POST", f"{BASE}/destinations", destination())
    old = created["data"]["signing_secret"]
    status, rotated = call(
        stack,
        "POST",
        f"{BASE}/destinations/{created['data']['id']}/rotate-secret",
        {"grace_period_seconds": 3600},
    )
    assert status == 200
    new = rotated["data"]["signing_secret"]
    catalog = components.catalog()
    signing = catalog.signing_secrets(catalog.get_destination("acme", created["data"]["id"]))
    assert signing == [new, old]
    headers = signature_headers("msg_1", now(), "{}", signing)
    assert Webhook(old).verify("{}", headers) == {} and Webhook(new).verify("{}", headers) == {}
    call(
        stack,
        "POST",
        f"{BASE}/destinations/{created['data']['id']}/rotate-secret",
        {"grace_period_seconds": 0},
    )
    assert len(catalog.signing_secrets(catalog.get_destination("acme", created["data"]["id"]))) == 1


def _rotate(stack, destination_id, grace):
    status, rotated = call(
        stack,
        "POST",
        f"{BASE}/destinations/{destination_id}/rotate-secret",
        {"grace_period_seconds": grace},
    )
    assert status == 200, rotated
    return rotated["data"]["signing_secret"]


@pytest.mark.attack
def test_rotation_never_reads_the_secret_back_and_a_second_rotation_drops_the_oldest(stack):
    """Issue 14 row 8: the API's rotation only writes (the IAM check refuses a read); the old
    secret is Secrets Manager's AWSPREVIOUS version, which only the dispatcher reads."""
    _, created = call(stack, "POST", f"{BASE}/destinations", destination())
    destination_id = created["data"]["id"]
    first = created["data"]["signing_secret"]
    second = _rotate(stack, destination_id, 3600)
    catalog = components.catalog()
    item = catalog.get_destination("acme", destination_id)
    stored = catalog.vault.read(item["secret_arn"])
    assert first not in json.dumps(stored)  # not copied: kept by the version history
    assert catalog.signing_secrets(item) == [second, first]
    third = _rotate(stack, destination_id, 3600)
    assert catalog.signing_secrets(item) == [third, second]


def test_a_secret_rotated_before_rotation_became_write_only_keeps_its_previous(stack):
    _, created = call(stack, "POST", f"{BASE}/destinations", destination())
    catalog = components.catalog()
    item = catalog.get_destination("acme", created["data"]["id"])
    legacy = {"current": "whsec_new", "previous": "whsec_old", "previous_until": "2999-01-01T00"}
    catalog.vault.replace(item["secret_arn"], legacy)
    assert catalog.signing_secrets(item) == ["whsec_new", "whsec_old"]
    catalog.vault.replace(item["secret_arn"], {**legacy, "previous_until": "2000-01-01T00"})
    assert catalog.signing_secrets(item) == ["whsec_new"]


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"headers": {"X-Team": "a\r\nX-Injected: 1"}}, ["body", "headers", "X-Team"]),
        ({"headers": {"X-Team": "a\x00"}}, ["body", "headers", "X-Team"]),
        ({"tags": {"": "v"}}, ["body", "tags", "", "[key]"]),
        ({"tags": {"team\x0e": "v"}}, ["body", "tags", "team\x0e", "[key]"]),
        ({"tags": {"team": "a\nb"}}, ["body", "tags", "team"]),
    ],
)
def test_header_values_and_tags_refuse_control_characters(stack, fields, loc):
    """A CR or LF in a header value would let a caller add headers to every delivery; tags
    follow AWS's tag rules. Found by the OpenAPI contract test (an empty tag key)."""
    status, payload = call(stack, "POST", f"{BASE}/destinations", destination(**fields))
    assert status == 422 and payload["detail"][0]["loc"] == loc


def test_tags_and_header_values_within_the_rules_are_kept(stack):
    fields = {"headers": {"X-Team": "a\tb c"}, "tags": {"team": "web ops", "env/name": "p@1"}}
    status, payload = call(stack, "POST", f"{BASE}/destinations", destination(**fields))
    assert status == 201
    assert payload["data"]["config"]["headers"] == {"X-Team": "a\tb c"}
    assert payload["data"]["tags"] == {"team": "web ops", "env/name": "p@1"}


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/hook",
        "http://[fd00::1]/x",
        "http://100.64.0.9/",
    ],
)
def test_non_public_destination_urls_are_refused_at_save_time(stack, url):
    status, payload = call(stack, "POST", f"{BASE}/destinations", destination(url=url))
    assert status == 422
    assert payload["detail"][0]["loc"] == ["body", "url"] and "SSRF" in payload["detail"][0]["msg"]


def test_loopback_is_allowed_only_where_the_operator_allows_it(stack, monkeypatch):
    status, _ = call(
        stack, "POST", f"{BASE}/destinations", destination(url="http://127.0.0.1:8080/x")
    )
    assert status == 201  # the local stack allows loopback
    monkeypatch.setenv("ALLOW_LOOPBACK_DESTINATIONS", "false")
    from stepwise.core import settings

    settings.clear()
    components.clear()
    for url in ("http://127.0.0.1:8080/x", "http://[::1]/x", "http://localhost:9/x"):
        status, _ = call(stack, "POST", f"{BASE}/destinations", destination(url=url))
        assert status == 422, url


def test_update_soft_delete_and_an_unknown_credential(stack):
    status, payload = call(
        stack, "POST", f"{BASE}/destinations", destination(credential_id="cred_missing")
    )
    assert status == 422 and payload["detail"][0]["loc"] == ["body", "credential_id"]
    _, cred = call(
        stack,
        "POST",
        f"{BASE}/credentials",
        {"name": "k", "type": "header", "header_name": "X-Key", "header_value": "v"},
    )
    _, created = call(
        stack, "POST", f"{BASE}/destinations", destination(credential_id=cred["data"]["id"])
    )
    dest_id = created["data"]["id"]
    status, patched = call(
        stack,
        "PATCH",
        f"{BASE}/destinations/{dest_id}",
        {"label": "renamed", "headers": {"X-Team": "crm"}},
    )
    assert status == 200
    assert patched["data"]["label"] == "renamed" and patched["data"]["config"]["headers"] == {
        "X-Team": "crm"
    }
    assert patched["data"]["config"]["url"] == "https://hooks.example.com/stepwise"
    status, deleted = call(stack, "DELETE", f"{BASE}/destinations/{dest_id}")
    assert status == 200 and deleted["data"]["deleted_at"]
    status, _ = call(stack, "PATCH", f"{BASE}/destinations/{dest_id}", {"label": "again"})
    assert status == 404
    _, listed = call(stack, "GET", f"{BASE}/destinations")
    assert dest_id not in [d["id"] for d in listed["data"]]
    _, everything = call(stack, "GET", f"{BASE}/destinations", query="include_deleted=true")
    assert dest_id in [d["id"] for d in everything["data"]]


def test_another_orgs_key_sees_none_of_it(stack):
    _, cred = call(
        stack, "POST", f"{BASE}/credentials", {"name": "k", "type": "bearer", "token": "t"}
    )
    _, dest = call(stack, "POST", f"{BASE}/destinations", destination())
    for path in (
        f"{BASE}/credentials/{cred['data']['id']}",
        f"{BASE}/destinations/{dest['data']['id']}",
    ):
        assert call(stack, "GET", path, key=OTHER_KEY)[0] == 404
        foreign = path.replace("/acme/", "/globex/")
        assert call(stack, "GET", foreign, key=OTHER_KEY)[0] == 404
    assert (
        call(stack, "DELETE", f"{BASE}/credentials/{cred['data']['id']}", key=OTHER_KEY)[0] == 404
    )
