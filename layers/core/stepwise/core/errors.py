"""Domain errors. The API maps them to HTTP answers in one place (``stepwise.api.errors``)."""

from typing import Any

from stepwise.core.settings import QUOTA_PARAMETERS


class StepwiseError(Exception):
    """Base of every error the domain raises on purpose."""


class NotFound(StepwiseError):
    def __init__(self, kind: str, ident: str):
        super().__init__(f"{kind} {ident!r} not found")
        self.kind = kind
        self.ident = ident


class Unauthorized(StepwiseError):
    """No API key, or one that matches no org."""


class Forbidden(StepwiseError):
    """A valid key whose scopes do not allow the request."""


class InvalidCursor(StepwiseError):
    """A pagination cursor that was not issued by this service for this query."""


class Conflict(StepwiseError):
    """The resource is not in a state that allows the request."""


class ValidationFailed(StepwiseError):
    """Input that parsed but breaks a rule of the domain; ``errors`` use FastAPI's shape."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__("; ".join(e["msg"] for e in errors))
        self.errors = errors


def field_error(loc: list[str | int], msg: str, type_: str) -> dict[str, Any]:
    """One validation error in FastAPI's ``{"loc", "msg", "type"}`` shape."""
    return {"loc": list(loc), "msg": msg, "type": type_}


class ServiceUnavailable(StepwiseError):
    """A dependency (Step Functions, DynamoDB) refused the request; safe to retry."""


class QuotaExceeded(StepwiseError):
    """A request (or a run's step) that would go over an operator's quota (``core.settings``
    ``Quotas``). The message names the quota and its template parameter; ``status`` is the HTTP
    answer at the API (429: wait until runs settle; 413: a smaller payload)."""

    def __init__(self, quota: str, limit: int, detail: str, status: int = 429):
        parameter = QUOTA_PARAMETERS.get(quota, quota)
        super().__init__(f"quota {quota} ({parameter} = {limit}) exceeded: {detail}")
        self.quota = quota
        self.limit = limit
        self.status = status
