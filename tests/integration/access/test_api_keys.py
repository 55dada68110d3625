"""API keys through the API handler: shown once, stored hashed, scoped, revocable, per org."""

import json

import boto3
import pytest

from stepwise import components
from tests.conftest import OTHER_KEY, OTHER_ORG
from tests.helpers import DEFAULT_KEY, http_event

BASE = "/v1/orgs/acme"


def call(stack, method, path, body=None, key=DEFAULT_KEY):
    response = stack.invoke("ApiFunction", http_event(method, path, body, key))
    return response["statusCode"], json.loads(response["body"] or "null")


def new_key(stack, *scopes, name="k"):
    status, payload = call(stack, "POST", f"{BASE}/keys", {"name": name, "scopes": list(scopes)})
    assert status == 201, payload
    return payload["data"]


def test_a_key_is_shown_once_and_stored_only_as_its_hash(stack):
    created = new_key(stack, "read", name="dashboard")
    assert created["key"].startswith("swk_") and created["scopes"] == ["read"]
    assert created["created_by"] == "key:local"
    status, listed = call(stack, "GET", f"{BASE}/keys")
    assert status == 200
    shown = {k["id"]: k for k in listed["data"]}
    assert "key" not in shown[created["id"]] and shown[created["id"]]["name"] == "dashboard"
    table = components.api_keys().table
    everything = json.dumps(boto3.client("dynamodb").scan(TableName=table)["Items"])
    assert created["key"] not in everything


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"authorization": f"Bearer {DEFAULT_KEY}"}, 200),
        ({"authorization": f"bearer  {DEFAULT_KEY} "}, 200),
        ({"x-api-key": DEFAULT_KEY}, 200),
        ({"authorization": "Basic dXNlcjpwYXNz", "x-api-key": DEFAULT_KEY}, 200),
        ({"authorization": f"Bearer {OTHER_KEY}", "x-api-key": DEFAULT_KEY}, 404),
        ({"authorization": "Bearer swk_nobody"}, 401),
        ({"authorization": "Bearer "}, 401),
        ({}, 401),
    ],
    ids=[
        "bearer",
        "bearer-spaces",
        "x-api-key",
        "basic-then-x-api-key",
        "bearer-first",
        "unknown",
        "empty",
        "none",
    ],
)
def test_the_key_comes_from_a_bearer_token_or_x_api_key(stack, headers, status):
    event = http_event("GET", f"{BASE}/runs", key=None)
    event["headers"].update(headers)
    assert stack.invoke("ApiFunction", event)["statusCode"] == status


def test_a_read_key_reads_and_cannot_write(stack):
    reader = new_key(stack, "read")["key"]
    assert call(stack, "GET", f"{BASE}/runs", key=reader)[0] == 200
    status, payload = call(
        stack, "POST", f"{BASE}/workflows", {"name": "w", "nodes": []}, key=reader
    )
    assert status == 403
    assert "do not include write" in payload["errors"][0]["message"]
    assert (
        call(stack, "POST", f"{BASE}/keys", {"name": "x", "scopes": ["admin"]}, key=reader)[0]
        == 403
    )


def test_a_write_key_writes_and_cannot_manage_keys(stack):
    writer = new_key(stack, "write")["key"]
    body = {"name": "w", "nodes": [{"ref": "a", "kind": "transform", "args": 1}]}
    assert call(stack, "POST", f"{BASE}/workflows", body, key=writer)[0] == 201
    assert call(stack, "GET", f"{BASE}/keys", key=writer)[0] == 403


def test_a_revoked_key_is_refused_at_once(stack):
    created = new_key(stack, "write")
    assert call(stack, "GET", f"{BASE}/runs", key=created["key"])[0] == 200
    status, payload = call(stack, "DELETE", f"{BASE}/keys/{created['id']}")
    assert status == 200 and payload["data"]["revoked_at"]
    status, payload = call(stack, "GET", f"{BASE}/runs", key=created["key"])
    assert status == 401 and "revoked" in payload["errors"][0]["message"]
    assert call(stack, "DELETE", f"{BASE}/keys/{created['id']}")[0] == 200  # idempotent
    assert call(stack, "DELETE", f"{BASE}/keys/key_missing")[0] == 404


def test_another_orgs_admin_key_cannot_see_or_revoke_this_orgs_keys(stack):
    created = new_key(stack, "read")
    assert call(stack, "GET", f"{BASE}/keys", key=OTHER_KEY)[0] == 404
    assert call(stack, "DELETE", f"{BASE}/keys/{created['id']}", key=OTHER_KEY)[0] == 404
    other_base = f"/v1/orgs/{OTHER_ORG}"
    assert call(stack, "DELETE", f"{other_base}/keys/{created['id']}", key=OTHER_KEY)[0] == 404
    assert call(stack, "GET", f"{BASE}/runs", key=created["key"])[0] == 200


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["root"]},
        {"name": "", "scopes": ["read"]},
        {"name": "x", "scopes": ["read"], "extra": 1},
    ],
)
def test_bad_key_requests_are_422(stack, body):
    status, payload = call(stack, "POST", f"{BASE}/keys", body)
    assert status == 422 and payload["detail"]
