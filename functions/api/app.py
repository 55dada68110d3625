"""API Gateway (HTTP API) -> FastAPI through Mangum."""

import gc

from aws_lambda_powertools.logging import correlation_paths
from mangum import Mangum

from stepwise.api.app import create_app
from stepwise.core.observability import log_metrics, logger
from stepwise.infra import snapstart

app = create_app()
_asgi = Mangum(app, lifespan="off")
# What init built (modules, classes, the app) lives as long as the process: frozen, it is left
# out of every later full collection, the first request's included (it builds its routes).
gc.freeze()
# With SnapStart (ApiSnapStart), the snapshot also holds every route; restored environments
# reseed randomness and make their own AWS clients. Elsewhere this registers nothing.
snapstart.register(app.state.route_groups.build_all)


# No Powertools tracer here: its X-Ray SDK would double the API's cold start. Lambda's active
# tracing (template.yaml) still records every invocation.
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@log_metrics
def handler(event: dict, context: object) -> dict:
    return _asgi(event, context)
