"""bench/REPORT.md from bench/results.json: short, and the same shape on every commit."""

from typing import Any

UNIT_LABELS = {
    "native_node": "native node (transform, inline)",
    "emitting_native_node": "native node emitting an event",
    "webhook_node": "webhook node (action, 200)",
    "for_each_item": "for_each item (transform)",
    "retried_attempt": "retried attempt (webhook 500, then 200)",
    "run_overhead": "per run (create, start, finish)",
}


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Stepwise benchmarks",
        "",
        f"Commit `{results['commit']}`, {results['date']}, Python {results['machine']['python']}"
        f" on {results['machine']['cpus']} CPUs. Everything runs on the local stack (moto, in",
        "one process): counts are exact, times are this machine's. `make bench` writes this",
        "file and `bench/results.json`.",
        "",
        "## Budgets",
        "",
        "| budget | limit | measured | |",
        "|---|---|---|---|",
    ]
    for budget in results["budgets"]:
        mark = "pass" if budget["passed"] else "**FAIL**"
        lines.append(f"| {budget['budget']} | {budget['limit']} | {budget['measured']} | {mark} |")
    cost = results["cost"]
    prices = results["prices"]
    lines += [
        "",
        f"## Cost per 1,000 (us-east-1 list prices checked {prices['checked']})",
        "",
        "Counted from real runs: state transitions from execution histories, Lambda",
        "invocations and GB-seconds where the handlers run, DynamoDB units from item sizes by",
        "DynamoDB's rules, SQS, S3, Secrets Manager and API requests as made. Lambda durations",
        "are measured in-process on moto (slower than DynamoDB itself), so the Lambda line is",
        "an overestimate.",
        "",
        "| per 1,000 | transitions | invocations | write units | read units | Stepwise |"
        " Temporal Cloud | plain Step Functions |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, label in UNIT_LABELS.items():
        if name not in cost["per_unit"]:
            continue  # results from before the unit was measured
        unit = cost["per_unit"][name]
        billed = unit["billed"]
        lines.append(
            f"| {label} | {billed['transitions'] * 1000:,.0f} "
            f"| {billed['lambda_invocations'] * 1000:,.0f} "
            f"| {billed['write_units'] * 1000:,.0f} | {billed['read_units'] * 1000:,.0f} "
            f"| ${unit['usd_per_1000']['total']:.4f} "
            f"| ${unit['temporal_cloud_usd_per_1000']:.4f} "
            f"| ${unit['plain_step_functions_usd_per_1000']:.4f} |"
        )
    lines += [
        "",
        "Temporal Cloud: one action per activity attempt (a run start is one more), at",
        "$50 per million actions. Plain Step Functions: one Standard Task state per node",
        "invoking a Lambda for the same measured duration, with nothing recorded for querying.",
        "",
        "## Cold start (median of fresh processes)",
        "",
        "| handler | init ms | init + first invoke ms | peak RSS MB | init vs bare"
        " FastAPI+Mangum | init + first invoke vs bare |",
        "|---|---|---|---|---|---|",
    ]
    cold = results["cold_start"]
    for name, row in cold.items():
        ratio = row.get("ratio_to_bare_fastapi_mangum", 1.0)
        first = row.get("first_invoke_ratio_to_bare_fastapi_mangum")
        lines.append(
            f"| {name} | {row['init_ms_median']} | {row['first_invoke_ms_median']} "
            f"| {row['peak_rss_mb']} | {ratio}x | {f'{first}x' if first else ''} |"
        )
    lines += [
        "",
        "`api` serves `GET /healthz` as its first request, `api_org_route` an org-scoped route",
        "(`GET /v1/orgs/acme/runs` without a key: routing, dependencies and the 401, no AWS",
        "call). The first invoke of the bare handler is the baseline of the last column. The",
        "API builds a router's routes on the first request that needs them, so init + first",
        "invoke is the cold start a caller waits for; the budget is on init alone.",
    ]
    api = results["api_overhead"]
    lines += [
        "",
        "## API overhead (in-process through Mangum, on moto)",
        "",
        "| request | p50 ms | p99 ms | its DynamoDB calls alone, p50 ms | ratio |",
        "|---|---|---|---|---|",
    ]
    for name, row in api.items():
        lines.append(
            f"| {name} ({', '.join(row['dynamodb_calls'])}) | {row['api_p50_ms']} "
            f"| {row['api_p99_ms']} | {row['raw_dynamodb_p50_ms']} | {row['ratio_p50']}x |"
        )
    flow = results["throughput"]
    delivery = results["dispatcher"]
    lines += [
        "",
        "## Throughput of the local stack",
        "",
        f"- {flow['fan_out']['nodes']}-node fan-out: {flow['fan_out']['nodes_per_second']}"
        f" nodes/s ({flow['fan_out']['seconds']} s)",
        f"- {flow['burst']['runs']}-run burst of diamonds: {flow['burst']['runs_per_second']}"
        f" runs/s ({flow['burst']['succeeded']} succeeded, {flow['burst']['seconds']} s)",
        f"- waits with a {flow['critical_path']['critical_path_seconds']} s critical path:"
        f" {flow['critical_path']['wall_seconds']} s wall,"
        f" {flow['critical_path']['ratio']}x the critical path",
        f"- dispatcher: {delivery['dispatcher_per_second']} deliveries/s against the local"
        f" receiver; a plain urllib3 loop to it: {delivery['plain_urllib3_per_second']}/s",
        "",
        f"The whole bench took {results['seconds']} s.",
        "",
    ]
    return "\n".join(lines)
