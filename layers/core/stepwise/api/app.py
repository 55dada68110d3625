"""The FastAPI application: routers, error mapping, health."""

from fastapi import FastAPI

from stepwise.api import errors, runs, workflows


def create_app() -> FastAPI:
    app = FastAPI(
        title="Stepwise",
        version="0.1.0",
        description="Workflow runs on AWS serverless: define workflows, start runs, watch them.",
    )
    errors.install(app)
    app.include_router(workflows.router)
    app.include_router(runs.router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
