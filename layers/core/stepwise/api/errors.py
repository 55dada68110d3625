"""Domain errors to HTTP answers, in one place."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from stepwise.errors import (
    Conflict,
    Forbidden,
    InvalidCursor,
    NotFound,
    ServiceUnavailable,
    StepwiseError,
    Unauthorized,
    ValidationFailed,
)
from stepwise.observability import logger

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


def _documented(code: str, description: str) -> dict:
    return {
        "model": ErrorAnswer,
        "description": description,
        "content": {"application/json": {"example": error_body(code, description)}},
    }


# The error answers every org-scoped route can give (422 is FastAPI's own, documented by it).
ORG_ERRORS = {
    401: _documented("unauthorized", "No API key, an unknown one, or a revoked one."),
    403: _documented("forbidden", "The key's scopes do not allow the request."),
    404: _documented("not_found", "Not found, or not the key's org."),
}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ValidationFailed):
        return JSONResponse(status_code=422, content={"detail": exc.errors})
    for kind, (status, code) in _STATUS.items():
        if isinstance(exc, kind):
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return JSONResponse(error_body(code, str(exc)), status_code=status, headers=headers)
    logger.exception("unmapped domain error")
    return JSONResponse(error_body("internal_error", "internal error"), status_code=500)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error")
    return JSONResponse(error_body("internal_error", "internal error"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(StepwiseError, _domain_error)
    app.add_exception_handler(Exception, _unexpected_error)
