"""Schemathesis against the API's own OpenAPI document, in-process on moto: generated requests
to every operation get no 5xx, and every answer the document describes matches its schema."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from stepwise.api.app import create_app
from stepwise_local.stack import DEFAULT_API_KEY, LocalStack
from tests.conftest import QUIET

app = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def module_stack():
    with LocalStack(execute_state_machines=False, parameters=QUIET) as stack:
        yield stack


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    # The same examples on every run: a failure here is a finding to fix, never a flake.
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_keeps_its_contract(case, module_stack):
    if "org_id" in (case.path_parameters or {}):
        case.path_parameters["org_id"] = module_stack.org_id
    case.call_and_validate(
        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
