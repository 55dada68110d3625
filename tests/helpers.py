"""Builders shared by the tests: workflow bodies and API Gateway (HTTP API v2) events."""

import json
import os
from typing import Any

from stepwise_local.events import DEFAULT_KEY, http_event

__all__ = ["DEFAULT_KEY", "diamond", "examples", "http_event", "run_message"]

FULL_EXAMPLES_VAR = "STEPWISE_FULL_EXAMPLES"


def examples(ci: int, full: int) -> int:
    """How many examples a Hypothesis property test draws when each example is a whole run on
    moto: ``ci`` in `make test` (and CI), ``full`` with STEPWISE_FULL_EXAMPLES=1 set
    (docs/testing.md)."""
    return full if os.environ.get(FULL_EXAMPLES_VAR) == "1" else ci


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


def run_message(kind: str, org_id: str, run_id: str, generation: int = 0, **extra: Any) -> dict:
    """An SQS event carrying one RunQueue message (start, deadline, finalize), as Lambda's event
    source hands it to the engine."""
    body = json.dumps(
        {"kind": kind, "org_id": org_id, "run_id": run_id, "generation": generation, **extra}
    )
    return {
        "Records": [
            {
                "messageId": f"{kind}-{run_id}-{generation}",
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:run-queue",
                "awsRegion": "us-east-1",
            }
        ]
    }


def deliver(stack: Any, kind: str, run_id: str, org_id: str = "acme", **extra: Any) -> Any:
    """Hands the engine one RunQueue message for the run's current generation, as its queue's
    event source would (``stack`` is a started LocalStack)."""
    from stepwise import components

    generation = components.store().runs.get_run(org_id, run_id).generation
    return stack.invoke("EngineFunction", run_message(kind, org_id, run_id, generation, **extra))


def queued_run_messages(kind: str | None = None) -> list[dict[str, Any]]:
    """The RunQueue messages waiting now (up to 10, not delayed), left in the queue; only those
    of ``kind`` when given. Call it with a started LocalStack."""
    import os

    import boto3

    answer = boto3.client("sqs").receive_message(
        QueueUrl=os.environ["RUN_QUEUE_URL"], MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    bodies = [json.loads(m["Body"]) for m in answer.get("Messages", [])]
    return [b for b in bodies if kind is None or b["kind"] == kind]
