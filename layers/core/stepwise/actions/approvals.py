"""How an approval attempt counts its reviews (pure).

An approval node needs ``required_approvals`` (default 1) approvals from distinct API keys. Each
review is appended to the attempt's ``reviews``; a rejection, or the approval that reaches the
count, is also the attempt's ``signal``, which settles it. Counts are per attempt: a retry after
a timeout starts from none.
"""

from typing import Any

from stepwise.runs.records import AttemptRecord
from stepwise.workflows.models import MAX_REQUIRED_APPROVALS, NodeSpec

# A review that fails its conditional write saw another review land first, and an attempt takes
# at most MAX_REQUIRED_APPROVALS of them (the last one settles it), so a review needs at most
# that many rounds and one more to see the attempt settled.
MAX_ROUNDS = MAX_REQUIRED_APPROVALS + 2

# What a review shows (the node's ``reviews``, the output's, a history event).
REVIEW_FIELDS = ("decision", "comment", "reviewed_by", "reviewed_by_key", "reviewed_at")


def required(spec: NodeSpec | None) -> int:
    """The approvals a node needs; 1 unless its spec says more."""
    return (spec.required_approvals if spec is not None else None) or 1


def reviews_of(attempt: AttemptRecord) -> list[dict[str, Any]]:
    """The attempt's reviews in the order they landed. An attempt recorded before reviews were
    counted holds its one review as its signal only."""
    if attempt.reviews:
        return list(attempt.reviews)
    signal = attempt.signal
    return [signal] if signal and signal.get("kind") == "review" else []


def reviewer_of(review: dict[str, Any]) -> str:
    """Who a review counts as: the key's id (names are free text and need not be unique)."""
    return review.get("reviewed_by_key") or review["reviewed_by"]


def by_reviewer(attempt: AttemptRecord, reviewer: str) -> dict[str, Any] | None:
    """The review ``reviewer`` already gave on this attempt, if any."""
    return next((r for r in reviews_of(attempt) if reviewer_of(r) == reviewer), None)


def settles(review: dict[str, Any], seen: list[dict[str, Any]], needed: int) -> bool:
    """Whether ``review``, landing after ``seen``, settles the attempt: a rejection does at
    once, an approval when it is the ``needed``-th (``seen`` are all approvals: a rejection
    would have settled the attempt)."""
    return review["decision"] != "approve" or len(seen) + 1 >= needed


def approvals(reviews: list[dict[str, Any]]) -> int:
    return sum(1 for r in reviews if r.get("decision") == "approve")


def shown(review: dict[str, Any]) -> dict[str, Any]:
    """A review as the API shows it."""
    return {field: review.get(field) for field in REVIEW_FIELDS}


def describe(review: dict[str, Any]) -> str:
    """``approve by key:ops at <time>``: a review named in a conflict."""
    return f"{review['decision']} by {review['reviewed_by']} at {review['reviewed_at']}"
