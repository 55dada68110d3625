"""``Idempotency-Key`` on requests that create: Powertools idempotency, kept in the stack's table.

The first request with a key computes the answer and records it (24 hours); a repeat with the
same key and body gets that answer again and creates nothing; the same key with another body
is refused, naming the header. Records live under ``IDEMPOTENCY#{org}``, one partition per org.
"""

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

from fastapi import Header, Request
from pydantic import BaseModel

from stepwise.core import settings
from stepwise.core.errors import Conflict, ValidationFailed, field_error
from stepwise.infra import keys
from stepwise.infra.idempotency import persistence_layer

KEY_HEADER = "Idempotency-Key"
RECORD_SECONDS = 24 * 3600
LOCAL_REQUEST_SECONDS = 30  # the API function's timeout

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=KEY_HEADER,
        min_length=1,
        max_length=255,
        description="Makes a retried create safe: the same key and body give the same answer.",
    ),
]


@cache
def _layer(table: str, org_id: str) -> Any:
    return persistence_layer(table, keys.idempotency_pk(org_id))


class _Deadline:
    """Stands in for the Lambda context where there is none (the local stack's server)."""

    def get_remaining_time_in_millis(self) -> int:
        return LOCAL_REQUEST_SECONDS * 1000


def once(
    table: str,
    org_id: str,
    route: str,
    key: str,
    body: Any,
    create: Callable[[], dict[str, Any]],
    lambda_context: Any = None,
) -> dict[str, Any]:
    """``create()``'s answer, computed once per (org, route, key).

    The Lambda context bounds the in-progress record: a request that dies mid-way frees its
    key when its invocation would have timed out, not a day later."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config = IdempotencyConfig(
        event_key_jmespath="[route, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=RECORD_SECONDS,
        hash_function="sha256",
    )
    config.register_lambda_context(lambda_context or _Deadline())

    @idempotent_function(
        data_keyword_argument="request", persistence_store=_layer(table, org_id), config=config
    )
    def create_once(request: dict[str, Any]) -> dict[str, Any]:
        return create()

    try:
        return create_once(request={"route": route, "key": key, "body": body})
    except IdempotencyValidationError:
        message = f"this {KEY_HEADER} was used with another request body"
        raise ValidationFailed(
            [field_error(["header", KEY_HEADER], message, "idempotency_conflict")]
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict(f"a request with this {KEY_HEADER} is in progress; retry shortly") from None


def respond_once(
    request: Request,
    org_id: str,
    route: str,
    key: str | None,
    body: BaseModel,
    create: Callable[[], BaseModel],
) -> Any:
    """The route's answer: ``create()``'s, once per ``Idempotency-Key`` when there is one."""
    if key is None:
        return create()
    return once(
        settings.core_settings().table_name,
        org_id,
        route,
        key,
        body.model_dump(mode="json"),
        lambda: create().model_dump(mode="json"),
        request.scope.get("aws.context"),
    )


def refuse_key(key: str | None) -> None:
    """For creates whose answer carries a secret shown once: a record would keep it."""
    if key is not None:
        message = (
            f"{KEY_HEADER} is not taken here: the answer carries a secret shown only once; "
            "to retry safely, list first"
        )
        raise ValidationFailed([field_error(["header", KEY_HEADER], message, "unsupported")])


def clear() -> None:
    _layer.cache_clear()
