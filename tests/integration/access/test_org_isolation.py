"""Every org-scoped route answers 404 to another org's key, whatever the method or body."""

import json
import re

import pytest

from stepwise.api.app import create_app
from tests.conftest import OTHER_KEY
from tests.helpers import http_event


def org_routes():
    """Every (method, path) of the API that names an org, from its OpenAPI document."""
    for path, operations in create_app().openapi()["paths"].items():
        if "{org_id}" in path:
            for method in operations:
                yield method.upper(), path


ROUTES = sorted(set(org_routes()))


def test_the_api_has_org_routes_to_check():
    assert len(ROUTES) > 20  # a router left out of the app would shrink this
    assert ("GET", "/v1/orgs/{org_id}/workflows/{workflow_id}/nodes/{ref}/events") in ROUTES


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_another_orgs_key_gets_404(stack, method, template):
    path = re.sub(r"\{(\w+)\}", lambda m: "acme" if m.group(1) == "org_id" else "x1", template)
    body = {} if method in ("POST", "PUT", "PATCH") else None
    response = stack.invoke("ApiFunction", http_event(method, path, body, OTHER_KEY))
    assert response["statusCode"] == 404, (method, path, response["body"])
    assert json.loads(response["body"])["errors"][0]["code"] == "not_found"


def test_every_org_operation_documents_its_error_answers():
    """401, 403, 404 (the error envelope) and 422 (FastAPI's detail) are in the document, so
    clients and the contract test know their shapes."""
    document = create_app().openapi()
    for method, path in ROUTES:
        responses = document["paths"][path][method.lower()]["responses"]
        assert {"401", "403", "404"} <= set(responses), (method, path)
        schema = responses["404"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorAnswer"}
