"""``stepwise runs`` and ``stepwise approve``: start, find, read, follow and act on runs."""

import json
import uuid
from typing import Any

from stepwise_cli import graph, watch, workflows
from stepwise_cli.client import segment as seg
from stepwise_cli.context import Context, parse_input
from stepwise_cli.errors import Exit
from stepwise_cli.render import compact, duration, table, when


def start(
    ctx: Context, workflow: str, raw_input: str | None, wait: bool, idempotency_key: str | None
) -> int:
    body = {"workflow_id": workflows.resolve(ctx, workflow), "input": parse_input(raw_input)}
    # The same key on a retried request (429) starts no second run.
    key = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
    run = ctx.client.call("POST", "/runs", body, headers=key)["data"]
    return _after_action(ctx, run, f"started {run['id']} ({run['status']})", wait)


def list_(ctx: Context, args: Any) -> int:
    query: list[tuple[str, Any]] = [
        ("status", args.status),
        ("workflow_id", workflows.resolve(ctx, args.workflow) if args.workflow else None),
        ("batch_id", args.batch),
        ("parent_run_id", args.parent),
        ("created_after", args.created_after),
        ("created_before", args.created_before),
        *[("tag", tag) for tag in args.tag or []],
    ]
    found = list(ctx.client.pages("/runs", query, limit=args.limit))
    rows = [
        [
            r["id"],
            ctx.style.status(r["status"]),
            r["workflow_id"] + (f" v{r['workflow_version']}" if r.get("workflow_version") else ""),
            when(r["created_at"]),
            duration(r.get("started_at"), r.get("finished_at")),
        ]
        for r in found
    ]
    headers = ["ID", "STATUS", "WORKFLOW", "CREATED", "TOOK"]
    ctx.emit(found, table(rows, headers) if found else ["no runs"])
    return Exit.OK


def get(ctx: Context, run_id: str) -> int:
    run = ctx.client.call("GET", f"/runs/{seg(run_id)}")["data"]
    ctx.emit(run, describe(ctx, run))
    return Exit.OK


def describe(ctx: Context, run: dict[str, Any]) -> list[str]:
    version = f" v{run['workflow_version']}" if run.get("workflow_version") else ""
    rows = [
        ["run", run["id"]],
        ["status", ctx.style.status(run["status"])],
        ["workflow", run["workflow_id"] + version],
        ["created", f"{when(run.get('created_at'))} by {run.get('created_by') or '-'}"],
        ["started", when(run.get("started_at"))],
        ["finished", when(run.get("finished_at"))],
        ["took", duration(run.get("started_at"), run.get("finished_at"))],
    ]
    for label, field in (("parent", "parent_run_id"), ("batch", "batch_id")):
        if run.get(field):
            rows.append([label, run[field]])
    if run.get("tags"):
        rows.append(["tags", ", ".join(f"{k}={v}" for k, v in sorted(run["tags"].items()))])
    if run.get("error"):
        error = run["error"]
        node = f" (node {error['node']})" if error.get("node") else ""
        rows.append(["error", f"{error.get('type')}: {error.get('message')}{node}"])
    if run.get("status") == "succeeded":
        rows.append(["output", compact(run.get("output"))])
    lines = [f"{label:<9}{value}" for label, value in rows]
    if run.get("nodes"):
        lines += ["", *graph.draw(run["nodes"], ctx.style)]
    return lines


def graph_(ctx: Context, run_id: str, follow: bool) -> int:
    if follow:
        return _wait(ctx, run_id)
    run = ctx.client.call("GET", f"/runs/{seg(run_id)}")["data"]
    if ctx.json:
        nodes = run.get("nodes") or []
        edges = graph.parents(nodes)
        layered = [
            [
                {
                    "ref": n["ref"],
                    "kind": n.get("kind"),
                    "status": n.get("status"),
                    "parents": [{"ref": r, "on": on} for r, on in edges[n["ref"]]],
                }
                for n in row
            ]
            for row in graph.layers(nodes)
        ]
        ctx.emit({"id": run["id"], "status": run["status"], "layers": layered}, [])
        return Exit.OK
    header = f"{run['id']}  {ctx.style.status(run['status'])}  ({run['workflow_id']})"
    ctx.emit(run, [header, *graph.draw(run.get("nodes") or [], ctx.style)])
    return Exit.OK


def logs(ctx: Context, run_id: str, follow: bool) -> int:
    collected: list[dict[str, Any]] = []

    def emit(line: dict[str, Any]) -> None:
        if ctx.json and not follow:
            collected.append(line)
            return
        if ctx.json:  # JSON Lines: one object per line, as each arrives
            print(json.dumps(line, ensure_ascii=False), file=ctx.out, flush=True)
            return
        node = f" [{line['node_ref']}]" if line.get("node_ref") else ""
        stamp = (line.get("timestamp") or "").replace("T", " ")[:23]
        level = str(line.get("level", "")).upper()
        print(f"{stamp}  {level:<7}{node} {line.get('message')}", file=ctx.out, flush=True)

    watch.follow_logs(ctx.client, run_id, emit, follow, interval=ctx.interval)
    if ctx.json and not follow:
        ctx.emit(collected, [])
    return Exit.OK


def history(ctx: Context, run_id: str, limit: int | None) -> int:
    events = list(ctx.client.pages(f"/runs/{seg(run_id)}/history", limit=limit, page_max=1000))
    rows = []
    for event in events:
        detail = ""
        if event.get("failure"):
            failure = event["failure"]
            detail = f"{failure.get('type', '')}: {failure.get('message', '')}"
        elif event.get("reason"):
            detail = event["reason"]
        rows.append(
            [
                str(event["event_id"]),
                when(event.get("event_time")),
                event["event_type"],
                event.get("node_ref") or "",
                str(event.get("attempt") or ""),
                detail,
            ]
        )
    headers = ["#", "TIME", "EVENT", "NODE", "ATTEMPT", "DETAIL"]
    ctx.emit(events, table(rows, headers) if events else ["no events"])
    return Exit.OK


def act(ctx: Context, run_id: str, action: str, body: dict[str, Any] | None, wait: bool) -> int:
    """cancel, pause, resume: the run as the API answers, then optionally waits."""
    body = {k: v for k, v in (body or {}).items() if v is not None}
    answer = ctx.client.call("POST", f"/runs/{seg(run_id)}/{action}", body or None)
    run = (answer or {}).get("data") or {"id": run_id, "status": "?"}
    return _after_action(ctx, run, f"{run_id}: {action} accepted (run {run['status']})", wait)


def redrive(ctx: Context, args: Any) -> int:
    """``POST /runs/{id}/redrive`` (202): the same run, queued again; --wait follows it."""
    body = _repair_body(args, workflow_version=args.workflow_version, reason=args.reason)
    run = ctx.client.call(
        "POST", f"/runs/{seg(args.run)}/redrive", body or None, headers=_once(args)
    )["data"]
    message = f"{args.run}: redrive accepted (run {run['status']}"
    message += f", redrive {run['redrive_count']})" if run.get("redrive_count") else ")"
    return _after_action(ctx, run, message, args.wait)


def rerun(ctx: Context, args: Any) -> int:
    """``POST /runs/{id}/rerun`` (201): a new run, ``rerun_of`` the old; --wait follows it."""
    body = _repair_body(args, workflow_version=args.workflow_version)
    body = {"from": args.from_ref, **body}
    run = ctx.client.call("POST", f"/runs/{seg(args.run)}/rerun", body, headers=_once(args))["data"]
    rerun_of = run.get("rerun_of") or args.run
    message = f"started {run['id']} ({run['status']}), a rerun of {rerun_of} from {args.from_ref}"
    return _after_action(ctx, run, message, args.wait)


def _repair_body(args: Any, **fields: Any) -> dict[str, Any]:
    """The fields given; ``input`` whenever --input is, even ``null`` (it replaces the input:
    leaving --input out keeps the run's)."""
    body = {k: v for k, v in fields.items() if v is not None}
    if args.input is not None:
        body["input"] = parse_input(args.input)
    return body


def _once(args: Any) -> dict[str, str]:
    """An Idempotency-Key: a 429 retried by the client redrives (or reruns) once, and a script
    that passes its own key can run the whole command again safely."""
    return {"Idempotency-Key": args.idempotency_key or str(uuid.uuid4())}


def approve(ctx: Context, run_id: str, ref: str, reject: bool, comment: str | None) -> int:
    decision = "reject" if reject else "approve"
    body = {"decision": decision, "comment": comment}
    node = ctx.client.call(
        "POST",
        f"/runs/{seg(run_id)}/nodes/{seg(ref)}/approval",
        {k: v for k, v in body.items() if v},
    )["data"]
    verb = "rejected" if reject else "approved"
    ctx.emit(node, [f"{run_id} {ref}: {verb} (node {node.get('status')})"])
    return Exit.OK


def _after_action(ctx: Context, run: dict[str, Any], message: str, wait: bool) -> int:
    if not wait:
        ctx.emit(run, [message])
        return Exit.OK
    if not ctx.json:
        print(message, file=ctx.out, flush=True)
    return _wait(ctx, run["id"])


def _wait(ctx: Context, run_id: str) -> int:
    """Follows the run to its end: exit 0 when it succeeded, 1 otherwise."""
    progress = watch.Progress(ctx.out, ctx.style, live=ctx.live)
    try:
        run = watch.wait_for_run(
            ctx.client,
            run_id,
            None if ctx.json else progress.update,
            interval=ctx.interval,
        )
    except KeyboardInterrupt:
        print(
            f"\nstopped waiting; {run_id} goes on (stepwise runs get {run_id})",
            file=ctx.err,
            flush=True,
        )
        raise
    if ctx.json:
        ctx.emit(run, [])
    else:
        took = duration(run.get("started_at"), run.get("finished_at"))
        final = f"{run_id} {ctx.style.status(run['status'])} in {took}"
        if run.get("error"):
            error = run["error"]
            node = f" (node {error['node']})" if error.get("node") else ""
            final += f": {error.get('type')}: {error.get('message')}{node}"
        elif run["status"] == "succeeded":
            final += f"\noutput: {compact(run.get('output'))}"
        print(final, file=ctx.out, flush=True)
    return Exit.OK if run["status"] == "succeeded" else Exit.RUN_FAILED
