"""Every org route answers 403 to a key whose scopes fall short of the scope its OpenAPI entry
declares (``x-required-scope``), and not 403 to a key that holds it; a workflow-limited key
gets 403 from every route that does not declare how it applies the limit."""

import json
import re

import pytest

from stepwise import components
from stepwise.api.app import create_app
from tests.helpers import http_event

SCOPES = ("read", "write", "approve", "admin")
# The scopes that hold each scope (admin holds every one; write and approve are apart).
HOLDERS = {
    "read": {"read", "write", "approve", "admin"},
    "write": {"write", "admin"},
    "approve": {"approve", "admin"},
    "admin": {"admin"},
}


def org_operations():
    """(method, path, operation) of every org route, from the OpenAPI document."""
    for path, operations in create_app().openapi()["paths"].items():
        if "{org_id}" in path:
            for method, operation in operations.items():
                yield method.upper(), path, operation


OPERATIONS = sorted(org_operations(), key=lambda o: (o[1], o[0]))


def test_every_org_operation_declares_its_scope():
    assert len(OPERATIONS) > 20
    declared = {(m, p): o["x-required-scope"] for m, p, o in OPERATIONS}
    assert set(declared.values()) == set(SCOPES)
    assert declared[("POST", "/v1/orgs/{org_id}/credentials")] == "admin"
    assert declared[("POST", "/v1/orgs/{org_id}/destinations/{destination_id}/rotate-secret")] == (
        "admin"
    )
    assert declared[("POST", "/v1/orgs/{org_id}/runs/{run_id}/nodes/{ref}/approval")] == "approve"
    patch = next(
        o
        for m, p, o in OPERATIONS
        if (m, p) == ("PATCH", "/v1/orgs/{org_id}/destinations/{destination_id}")
    )
    assert "url" in patch["x-scope-note"] and "credential_id" in patch["x-scope-note"]


def _call(stack, method, template, key):
    path = re.sub(r"\{(\w+)\}", lambda m: "acme" if m.group(1) == "org_id" else "x1", template)
    body = {} if method in ("POST", "PUT", "PATCH") else None
    response = stack.invoke("ApiFunction", http_event(method, path, body, key))
    return response["statusCode"], response["body"]


@pytest.mark.parametrize(
    ("method", "template", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
def test_a_route_refuses_every_scope_below_its_own(stack, method, template, operation):
    needed = operation["x-required-scope"]
    for scope in SCOPES:
        key = f"swk_test_scope_{scope}"
        components.api_keys().store(key, "acme", scope, [scope], "test")
        status, body = _call(stack, method, template, key)
        if scope in HOLDERS[needed]:
            assert status != 403, (scope, method, template, body)
        else:
            assert status == 403, (scope, method, template, body)
            assert f"do not include {needed}" in json.loads(body)["errors"][0]["message"]
    limited = "swk_test_scope_limited"
    components.api_keys().store(limited, "acme", "limited", ["admin"], "test", ["wf_only"])
    status, body = _call(stack, method, template, limited)
    if "x-workflow-limited" in operation:
        assert status != 403 or "wf_only" in body, (method, template, body)
    else:
        assert status == 403 and "limited to named workflows" in body, (method, template, body)
