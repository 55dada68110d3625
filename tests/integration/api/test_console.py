"""The console as API Gateway's HTTP API gets it from the api function: through Mangum, gzipped
bodies base64-encoded (API Gateway decodes them back to bytes), no key needed for the page."""

import base64
import gzip
import json
from collections import Counter

import pytest

from stepwise.api import console
from stepwise.infra import aws
from tests.helpers import diamond, http_event


def get(stack, path, **headers):
    event = http_event("GET", path, key=None)
    event["headers"] |= headers
    return stack.invoke("ApiFunction", event)


def body_of(response) -> bytes:
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    if response["headers"].get("content-encoding") == "gzip":
        return gzip.decompress(raw)
    return raw


def manifest():
    return json.loads((console.ASSETS / "manifest.json").read_text())


@pytest.mark.parametrize("path", ["/console", "/console/"])
def test_the_page_needs_no_key_and_comes_gzipped_as_binary(stack, path):
    response = get(stack, path, **{"accept-encoding": "gzip, deflate, br"})
    assert response["statusCode"] == 200
    headers = response["headers"]
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding"
    # A gzipped body is not text: API Gateway must get it base64-encoded to send the bytes.
    assert response["isBase64Encoded"] is True
    assert body_of(response) == (console.ASSETS / "index.html").read_bytes()
    assert headers["cache-control"] == "no-cache"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "connect-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


def test_a_client_without_gzip_gets_plain_text(stack):
    response = get(stack, "/console")
    assert response["statusCode"] == 200
    assert "content-encoding" not in response["headers"]
    assert response["isBase64Encoded"] is False
    assert response["body"].encode() == (console.ASSETS / "index.html").read_bytes()


@pytest.mark.parametrize(
    ("kind", "content_type"),
    [("js", "text/javascript; charset=utf-8"), ("css", "text/css; charset=utf-8")],
)
def test_hashed_assets_have_their_type_and_are_cached_for_a_year(stack, kind, content_type):
    name = manifest()[kind]
    response = get(stack, f"/console/{name}", **{"accept-encoding": "gzip"})
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == content_type
    assert response["headers"]["cache-control"] == "public, max-age=31536000, immutable"
    assert response["headers"]["x-content-type-options"] == "nosniff"
    assert body_of(response) == (console.ASSETS / name).read_bytes()


def test_a_known_etag_gets_304_without_a_body(stack):
    first = get(stack, "/console")
    again = get(stack, "/console", **{"if-none-match": first["headers"]["etag"]})
    assert again["statusCode"] == 304 and not again["body"]
    assert get(stack, "/console", **{"if-none-match": '"other"'})["statusCode"] == 200


@pytest.mark.parametrize(
    "path",
    ["/console/manifest.json", "/console/nope.js", "/console/..%2F..%2Fapp.py", "/consoles"],
)
def test_only_the_built_assets_are_served(stack, path):
    assert get(stack, path)["statusCode"] == 404


def call(stack, method, path, body=None, key="swk_local_dev_key", query=""):
    response = stack.invoke("ApiFunction", http_event(method, path, body, key, query))
    return response["statusCode"], json.loads(response["body"])


def test_a_poll_of_an_open_run_page_costs_two_gets_a_query_and_the_rate_counter(stack):
    """What the README's live-update cost counts: the console polls ``GET /runs/{id}`` every
    2 s while the run goes. One poll: the key, the run, one Query of the run's partition (its
    nodes), and the org's rate-limit counter."""
    status, workflow = call(stack, "POST", "/v1/orgs/acme/workflows", diamond())
    assert status == 201
    body = {"workflow_id": workflow["data"]["id"], "input": {"name": "ada", "n": 2}}
    status, run = call(stack, "POST", "/v1/orgs/acme/runs", body)
    assert status == 201
    calls: Counter = Counter()
    client = aws.client("dynamodb")
    count = lambda model, **_: calls.update([model.name])  # noqa: E731
    client.meta.events.register("before-call.dynamodb.*", count)
    try:
        for _ in range(3):
            calls.clear()
            status, _ = call(stack, "GET", f"/v1/orgs/acme/runs/{run['data']['id']}")
            assert status == 200
            assert calls == {"GetItem": 2, "Query": 1, "UpdateItem": 1}
    finally:
        client.meta.events.unregister("before-call.dynamodb.*", count)
