"""GET /workflows: the org's workflows newest first, each as its latest version, paged by a
signed cursor; another org's key sees none of them, and a workflow-limited key is refused."""

import json

from stepwise import components
from stepwise.access.api_keys import Scope
from tests.conftest import OTHER_KEY
from tests.helpers import diamond, http_event

BASE = "/v1/orgs/acme/workflows"


def call(stack, method, path, body=None, key="swk_local_dev_key", query=""):
    response = stack.invoke("ApiFunction", http_event(method, path, body, key, query))
    return response["statusCode"], json.loads(response["body"])


def create(stack, name):
    status, payload = call(stack, "POST", BASE, {**diamond(), "name": name})
    assert status == 201, payload
    return payload["data"]["id"]


def test_workflows_are_listed_newest_first_as_their_latest_version_in_pages(stack):
    first, second, third = create(stack, "one"), create(stack, "two"), create(stack, "three")
    status, payload = call(stack, "PUT", f"{BASE}/{first}", {**diamond(), "name": "one renamed"})
    assert status == 200, payload

    status, page = call(stack, "GET", BASE, query="limit=2")
    assert status == 200, page
    assert [(w["id"], w["name"], w["latest_version"]) for w in page["data"]] == [
        (third, "three", 1),
        (second, "two", 1),
    ]
    assert "nodes" not in page["data"][0]
    status, rest = call(stack, "GET", BASE, query=f"limit=2&cursor={page['next_page']}")
    assert status == 200, rest
    assert [(w["id"], w["name"], w["latest_version"]) for w in rest["data"]] == [
        (first, "one renamed", 2)
    ]
    assert rest["next_page"] is None


def test_a_tampered_cursor_is_refused(stack):
    create(stack, "one"), create(stack, "two")
    _, page = call(stack, "GET", BASE, query="limit=1")
    status, payload = call(stack, "GET", BASE, query=f"limit=1&cursor={page['next_page']}x")
    assert status == 400, payload


def test_a_limit_out_of_range_is_a_422_naming_it(stack):
    status, payload = call(stack, "GET", BASE, query="limit=101")
    assert status == 422
    assert payload["detail"][0]["loc"] == ["query", "limit"]


def test_another_orgs_key_lists_none_of_them(stack):
    workflow = create(stack, "private")
    status, payload = call(stack, "GET", BASE, key=OTHER_KEY)
    assert status == 404 and workflow not in json.dumps(payload)
    status, payload = call(stack, "GET", "/v1/orgs/globex/workflows", key=OTHER_KEY)
    assert status == 200 and payload["data"] == []


def test_a_workflow_limited_key_is_refused(stack):
    workflow = create(stack, "limited")
    _, key = components.api_keys().create("acme", "only-one", [Scope.READ], "test", [workflow])
    status, payload = call(stack, "GET", BASE, key=key)
    assert status == 403, payload
