"""Cold start: import and init of each function's handler module in fresh processes.

Each sample is a new interpreter that imports the handler module (what Lambda's init phase
does) and then serves one request that needs no AWS call (init plus first invoke). The same is
measured for a bare FastAPI + Mangum hello handler and a bare Powertools handler, in the same
run, so the ratios do not depend on the machine.

The API is measured twice: with ``GET /healthz`` as its first request, and with an org-scoped
route (``GET /v1/orgs/acme/runs`` without a key: routing, the route's dependencies and the 401
answer, but no AWS call). Work the API leaves to the first request that needs it shows there.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = 10

# The child: time the import, then one invocation, report peak memory.
_PROBE = textwrap.dedent(
    """
    import importlib, json, resource, sys, time
    sys.path[:0] = {paths!r}
    started = time.perf_counter()
    module = importlib.import_module({module!r})
    imported = time.perf_counter()
    event = json.loads({event!r})
    if event is not None:
        class Context:
            function_name = "bench"; memory_limit_in_mb = 512; aws_request_id = "r"
            invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
            def get_remaining_time_in_millis(self): return 30000
        module.handler(event, Context())
    served = time.perf_counter()
    # VmHWM is this process's own peak; ru_maxrss keeps the parent's across exec on Linux.
    try:
        with open("/proc/self/status") as status:
            line = next(l for l in status if l.startswith("VmHWM:"))
        peak_kb = int(line.split()[1])
    except OSError:
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({{
        "init_ms": (imported - started) * 1000,
        "first_invoke_ms": (served - started) * 1000,
        "peak_rss_mb": peak_kb / 1024,
    }}))
    """
)

_BARE_FASTAPI = textwrap.dedent(
    """
    from fastapi import FastAPI
    from mangum import Mangum

    app = FastAPI()


    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}


    handler = Mangum(app, lifespan="off")
    """
)

_BARE_POWERTOOLS = textwrap.dedent(
    """
    from aws_lambda_powertools import Logger, Metrics, Tracer

    logger = Logger(service="bare")
    tracer = Tracer(service="bare")
    metrics = Metrics(namespace="bare", service="bare")


    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    def handler(event, context):
        return {"ok": True}
    """
)

_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_NAMESPACE": "bench",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "TABLE_NAME": "bench",
    "PAYLOAD_BUCKET": "bench",
    "STAGE": "dev",
    "RUN_RETENTION_DAYS": "1",
}


def _healthz_event() -> dict:
    sys.path[:0] = [str(ROOT)]
    from stepwise_local.events import http_event

    return http_event("GET", "/healthz", key=None)


def _org_route_event() -> dict:
    sys.path[:0] = [str(ROOT)]
    from stepwise_local.events import http_event

    return http_event("GET", "/v1/orgs/acme/runs", key=None)


def sample(module: str, paths: list[str], event: dict | None) -> dict[str, float]:
    code = _PROBE.format(paths=paths, module=module, event=json.dumps(event))
    env = {**os.environ, **_ENV, "PYTHONDONTWRITEBYTECODE": "0"}
    done = subprocess.run(  # noqa: S603 our own interpreter and probe
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


FUNCTIONS = sorted(
    path.parent.name
    for path in (ROOT / "functions").glob("*/app.py")
    if path.parent.name != "api"  # measured twice above, with its first request
)


def measure(samples: int = SAMPLES) -> dict[str, dict[str, float]]:
    healthz = _healthz_event()
    org_route = _org_route_event()
    with tempfile.TemporaryDirectory() as scratch:
        Path(scratch, "bare_fastapi.py").write_text(_BARE_FASTAPI)
        Path(scratch, "bare_powertools.py").write_text(_BARE_POWERTOOLS)
        core = str(ROOT / "layers" / "core")
        subjects = {
            "bare_fastapi_mangum": ("bare_fastapi", [scratch], healthz),
            "bare_powertools": ("bare_powertools", [scratch], {}),
            "api": ("app", [str(ROOT / "functions" / "api"), core], healthz),
            "api_org_route": ("app", [str(ROOT / "functions" / "api"), core], org_route),
            # Every other function of functions/, so a new one is measured without a change here.
            **{name: ("app", [str(ROOT / "functions" / name), core], None) for name in FUNCTIONS},
        }
        for module, paths, event in subjects.values():
            sample(module, paths, event)  # a warm-up writes the bytecode caches
        # Rounds of one sample each, so a slower spell of a shared machine hits every subject
        # alike instead of the few measured during it.
        rounds = [
            {name: sample(*subject) for name, subject in subjects.items()} for _ in range(samples)
        ]
        results = {}
        for name in subjects:
            runs = [each[name] for each in rounds]
            results[name] = {
                "samples": samples,
                "init_ms_median": round(statistics.median(r["init_ms"] for r in runs), 1),
                "first_invoke_ms_median": round(
                    statistics.median(r["first_invoke_ms"] for r in runs), 1
                ),
                "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
            }
    bare_api = results["bare_fastapi_mangum"]["init_ms_median"]
    bare_tools = results["bare_powertools"]["init_ms_median"]
    for name in ("api", "api_org_route", *FUNCTIONS):
        results[name]["ratio_to_bare_fastapi_mangum"] = round(
            results[name]["init_ms_median"] / bare_api, 2
        )
        results[name]["ratio_to_bare_powertools"] = round(
            results[name]["init_ms_median"] / bare_tools, 2
        )
    for name in ("api", "api_org_route"):
        results[name]["first_invoke_ratio_to_bare_fastapi_mangum"] = round(
            results[name]["first_invoke_ms_median"]
            / results["bare_fastapi_mangum"]["first_invoke_ms_median"],
            2,
        )
    return results


if __name__ == "__main__":
    print(json.dumps(measure(samples=5), indent=2))
