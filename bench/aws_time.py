"""How long an invocation measured on the local stack would run, and bill, on AWS.

The local stack runs every handler, every execution and moto's emulation of every service in
one Python process on this machine's cores. An invocation's wall time there is mostly other
threads holding the GIL and moto doing in Python what DynamoDB does in a few milliseconds: it
measures the machine's load, not the handler (the same webhook attempt took 0.12 s alone and
0.8 s beside four others). So the bench bills each invocation as AWS would run it, from what
was measured in it:

- the handler's own CPU time: the thread CPU time of the invoking thread, and of the worker
  threads it hands synchronous API routes to, less the CPU spent inside AWS calls (moto's
  emulation runs in the caller's thread). Lambda gives a function CPU in proportion to its
  memory, one vCPU at 1,769 MB (Lambda developer guide, "Configure Lambda function memory"),
  so this CPU time is stretched by 1,769 / memory when the memory is below that;
- each AWS call it made, at the latency below, by service: DynamoDB's GetItem and PutItem
  average single-digit milliseconds (AWS knowledge center, "DynamoDB high latency"); the other
  services publish no figure, so they are taken at a few times that;
- each request to a destination, at ``DESTINATION_SECONDS``: a destination's own time is the
  customer's, the bench's receiver answers in-process, and a webhook that answers in 100 ms is
  a fair middle.

The in-process wall time is still counted (``Usage.lambda_seconds``) and reported beside the
billed figure, so the difference stays visible.
"""

from collections import Counter
from dataclasses import dataclass, field

VCPU_MEMORY_MB = 1769  # Lambda: one vCPU's worth of CPU at this memory, proportionally below
DESTINATION_SECONDS = 0.1
# Seconds per AWS call as a Lambda function in the same region sees it (request, service, answer).
CALL_SECONDS = {
    "dynamodb": 0.01,
    "dynamodb:TransactWriteItems": 0.025,
    "dynamodb:TransactGetItems": 0.02,
    "dynamodb:BatchWriteItem": 0.02,
    "dynamodb:BatchGetItem": 0.015,
    "dynamodb:Query": 0.015,
}
OTHER_CALL_SECONDS = 0.03  # SQS, Step Functions, EventBridge, Secrets Manager, S3, Lambda
# Step Functions' own time per state entered (the task's Lambda time is billed apart): not
# published; the local executor spends about 9 ms a state on an idle machine.
STATE_SECONDS = 0.02


def call_seconds(service: str, operation: str) -> float:
    found = CALL_SECONDS.get(f"{service}:{operation}")
    if found is None:
        found = CALL_SECONDS.get(service, OTHER_CALL_SECONDS)
    return found


@dataclass
class Invocation:
    """What one invocation did, as measured while it ran."""

    name: str
    cpu_seconds: float = 0.0  # every thread's CPU time in the handler, AWS calls included
    aws_cpu_seconds: float = 0.0  # CPU inside AWS calls (moto's emulation)
    aws_wall_seconds: float = 0.0
    calls: Counter = field(default_factory=Counter)  # "service:Operation" -> count
    destination_requests: int = 0
    in_aws_call: int = 0  # depth: an HTTP request inside an AWS call is not a destination's
    nested_seconds: float = 0.0  # billed seconds of invocations made from inside this one
    nested_cpu_seconds: float = 0.0

    def handler_cpu_seconds(self) -> float:
        return max(0.0, self.cpu_seconds - self.aws_cpu_seconds - self.nested_cpu_seconds)

    def billed_seconds(self, memory_mb: int) -> float:
        """The invocation's duration on AWS at ``memory_mb``."""
        stretch = max(1.0, VCPU_MEMORY_MB / memory_mb)
        calls = sum(count * call_seconds(*key.split(":", 1)) for key, count in self.calls.items())
        return (
            self.handler_cpu_seconds() * stretch
            + calls
            + self.destination_requests * DESTINATION_SECONDS
            + self.nested_seconds
        )
