"""``stepwise workflows``: apply a definition from a file, list, get."""

import uuid
from typing import Any

from stepwise_cli import graph
from stepwise_cli.client import segment as seg
from stepwise_cli.context import Context, Failure, read_document
from stepwise_cli.errors import Exit
from stepwise_cli.render import table, when


def find(ctx: Context, name: str) -> list[dict[str, Any]]:
    """The org's workflows with exactly this name (names are not unique: ids are)."""
    return [w for w in ctx.client.pages("/workflows") if w["name"] == name]


def resolve(ctx: Context, ref: str) -> str:
    """A workflow id, from an id (``wf_…``) or a name that one workflow has."""
    if ref.startswith("wf_"):
        return ref
    found = find(ctx, ref)
    if not found:
        raise Failure(f"no workflow is named {ref!r} (or pass its id, wf_…)", Exit.API_ERROR)
    if len(found) > 1:
        ids = ", ".join(w["id"] for w in found)
        raise Failure(f"{len(found)} workflows are named {ref!r} ({ids}): pass the id")
    return found[0]["id"]


def apply(ctx: Context, path: str, workflow_id: str | None) -> int:
    spec = read_document(path, "workflows apply")
    if not isinstance(spec, dict):
        raise Failure(f"workflows apply: {path} must hold one workflow (a mapping)")
    spec = dict(spec)
    workflow_id = workflow_id or spec.pop("id", None)
    spec.pop("id", None)
    if workflow_id is None and isinstance(spec.get("name"), str):
        found = find(ctx, spec["name"])
        if len(found) > 1:
            ids = ", ".join(w["id"] for w in found)
            raise Failure(f"{len(found)} workflows are named {spec['name']!r} ({ids}): pass --id")
        workflow_id = found[0]["id"] if found else None
    if workflow_id is None:
        # A retry of this same request (429) must not create a second workflow.
        key = {"Idempotency-Key": str(uuid.uuid4())}
        saved = ctx.client.call("POST", "/workflows", spec, headers=key)["data"]
        message = f"created workflow {saved['id']} ({saved['name']}), version 1"
    else:
        saved = ctx.client.call("PUT", f"/workflows/{seg(workflow_id)}", spec)["data"]
        message = f"workflow {saved['id']} ({saved['name']}): saved version {saved['version']}"
    ctx.emit(saved, [message])
    return Exit.OK


def list_(ctx: Context, limit: int) -> int:
    found = list(ctx.client.pages("/workflows", limit=limit))
    rows = [
        [w["id"], w["name"], str(w["latest_version"]), when(w["updated_at"] or w["created_at"])]
        for w in found
    ]
    lines = table(rows, ["ID", "NAME", "VERSION", "SAVED"]) if found else ["no workflows"]
    ctx.emit(found, lines)
    return Exit.OK


def get(ctx: Context, ref: str, version: int | None) -> int:
    workflow_id = resolve(ctx, ref)
    found = ctx.client.call("GET", f"/workflows/{seg(workflow_id)}", query=[("version", version)])
    workflow = found["data"]
    lines = [
        f"{workflow['id']}  {workflow['name']}  version {workflow['version']}",
        *([workflow["description"]] if workflow.get("description") else []),
        f"saved {when(workflow['created_at'])}, run timeout {workflow['timeout']}s",
        "",
        *graph.draw(workflow["nodes"], ctx.style, statuses=False),
    ]
    ctx.emit(workflow, lines)
    return Exit.OK
