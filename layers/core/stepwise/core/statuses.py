"""The fixed value sets of runs and nodes."""

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


RUN_TERMINAL = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.TIMED_OUT}
)
# A run the engine is executing: running, or paused (its running nodes finish, nothing new
# starts until it is resumed). Both may settle: a failure, a cancel or the timeout ends them.
RUN_EXECUTING = frozenset({RunStatus.RUNNING, RunStatus.PAUSED})


class NodeStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


NODE_TERMINAL = frozenset(
    {NodeStatus.SUCCEEDED, NodeStatus.FAILED, NodeStatus.SKIPPED, NodeStatus.CANCELLED}
)


class NodeKind(StrEnum):
    ACTION = "action"
    TRANSFORM = "transform"
    WAIT = "wait"
    APPROVAL = "approval"
    WORKFLOW = "workflow"


# Kinds that may fan out over ``for_each`` items: a transform per item, or an action with one
# delivery per item. Waits, approvals and child runs per item are not built, so a node of those
# kinds with ``for_each`` is refused at save time rather than failing.
LOOPABLE_KINDS = frozenset({NodeKind.TRANSFORM, NodeKind.ACTION})
