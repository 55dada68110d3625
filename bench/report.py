"""bench/REPORT.md from bench/results.json: short, and the same shape on every commit."""

from typing import Any

from bench.budgets import ROWS, by_row

# Below the cost table: what else the bench measures per unit.
MORE_LABELS = {
    "for_each_item_transform": "for_each item (transform)",
    "for_each_item_action": "for_each item (action, answered 200)",
    "emitting_native_node": "native node emitting an event",
    "average_node_of_a_21_node_run": "average node of a 21-node run (run included)",
}


def _money(value: float) -> str:
    return f"${value:.4f}"


def _limit(budget: dict[str, Any]) -> str:
    prefix = "$" if budget.get("unit") == "$" else ""
    return f"≤ {prefix}{budget['limit']}"


def _measured(budget: dict[str, Any]) -> str:
    if budget.get("unit") == "$":
        return f"${budget['measured']:.4f}"
    return str(budget["measured"])


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Stepwise benchmarks",
        "",
        f"Commit `{results['commit']}`, {results['date']}, Python {results['machine']['python']}"
        f" on {results['machine']['cpus']} CPUs. Everything runs on the local stack (moto, in",
        "one process): counts are exact, times are this machine's. `make bench` writes this",
        "file and `bench/results.json`.",
        *([""] + results["notes"] if results.get("notes") else []),
        "",
        "## Budgets",
        "",
        "A broken budget fails `make bench` (after this file and `bench/results.json` are",
        "written); an aim is reported, met or missed, and fails nothing.",
        "",
        "| budget | limit | measured | | aim | |",
        "|---|---|---|---|---|---|",
    ]
    for budget in results["budgets"]:
        mark = "pass" if budget["passed"] else "**FAIL**"
        aim = budget.get("aim")
        aim_mark = "" if aim is None else ("met" if budget.get("aim_met") else "missed")
        prefix = "$" if budget.get("unit") == "$" else ""
        lines.append(
            f"| {budget.get('label', budget['budget'])} | {_limit(budget)} "
            f"| {_measured(budget)} | {mark} "
            f"| {'' if aim is None else f'≤ {prefix}{aim}'} | {aim_mark} |"
        )
    cost = results["cost"]
    prices = results["prices"]
    lines += [
        "",
        f"## Cost per 1,000 (us-east-1 list prices checked {prices['checked']})",
        "",
        "Counted from real runs: state transitions from execution histories, Lambda",
        "invocations and GB-seconds where the handlers run, DynamoDB units from item sizes by",
        "DynamoDB's rules, EventBridge events as PutEvents bills them (per entry, each 64 KB",
        "of an entry one event), SQS requests to the queues template.yaml declares, S3, Secrets",
        "Manager and API requests as made. What the local stack does for itself is not billed:",
        "its lifecycle events' queue (a consumer's, on AWS), its pollers' empty receives and its",
        "scheduler (paused while the bench measures). An invocation is",
        "billed for what it would take on AWS (bench/aws_time.py): its handler's CPU time,",
        "stretched to Lambda's share of a vCPU at the function's memory (one vCPU at 1,769 MB),",
        "plus each AWS call at a stated latency (DynamoDB 10 ms, most others 30 ms) and each",
        "request to a destination at 100 ms. Its wall time here, in one process with moto and",
        "every other thread, is shown beside it (Lambda time below) and is not billed. An Express",
        "execution is billed for its Lambda tasks at those times, its Waits as waited and 20 ms",
        "a state. The bench warms every path up before it measures: cold starts are measured",
        "apart (Cold start, below).",
        "",
        "| per 1,000 | transitions | Express executions | invocations | write units | read units"
        " | Standard | Express | Stepwise | budget | Temporal Cloud | plain Step Functions |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    budgets = by_row(results["budgets"])
    for name, label in ROWS.items():
        if name in cost["per_unit"]:
            lines.append(_cost_row(label, cost["per_unit"][name], budgets.get(name)))
    lines += [
        "",
        "Measured besides (the for_each row shows the dearer of the two items):",
        "",
        "| per 1,000 | transitions | Express executions | invocations | write units | read units"
        " | Standard | Express | Stepwise | | Temporal Cloud | plain Step Functions |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, label in MORE_LABELS.items():
        if name in cost["per_unit"]:
            lines.append(_cost_row(label, cost["per_unit"][name], None))
    lines += [
        "",
        "Lambda time per 1,000, billed (as on AWS) and measured here (in-process wall time):",
        "",
        "| per 1,000 | invocations | GB-s billed | GB-s in-process wall |",
        "|---|---|---|---|",
    ]
    for name, label in {**ROWS, **MORE_LABELS}.items():
        if name in cost["per_unit"]:
            billed = cost["per_unit"][name]["billed"]
            lines.append(
                f"| {label} | {billed['lambda_invocations'] * 1000:,.0f} "
                f"| {billed['lambda_gb_seconds'] * 1000:,.1f} "
                f"| {billed.get('lambda_wall_gb_seconds', 0) * 1000:,.1f} |"
            )
    lines += [
        "",
        "Standard: state transitions at $0.025 per 1,000. Express: $1 per million executions",
        "plus $0.00001667 per GB-second, each execution's duration as above rounded up",
        "to 100 ms at 64 MB (a machine's type is read from template.yaml). EventBridge: $1 per",
        "million custom events (a run's lifecycle event is one). Temporal Cloud: one",
        "action per activity attempt (an asynchronously completed one too; a run start is one",
        "more), at $50 per million actions. Plain Step Functions: one Standard Task state per",
        "node invoking a Lambda for the same billed duration, with nothing recorded for",
        "querying.",
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
    ]
    lines += _profiles(results.get("profiles"))
    lines += [
        "",
        f"The whole bench took {results['seconds']} s.",
        "",
    ]
    return "\n".join(lines)


def _cost_row(label: str, unit: dict[str, Any], budget: dict[str, Any] | None) -> str:
    billed, usd = unit["billed"], unit["usd_per_1000"]
    limit = ""
    if budget is not None:
        limit = _limit(budget) + ("" if budget["passed"] else " **FAIL**")
    return (
        f"| {label} | {billed['transitions'] * 1000:,.0f} "
        f"| {billed.get('express_requests', 0) * 1000:,.0f} "
        f"| {billed['lambda_invocations'] * 1000:,.0f} "
        f"| {billed['write_units'] * 1000:,.0f} | {billed['read_units'] * 1000:,.0f} "
        f"| {_money(usd.get('stepfunctions', 0.0))} "
        f"| {_money(usd.get('stepfunctions_express', 0.0))} "
        f"| {_money(usd['total'])} | {limit} "
        f"| {_money(unit['temporal_cloud_usd_per_1000'])} "
        f"| {_money(unit['plain_step_functions_usd_per_1000'])} |"
    )


PROFILED = {"fan_out": "the fan-out", "burst": "the burst"}


def _profiles(profiles: dict[str, Any] | None) -> list[str]:
    if not profiles:
        return []
    lines = [
        "",
        "## Where the time goes (cProfile over every thread)",
        "",
        "Each workload ran once more in a stack of its own under cProfile, every thread",
        "profiled (bench/profile.py); the profiler slows it. Thread times add up to more than",
        "the wall time. Waiting is blocking calls (sleeps, lock and event waits, sockets),",
        "time queued for the local stack's DynamoDB lock, and short system calls that",
        "release the GIL (their wall time is mostly getting it back); the last column leaves",
        "all three out.",
    ]
    for name, label in PROFILED.items():
        profile = profiles.get(name)
        if not profile:
            continue
        measured = profile["measured_under_profile"]
        rate = measured.get("nodes_per_second", measured.get("runs_per_second"))
        unit = "nodes/s" if "nodes_per_second" in measured else "runs/s"
        lines += [
            "",
            f"### {label.capitalize()}: {profile['wall_seconds']} s wall under the profiler"
            f" ({rate} {unit}), {profile['profiled_thread_seconds']} s of thread time",
            "",
            "| area | share of thread time | share of the time not waiting |",
            "|---|---|---|",
        ]
        busy = profile["busy_share_percent"]
        for area, share in profile["share_percent"].items():
            lines.append(f"| {area} | {share}% | {f'{busy[area]}%' if area in busy else ''} |")
        for key, title in (("top_cumulative", "cumulative"), ("top_own", "own")):
            lines += [
                "",
                f"Top functions by {title} time (waits and thread plumbing left out):",
                "",
                "| function | calls | own s | cumulative s |",
                "|---|---|---|---|",
            ]
            for row in profile[key]:
                lines.append(
                    f"| `{row['function']}` | {row['calls']:,} | {row['own_s']} "
                    f"| {row['cumulative_s']} |"
                )
    return lines
