"""Approval nodes: an attempt waits for a review, then approve succeeds, reject fails, and no
review in time retries or fails."""

from typing import Any

from stepwise.actions import approvals
from stepwise.engine.address import NodeAddress
from stepwise.engine.attempts import StepFamily
from stepwise.engine.executors import NodeFailure
from stepwise.engine.shared import run_wait_bound
from stepwise.infra import executions
from stepwise.runs.records import AttemptRecord, RunRecord
from stepwise.workflows.models import NodeSpec


class ApprovalSteps(StepFamily):
    """An approval attempt's start, its wait (``await_review``) and its end (``review_settled``)."""

    def start(
        self, address: NodeAddress, run: RunRecord, spec: NodeSpec, context: dict[str, Any]
    ) -> dict[str, Any]:
        """An approval attempt waits for a review, up to ``retry.timeout`` (else the run's)."""
        wait = spec.retry.timeout or run_wait_bound(run)
        return {"next": "review", "attempt": address.attempt, "timeout_seconds": wait}

    def await_review(self, address: NodeAddress, task_token: str) -> dict[str, Any]:
        """Keeps the waiting task's token on the attempt; resumes at once if a review (or the
        attempt's end) came first."""
        node = self.store.attempts.store_attempt_token(
            address.org_id, address.run_id, address.ref, address.attempt, task_token
        )
        tried = node.attempt_record(address.attempt) if node is not None else None
        if tried is None or tried.signal or tried.status != "running":
            executions.resume_run(task_token, "reviewed")
        return {}

    def review_settled(self, address: NodeAddress) -> dict[str, Any]:
        """Ends an approval attempt: the last approval it needed succeeds, a rejection fails, no
        settling review in time retries or fails (and the next attempt counts afresh)."""
        opened = self.open_attempt(address)
        if opened is None:
            return self.advance.node_changed(address)
        _, spec, tried = opened
        review = tried.signal if tried is not None else None
        outcome = None
        if review is None:
            failure = NodeFailure("Timeout", "no review came before the approval timed out")
            outcome = self.attempts.failed(address, spec, failure)
        elif review["decision"] == "approve":
            self.attempts.succeeded(address, spec, approved_output(tried, spec))
        else:
            message = f"rejected by {review['reviewed_by']}"
            if review.get("comment"):
                message += f": {review['comment']}"
            return self.attempts.fail(address, spec.kind, "Rejected", message)
        return outcome or self.advance.node_changed(address)


def approved_output(tried: AttemptRecord, spec: NodeSpec) -> dict[str, Any]:
    """An approved node's output: the settling review's fields (as before reviews were
    counted), and every review of the attempt with the count."""
    review = tried.signal or {}
    reviews = approvals.reviews_of(tried)
    return {
        **{k: review.get(k) for k in ("decision", "comment", "reviewed_by", "reviewed_at")},
        "reviews": [approvals.shown(r) for r in reviews],
        "approvals_required": tried.approvals_required or approvals.required(spec),
        "approvals_received": approvals.approvals(reviews),
    }
