"""The FastAPI application: routers, error mapping, health.

A Lambda invocation serves one route, and building a route (FastAPI analyses its parameters and
builds a pydantic validator for each) costs milliseconds. So each router module is imported and
its routes added the first time a request needs them, and ``/openapi.json`` builds them all. A
cold start pays for the routes its first request uses, not for every route of the API.
"""

import importlib
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from fastapi import FastAPI, Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from stepwise.api import errors, log_redaction
from stepwise.api.rate_limits import OrgRateLimit
from stepwise.core.observability import logger


@dataclass(frozen=True)
class RouteGroup:
    """The routers of one module, and the path prefixes every one of their routes starts with."""

    module: str
    routers: tuple[str, ...]
    prefixes: tuple[str, ...]

    def serves(self, path: str) -> bool:
        return any(_pattern(prefix).match(path) for prefix in self.prefixes)


# In the order the routes are listed (and matched, and documented in the OpenAPI document).
ROUTE_GROUPS = (
    RouteGroup("stepwise.api.workflows", ("router",), ("/v1/orgs/{org_id}/workflows",)),
    # Before runs: /runs/bulk is not a run id.
    RouteGroup("stepwise.api.bulk", ("router",), ("/v1/orgs/{org_id}/runs/bulk",)),
    RouteGroup(
        "stepwise.api.repair",
        ("router",),
        ("/v1/orgs/{org_id}/runs/{run_id}/redrive", "/v1/orgs/{org_id}/runs/{run_id}/rerun"),
    ),
    RouteGroup("stepwise.api.runs", ("router",), ("/v1/orgs/{org_id}/runs",)),
    RouteGroup("stepwise.api.credentials", ("router",), ("/v1/orgs/{org_id}/credentials",)),
    RouteGroup("stepwise.api.destinations", ("router",), ("/v1/orgs/{org_id}/destinations",)),
    RouteGroup(
        "stepwise.api.actions",
        ("router", "records_router"),
        ("/v1/orgs/{org_id}/actions", "/v1/orgs/{org_id}/runs/{run_id}/actions"),
    ),
    RouteGroup("stepwise.api.signals", ("router",), ("/v1/signals",)),
    RouteGroup("stepwise.api.keys", ("router",), ("/v1/orgs/{org_id}/keys",)),
    RouteGroup("stepwise.api.schedules", ("router",), ("/v1/orgs/{org_id}/schedules",)),
    RouteGroup("stepwise.api.batches", ("router",), ("/v1/orgs/{org_id}/batches",)),
    RouteGroup("stepwise.api.health", ("router",), ("/healthz",)),
    RouteGroup("stepwise.api.console", ("router",), ("/console",)),
)


def create_app() -> FastAPI:
    app = FastAPI(
        title="Stepwise",
        version="0.1.0",
        description="Workflow runs on AWS serverless: define workflows, start runs, watch them.",
    )
    errors.install(app)
    log_redaction.install()
    # Inside the access log (a 429 is logged like any answer), before any route is built.
    app.add_middleware(OrgRateLimit)

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

    routes = app.state.route_groups = RoutesOnDemand(app, ROUTE_GROUPS)
    app.add_middleware(BuildRoutes, routes=routes)
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            routes.build_all()
            document = build_openapi()  # FastAPI keeps the document
            errors.document_error_answers(document)
            _document_scopes(app, document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
    return app


def _document_scopes(app: FastAPI, document: dict[str, Any]) -> None:
    """Every org operation shows ``x-required-scope``: the scope ``caller`` enforces, from the
    same declaration (a route's ``openapi_extra``, else the default by method)."""
    from stepwise.api.dependencies import SCOPE, declared_scope

    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/v1/orgs/{org_id}"):
            continue
        for method in getattr(route, "methods", ()) or ():
            operation = document["paths"].get(path, {}).get(method.lower())
            if operation is not None:
                operation[SCOPE] = str(declared_scope(method, route.openapi_extra))


class RoutesOnDemand:
    """Adds a group's routes to the app the first time a path it serves is requested.

    A path no group claims builds every group, so an unknown path gets the same 404 (or 405,
    or slash redirect) as when every route is there. Routes are added as the routers built
    them, not through ``include_router`` (which builds each route a second time), so
    ``app.dependency_overrides`` does not reach them.
    """

    def __init__(self, app: FastAPI, groups: tuple[RouteGroup, ...]):
        self._routes = app.router.routes
        self._own = len(self._routes)  # FastAPI's: /openapi.json and the docs
        self._groups = groups
        self._built: dict[RouteGroup, list[BaseRoute]] = {}
        self._lock = threading.Lock()

    def build_for(self, path: str) -> None:
        needed = [group for group in self._groups if group.serves(path)] or self._groups
        self._build(needed)

    def build_all(self) -> None:
        self._build(self._groups)

    def _build(self, groups: Sequence[RouteGroup]) -> None:
        if all(group in self._built for group in groups):
            return
        with self._lock:
            ours = {id(route) for built in self._built.values() for route in built}
            # Routes added to the app after it was made (the local stack's) stay, after ours.
            added = [route for route in self._routes[self._own :] if id(route) not in ours]
            for group in groups:
                if group not in self._built:
                    module = importlib.import_module(group.module)
                    self._built[group] = [
                        route for name in group.routers for route in getattr(module, name).routes
                    ]
            self._routes[self._own :] = [
                *(route for group in self._groups for route in self._built.get(group, ())),
                *added,
            ]


class BuildRoutes:
    """ASGI middleware: the routes a request may need exist before it is routed."""

    def __init__(self, app: ASGIApp, routes: RoutesOnDemand):
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path", "")
            self.routes.build_for(path[len(root) :] if root and path.startswith(root) else path)
        await self.app(scope, receive, send)


_PARAM = re.compile(r"\{[^}]+\}")


@cache
def _pattern(prefix: str) -> re.Pattern[str]:
    """``/v1/orgs/{org_id}/runs`` matches that path and anything below it, any org id."""
    literal = [re.escape(part) for part in _PARAM.split(prefix)]
    return re.compile("^" + "[^/]+".join(literal) + "(/|$)")


# Path parameters that authorise on their own (a signal URL's token) are never logged.
_SECRET_PATH_PARAMS = frozenset({"token"})


def _loggable_path(request: Request) -> str:
    params = request.scope.get("path_params") or {}
    if not _SECRET_PATH_PARAMS & params.keys():
        # A path no route matched may still hold a token (a callback's URL, mangled).
        return log_redaction.redact(request.url.path)
    route = request.scope.get("route")
    return getattr(route, "path", "(redacted)")
