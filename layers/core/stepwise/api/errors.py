"""Domain errors to HTTP answers, in one place."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from stepwise.core.errors import (
    Conflict,
    Forbidden,
    InvalidCursor,
    NotFound,
    QuotaExceeded,
    ServiceUnavailable,
    StepwiseError,
    Unauthorized,
    ValidationFailed,
)
from stepwise.core.observability import logger

_STATUS = {
    NotFound: (404, "not_found"),
    Unauthorized: (401, "unauthorized"),
    Forbidden: (403, "forbidden"),
    InvalidCursor: (400, "invalid_cursor"),
    Conflict: (409, "conflict"),
    ServiceUnavailable: (503, "service_unavailable"),
}


def error_body(code: str, message: str) -> dict:
    return {"data": None, "errors": [{"code": code, "message": message}]}


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorAnswer(BaseModel):
    """Every error but validation: ``{"data": null, "errors": [{code, message}]}``."""

    data: None = None
    errors: list[ErrorDetail]


_ERROR_ANSWER_REF = {"$ref": "#/components/schemas/ErrorAnswer"}


def _documented(code: str, description: str) -> dict:
    # A schema reference rather than ``"model": ErrorAnswer``: with a model, FastAPI builds a
    # serializer per status of every route, at every cold start, only to document it.
    # ``document_error_answers`` adds the schema the reference points at.
    example = error_body(code, description)
    return {
        "description": description,
        "content": {"application/json": {"example": example, "schema": _ERROR_ANSWER_REF}},
    }


def document_error_answers(document: dict[str, Any]) -> None:
    """Adds ErrorAnswer (and ErrorDetail) to the OpenAPI document's schemas, in their order."""
    # FastAPI generates them, as for any response model, from a route that only documents.
    answer = APIRoute("/", endpoint=_no_route, response_model=ErrorAnswer)
    definitions = get_openapi(title="", version="", routes=[answer])["components"]["schemas"]
    schemas = {**document["components"]["schemas"], **definitions}
    document["components"]["schemas"] = {name: schemas[name] for name in sorted(schemas)}


def _no_route() -> None:
    """The endpoint of the route that only documents ErrorAnswer; never served."""


# The error answers every org-scoped route can give (422 is FastAPI's own, documented by it).
ORG_ERRORS = {
    401: _documented("unauthorized", "No API key, an unknown one, or a revoked one."),
    403: _documented("forbidden", "The key's scopes do not allow the request."),
    404: _documented("not_found", "Not found, or not the key's org."),
}

# A run start over an operator's quota (docs/operations.md, "Quotas"); the message names it.
RUN_START_QUOTA_ERRORS = {
    413: _documented("quota_exceeded", "The run input is larger than quota run_input_bytes."),
    429: _documented(
        "quota_exceeded", "The org has quota open_runs_per_org runs queued or running."
    ),
}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ValidationFailed):
        return JSONResponse(status_code=422, content={"detail": exc.errors})
    if isinstance(exc, QuotaExceeded):
        return JSONResponse(error_body("quota_exceeded", str(exc)), status_code=exc.status)
    for kind, (status, code) in _STATUS.items():
        if isinstance(exc, kind):
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return JSONResponse(error_body(code, str(exc)), status_code=status, headers=headers)
    logger.exception("unmapped domain error")
    return JSONResponse(error_body("internal_error", "internal error"), status_code=500)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, without the ``input`` it quotes: a refused value may be a secret (a
    credential's token), and the caller has it already."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{k: v for k, v in error.items() if k not in ("input", "url")} for error in errors]
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(detail)})


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error")
    return JSONResponse(error_body("internal_error", "internal error"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StepwiseError, _domain_error)
    app.add_exception_handler(Exception, _unexpected_error)
