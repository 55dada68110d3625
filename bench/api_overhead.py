"""API overhead: create run, get run and list runs through the Mangum handler, in-process on
moto, against the raw DynamoDB calls the same request makes.

Each request is made once with a recorder on the DynamoDB client; those exact calls (conditions
dropped, so that writes can repeat) are then timed on their own. The ratio of the two p50s is
what the API layer (routing, validation, models, auth, JSON) adds. State machines do not execute
here, so the timings are not disturbed by runs in the background.
"""

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from botocore.client import BaseClient

from stepwise.infra import aws
from stepwise_local.events import http_event
from stepwise_local.stack import LocalStack

SAMPLES = 200
ORG = "acme"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed(action: Callable[[], Any], samples: int) -> list[float]:
    durations = []
    for _ in range(samples):
        started = time.perf_counter()
        action()
        durations.append((time.perf_counter() - started) * 1000)
    return durations


def recorded_dynamodb_calls(action: Callable[[], Any]) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    original = BaseClient._make_api_call

    def record(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            calls.append((operation, params))
        return original(client, operation, params)

    BaseClient._make_api_call = record
    try:
        action()
    finally:
        BaseClient._make_api_call = original
    return calls


def replay(calls: list[tuple[str, dict[str, Any]]]) -> None:
    client = aws.client("dynamodb")
    for operation, params in calls:
        request = _unconditional(params)
        if operation == "TransactWriteItems":
            request["TransactItems"] = [
                {kind: _unconditional(action) for kind, action in entry.items()}
                for entry in params["TransactItems"]
                if "ConditionCheck" not in entry
            ]
        getattr(client, _snake(operation))(**request)


def _unconditional(params: dict[str, Any]) -> dict[str, Any]:
    """The request without its condition (so that writes can repeat), and without the names
    and values only the condition used."""
    request = {k: v for k, v in params.items() if k != "ConditionExpression"}
    used = " ".join(
        str(request.get(k, ""))
        for k in (
            "UpdateExpression",
            "ProjectionExpression",
            "KeyConditionExpression",
            "FilterExpression",
        )
    )
    for field in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
        if field in request:
            kept = {k: v for k, v in request[field].items() if k in used}
            if kept:
                request[field] = kept
            else:
                del request[field]
    return request


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def measure(samples: int = SAMPLES) -> dict[str, Any]:
    with LocalStack(
        execute_state_machines=False, parameters={"LogLevel": "WARNING", "OrgRateLimit": "100000"}
    ) as stack:

        def call(method: str, path: str, body: Any = None, query: str = "") -> dict[str, Any]:
            event = http_event(method, f"/v1/orgs/{ORG}{path}", body, stack.api_key, query)
            response = stack.invoke("ApiFunction", event)
            assert response["statusCode"] < 300, response["body"]
            return response

        workflow = json.loads(
            call(
                "POST",
                "/workflows",
                {"name": "w", "nodes": [{"ref": "a", "kind": "transform", "args": {"x": 1}}]},
            )["body"]
        )["data"]
        body = {"workflow_id": workflow["id"], "input": {"n": 1}}
        run_id = json.loads(call("POST", "/runs", body)["body"])["data"]["id"]
        for _ in range(50):  # a list page of realistic length
            call("POST", "/runs", body)
        requests = {
            "create_run": lambda: call("POST", "/runs", body),
            "get_run": lambda: call("GET", f"/runs/{run_id}"),
            "list_runs": lambda: call("GET", "/runs", query="limit=20"),
        }
        results = {}
        for name, request in requests.items():
            request()  # warm: cached secrets, compiled workflows
            calls = recorded_dynamodb_calls(request)
            api = timed(request, samples)
            raw = timed(lambda calls=calls: replay(calls), samples)
            results[name] = {
                "samples": samples,
                "api_p50_ms": round(statistics.median(api), 2),
                "api_p99_ms": round(percentile(api, 0.99), 2),
                "dynamodb_calls": [operation for operation, _ in calls],
                "raw_dynamodb_p50_ms": round(statistics.median(raw), 2),
                "raw_dynamodb_p99_ms": round(percentile(raw, 0.99), 2),
                "ratio_p50": round(statistics.median(api) / statistics.median(raw), 2),
            }
        return results


if __name__ == "__main__":
    print(json.dumps(measure(samples=50), indent=2))
