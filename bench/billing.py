"""Billable quantities and their price, with the alternatives priced the same way."""

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from bench.executions import ExecutionBill
from bench.meter import Usage

PRICES_PATH = Path(__file__).with_name("prices.json")


def load_prices() -> dict[str, Any]:
    return json.loads(PRICES_PATH.read_text())


@dataclass
class Bill:
    """What AWS bills for a piece of work (counts, fractional once divided)."""

    transitions: float = 0.0  # Standard executions' state transitions
    express_requests: float = 0.0  # Express executions started
    express_gb_seconds: float = 0.0  # Express duration (100 ms steps) at the billed memory
    lambda_invocations: float = 0.0
    lambda_gb_seconds: float = 0.0  # as AWS would bill the invocations (bench/aws_time.py)
    lambda_wall_gb_seconds: float = 0.0  # the invocations' wall time here, in one process
    write_units: float = 0.0
    read_units: float = 0.0
    sqs_requests: float = 0.0  # to the queues template.yaml declares (bench/meter.py)
    events: float = 0.0  # EventBridge custom events: each PutEvents entry's 64 KB chunks
    s3_puts: float = 0.0
    s3_gets: float = 0.0
    secrets_calls: float = 0.0
    api_requests: float = 0.0
    # Calls that count against a throttling quota rather than a price (bench/capacity.py)
    executions_started: float = 0.0
    task_successes: float = 0.0
    task_failures: float = 0.0
    task_heartbeats: float = 0.0
    events_put: float = 0.0  # PutEvents requests (the quota); ``events`` is what is billed

    @classmethod
    def of(cls, usage: Usage, executions: ExecutionBill | int, api_requests: int) -> "Bill":
        """``executions``: Step Functions' bill of the work (or a Standard transition count)."""
        if isinstance(executions, int):
            executions = ExecutionBill(transitions=executions)
        calls = usage.calls

        def gb_seconds(seconds: dict[str, float]) -> float:
            return sum(s * usage.lambda_memory_mb.get(n, 512) / 1024 for n, s in seconds.items())

        return cls(
            transitions=executions.transitions,
            express_requests=executions.express_requests,
            express_gb_seconds=executions.express_gb_seconds,
            lambda_invocations=sum(usage.lambda_invocations.values()),
            lambda_gb_seconds=gb_seconds(usage.lambda_billed_seconds),
            lambda_wall_gb_seconds=gb_seconds(usage.lambda_seconds),
            write_units=usage.write_units,
            read_units=usage.read_units,
            sqs_requests=usage.sqs_requests,
            events=usage.events,
            s3_puts=calls.get("s3:PutObject", 0),
            s3_gets=calls.get("s3:GetObject", 0),
            secrets_calls=sum(c for k, c in calls.items() if k.startswith("secretsmanager:")),
            api_requests=api_requests,
            executions_started=calls.get("stepfunctions:StartExecution", 0),
            task_successes=calls.get("stepfunctions:SendTaskSuccess", 0),
            task_failures=calls.get("stepfunctions:SendTaskFailure", 0),
            task_heartbeats=calls.get("stepfunctions:SendTaskHeartbeat", 0),
            events_put=calls.get("events:PutEvents", 0),
        )

    def __add__(self, other: "Bill") -> "Bill":
        return Bill(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def __sub__(self, other: "Bill") -> "Bill":
        return Bill(
            **{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)}
        )

    def __mul__(self, factor: float) -> "Bill":
        return Bill(**{f.name: getattr(self, f.name) * factor for f in fields(self)})

    def __truediv__(self, count: float) -> "Bill":
        return Bill(**{f.name: getattr(self, f.name) / count for f in fields(self)})

    def rounded(self) -> dict[str, float]:
        fine = ("express_gb_seconds", "lambda_gb_seconds", "lambda_wall_gb_seconds")
        return {k: round(v, 6 if k in fine else 4) for k, v in asdict(self).items()}

    def usd(self, prices: dict[str, Any]) -> dict[str, float]:
        """Dollars by service, and the total."""
        p = {name: item["usd"] for name, item in prices["items"].items()}
        parts = {
            "stepfunctions": self.transitions * p["stepfunctions_standard_transition"],
            "stepfunctions_express": self.express_requests * p["stepfunctions_express_request"]
            + self.express_gb_seconds * p["stepfunctions_express_gb_second"],
            "lambda": self.lambda_invocations * p["lambda_request"]
            + self.lambda_gb_seconds * p["lambda_arm_gb_second"],
            "dynamodb": self.write_units * p["dynamodb_write_request_unit"]
            + self.read_units * p["dynamodb_read_request_unit"],
            "sqs": self.sqs_requests * p["sqs_request"],
            "eventbridge": self.events * p["eventbridge_custom_event"],
            "s3": self.s3_puts * p["s3_put_request"] + self.s3_gets * p["s3_get_request"],
            "secretsmanager": self.secrets_calls * p["secretsmanager_api_call"],
            "apigateway": self.api_requests * p["apigateway_http_request"],
        }
        parts["total"] = sum(parts.values())
        return parts


def temporal_cloud_usd(actions: float, prices: dict[str, Any]) -> float:
    """Temporal Cloud's price for ``actions`` (one per activity attempt, one per run start)."""
    return actions * prices["items"]["temporal_cloud_action"]["usd"]


def plain_step_functions_usd(nodes: float, gb_seconds_each: float, prices: dict) -> float:
    """One Standard Task state per node invoking a Lambda for the same measured duration: a
    transition and an invocation per node, and nothing recorded for querying."""
    p = {name: item["usd"] for name, item in prices["items"].items()}
    per_node = (
        p["stepfunctions_standard_transition"]
        + p["lambda_request"]
        + gb_seconds_each * p["lambda_arm_gb_second"]
    )
    return nodes * per_node
