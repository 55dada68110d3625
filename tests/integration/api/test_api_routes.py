"""The API builds a router's routes on the first request that needs them: every route is
reached from a cold app, and the app ends up the same whatever the order of first requests."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stepwise.api.app import ROUTE_GROUPS, create_app

ROOT = Path(__file__).resolve().parents[3]


def fully_built():
    app = create_app()
    app.openapi()  # builds every group
    return app


def concrete(template: str) -> str:
    return re.sub(r"\{\w+\}", "x1", template)


def ours(app):
    return app.routes[4:]  # after FastAPI's own: /openapi.json and the docs


ROUTES = ours(fully_built())


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{','.join(sorted(r.methods))} {r.path}")
def test_a_cold_app_builds_the_route_a_request_needs(route):
    app = create_app()
    app.state.route_groups.build_for(concrete(route.path))
    assert route in ours(app)
    assert len(ours(app)) < len(ROUTES)  # only what that path needs


def test_an_unknown_path_builds_every_route():
    """So it gets the 404, 405 or slash redirect it got when every route was there."""
    app = create_app()
    app.state.route_groups.build_for("/v1/orgs/acme/nothing-here")
    assert ours(app) == ROUTES


def test_the_order_of_first_requests_changes_nothing():
    """Routes keep their order (matching and the OpenAPI document depend on it)."""
    app = create_app()
    for route in reversed(ROUTES):
        app.state.route_groups.build_for(concrete(route.path))
    full = fully_built()
    assert ours(app) == ours(full)
    assert json.dumps(app.openapi()) == json.dumps(full.openapi())


def test_importing_the_handler_builds_no_router():
    """The cold start of the API: its init imports no router module."""
    probe = (
        "import sys, functions.api.app; "
        "print([m for m in sys.modules if m.startswith('stepwise.api.')])"
    )
    done = subprocess.run(  # noqa: S603 our own interpreter and probe
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'layers' / 'core'}", "AWS_DEFAULT_REGION": "us-east-1"},
    )
    loaded = set(ast.literal_eval(done.stdout.strip()))
    assert not loaded & {group.module for group in ROUTE_GROUPS}, loaded


def test_a_route_added_to_the_app_survives_the_groups_being_built():
    """The local stack adds /local/lifecycle-events after making the app."""
    app = create_app()
    app.add_api_route("/local/extra", lambda: {"ok": True}, methods=["GET"])
    app.state.route_groups.build_for("/v1/orgs/acme/runs")
    app.state.route_groups.build_all()
    assert [r.path for r in app.routes].count("/local/extra") == 1
    assert len(ours(app)) == len(ROUTES) + 1
