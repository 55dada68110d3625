"""Lambda events as the local stack's callers build them (API Gateway HTTP API v2)."""

import json
import time
from typing import Any

DEFAULT_KEY = "swk_local_dev_key"  # the local stack's documented key (stack.DEFAULT_API_KEY)


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
