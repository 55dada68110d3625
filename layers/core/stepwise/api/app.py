"""The FastAPI application: routers, error mapping, health."""

import time

from fastapi import FastAPI, Request

from stepwise.api import (
    actions,
    batches,
    credentials,
    destinations,
    errors,
    keys,
    runs,
    schedules,
    signals,
    workflows,
)
from stepwise.observability import logger


def create_app() -> FastAPI:
    app = FastAPI(
        title="Stepwise",
        version="0.1.0",
        description="Workflow runs on AWS serverless: define workflows, start runs, watch them.",
    )
    errors.install(app)

    @app.middleware("http")
    async def access_log(request: Request, call_next):
        """One line per request: method, route path, status, time. Never bodies or headers,
        which carry keys and credential values."""
        started = time.perf_counter()
        response = await call_next(request)
        logger.info(
            "request",
            extra={
                "method": request.method,
                "path": _loggable_path(request),
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response

    app.include_router(workflows.router)
    app.include_router(runs.router)
    app.include_router(credentials.router)
    app.include_router(destinations.router)
    app.include_router(actions.router)
    app.include_router(actions.records_router)
    app.include_router(signals.router)
    app.include_router(keys.router)
    app.include_router(schedules.router)
    app.include_router(batches.router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


# Path parameters that authorise on their own (a signal URL's token) are never logged.
_SECRET_PATH_PARAMS = frozenset({"token"})


def _loggable_path(request: Request) -> str:
    params = request.scope.get("path_params") or {}
    if not _SECRET_PATH_PARAMS & params.keys():
        return request.url.path
    route = request.scope.get("route")
    return getattr(route, "path", "(redacted)")
