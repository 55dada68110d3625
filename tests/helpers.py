"""Builders shared by the tests: workflow bodies and API Gateway (HTTP API v2) events."""

import json
import time
from typing import Any

DEFAULT_KEY = "swk_local_dev_key"


def diamond(**extra: Any) -> dict[str, Any]:
    """a -> b, a -> c, b + c -> d; d's output is built from b's and c's."""
    return {
        "name": "diamond",
        "nodes": [
            {"ref": "a", "kind": "transform", "args": {"n": "{{ input.n }}"}},
            {
                "ref": "b",
                "kind": "transform",
                "args": {"double": "{{ [nodes.a.output.n, nodes.a.output.n] }}"},
                "depends_on": ["a"],
            },
            {
                "ref": "c",
                "kind": "transform",
                "args": {"label": "n is {{ nodes.a.output.n }}"},
                "depends_on": ["a"],
            },
            {
                "ref": "d",
                "kind": "transform",
                "args": {
                    "from_b": "{{ nodes.b.output.double }}",
                    "from_c": "{{ nodes.c.output.label }}",
                },
                "depends_on": ["b", "c"],
            },
        ],
        **extra,
    }


def http_event(
    method: str,
    path: str,
    body: Any = None,
    key: str | None = DEFAULT_KEY,
    query: str = "",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the api function receives it."""
    headers = {"content-type": "application/json", "host": "api.example.com"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "api.example.com",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "tests",
            },
            "requestId": f"req-{time.monotonic_ns()}",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:00:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }
