"""Action definitions: immutable versions, aliases, JSON Schema, destinations with a default."""

import json

import pytest

from stepwise import components
from stepwise.actions.definitions import InputRejected, check_input
from tests.conftest import OTHER_KEY
from tests.helpers import http_event

BASE = "/v1/orgs/acme"
SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": "string", "format": "email"},
        "plan": {"enum": ["free", "pro"]},
    },
    "required": ["email"],
}


def call(stack, method, path, body=None, key="swk_local_dev_key", query=""):
    response = stack.invoke("ApiFunction", http_event(method, path, body, key, query))
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def destination_ids(stack):
    ids = []
    for label in ("primary", "backup"):
        status, created = call(
            stack,
            "POST",
            f"{BASE}/destinations",
            {"label": label, "url": f"https://{label}.example.com/x"},
        )
        assert status == 201
        ids.append(created["data"]["id"])
    return ids


def definition(destination_ids, **fields):
    return {
        "name": "send-welcome",
        "variant": "email",
        "schema": SCHEMA,
        "destinations": [{"destination_id": d} for d in destination_ids],
        **fields,
    }


def test_versions_aliases_and_the_seed_shape(stack, destination_ids):
    status, first = call(
        stack, "POST", f"{BASE}/actions/definitions", definition(destination_ids, aliases=["prod"])
    )
    assert status == 201
    v1 = first["data"]
    assert (v1["version"], v1["alias"], v1["variant"]) == (1, ["latest", "prod"], "email")
    assert v1["schema"] == SCHEMA
    links = v1["destinations"]
    assert [(link["destination_id"], link["is_default"]) for link in links] == [
        (destination_ids[0], True),
        (destination_ids[1], False),
    ]
    assert links[0]["destination"]["config"]["url"] == "https://primary.example.com/x"
    assert links[0]["action_definition_id"] == v1["id"]

    body = definition(destination_ids[1:], schema=None)
    status, second = call(stack, "POST", f"{BASE}/actions/definitions", body)
    assert status == 201 and second["data"]["version"] == 2 and second["data"]["id"] == v1["id"]
    assert second["data"]["alias"] == ["latest"]
    _, prod = call(stack, "GET", f"{BASE}/actions/definitions/send-welcome", query="alias=prod")
    assert prod["data"]["version"] == 1 and prod["data"]["schema"] == SCHEMA
    status, moved = call(
        stack, "PUT", f"{BASE}/actions/definitions/send-welcome/aliases/prod", {"version": 2}
    )
    assert status == 200 and moved["data"]["alias"] == ["latest", "prod"]
    _, v1_again = call(stack, "GET", f"{BASE}/actions/definitions/send-welcome", query="version=1")
    assert v1_again["data"]["schema"] == SCHEMA, "versions are immutable"
    status, _ = call(
        stack, "PUT", f"{BASE}/actions/definitions/send-welcome/aliases/prod", {"version": 9}
    )
    assert status == 422
    status, _ = call(stack, "GET", f"{BASE}/actions/definitions/send-welcome", query="alias=nope")
    assert status == 404

    status, deleted = call(stack, "DELETE", f"{BASE}/actions/definitions/send-welcome")
    assert status == 200 and deleted["data"]["deleted_at"]
    status, _ = call(stack, "POST", f"{BASE}/actions/definitions", definition(destination_ids))
    assert status == 409


@pytest.mark.parametrize(
    ("mutate", "loc"),
    [
        (lambda b: b.update(schema={"type": "nope"}), ["body", "schema"]),
        (
            lambda b: b.update(schema={"$ref": "https://evil.example/schema.json"}),
            ["body", "schema"],
        ),
        (
            lambda b: b["destinations"].append({"destination_id": "dest_missing"}),
            ["body", "destinations", 2, "destination_id"],
        ),
        (
            lambda b: [d.update(is_default=True) for d in b["destinations"]],
            ["body", "destinations"],
        ),
        (lambda b: b.update(destinations=[]), ["body", "destinations"]),
        (
            lambda b: b.update(schema={"type": "object", "description": "x" * 70_000}),
            ["body", "schema"],
        ),
        (lambda b: b.update(name="Bad Name"), ["body", "name"]),
    ],
)
def test_a_bad_definition_is_a_422_naming_the_field(stack, destination_ids, mutate, loc):
    body = definition(destination_ids)
    mutate(body)
    status, payload = call(stack, "POST", f"{BASE}/actions/definitions", body)
    assert status == 422
    assert loc in [e["loc"] for e in payload["detail"]], payload


def test_input_is_checked_against_the_schema(stack, destination_ids):
    call(stack, "POST", f"{BASE}/actions/definitions", definition(destination_ids))
    resolved = components.action_definitions().resolve("acme", "send-welcome")
    check_input(resolved, {"email": "ada@example.com", "plan": "pro"})
    with pytest.raises(InputRejected, match="email"):
        check_input(resolved, {"plan": "pro"})
    with pytest.raises(InputRejected):
        check_input(resolved, {"email": "ada@example.com", "plan": "gold"})


def test_another_org_cannot_see_or_use_them(stack, destination_ids):
    call(stack, "POST", f"{BASE}/actions/definitions", definition(destination_ids))
    assert call(stack, "GET", f"{BASE}/actions/definitions/send-welcome", key=OTHER_KEY)[0] == 404
    assert (
        call(stack, "GET", "/v1/orgs/globex/actions/definitions/send-welcome", key=OTHER_KEY)[0]
        == 404
    )
    # globex cannot point a definition at acme's destination either.
    body = definition(destination_ids)
    status, payload = call(
        stack, "POST", "/v1/orgs/globex/actions/definitions", body, key=OTHER_KEY
    )
    assert status == 422 and payload["detail"][0]["loc"] == [
        "body",
        "destinations",
        0,
        "destination_id",
    ]


def test_a_schema_with_fractional_numbers_is_kept_exactly(stack, destination_ids):
    """DynamoDB's number type refuses Python floats: the schema is kept as JSON text."""
    schema = {
        "type": "object",
        "properties": {"ratio": {"type": "number", "minimum": 0.5, "multipleOf": 0.25}},
    }
    body = definition(destination_ids, name="ratios", schema=schema)
    status, created = call(stack, "POST", f"{BASE}/actions/definitions", body)
    assert status == 201, created
    assert created["data"]["schema"] == schema
    status, got = call(stack, "GET", f"{BASE}/actions/definitions/ratios")
    assert status == 200 and got["data"]["schema"] == schema
