"""The table's key formats: the only module that builds PK/SK/GSI strings."""

from typing import Any, NamedTuple


class Index(NamedTuple):
    """A global secondary index: its name and its key attributes."""

    name: str
    pk: str
    sk: str


GSI1 = Index("GSI1", "GSI1PK", "GSI1SK")  # an org's lists (workflows, keys...), run tags
GSI2 = Index("GSI2", "GSI2PK", "GSI2SK")  # an org's runs of one workflow
GSI3 = Index("GSI3", "GSI3PK", "GSI3SK")  # an org's runs in one status


def key_of(item: dict[str, Any]) -> dict[str, str]:
    """The table key of an item as read."""
    return {"PK": item["PK"], "SK": item["SK"]}


RUN_SK = "RUN"
LOG_PREFIX = "LOG#"
PROGRESS_SK = "PROGRESS"
NODE_PREFIX = "NODE#"
RUN_TAG_PREFIX = "INDEX#TAG#"
WORKFLOW_SK = "WORKFLOW"
WORKFLOW_VERSION_PREFIX = "V#"
API_KEY_SK = "APIKEY"
STATUS_INDEX_PK = GSI3.pk  # moved with every status change


def api_key(key_hash: str) -> dict[str, str]:
    return {"PK": f"APIKEY#{key_hash}", "SK": API_KEY_SK}


def api_keys_index(org_id: str, key_id: str) -> dict[str, str]:
    """An org's API keys, listed by id (the key item itself is found by the key's hash)."""
    return {"GSI1PK": api_keys_index_pk(org_id), "GSI1SK": key_id}


def api_keys_index_pk(org_id: str) -> str:
    return f"ORG#{org_id}#APIKEYS"


def workflow_pk(org_id: str, workflow_id: str) -> str:
    return f"ORG#{org_id}#WF#{workflow_id}"


def workflow_head(org_id: str, workflow_id: str) -> dict[str, str]:
    return {"PK": workflow_pk(org_id, workflow_id), "SK": WORKFLOW_SK}


def workflow_version(org_id: str, workflow_id: str, version: int) -> dict[str, str]:
    return {"PK": workflow_pk(org_id, workflow_id), "SK": f"{WORKFLOW_VERSION_PREFIX}{version:08d}"}


def node_events_pk(org_id: str, workflow_id: str, ref: str) -> str:
    """The events of one node of a workflow (seed 003), across its runs and versions."""
    return f"ORG#{org_id}#WF#{workflow_id}#NODE#{ref}#EVENTS"


def node_event(org_id: str, workflow_id: str, ref: str, event_id: str) -> dict[str, str]:
    """One node event; event ids sort by time."""
    return {"PK": node_events_pk(org_id, workflow_id, ref), "SK": event_id}


def workflows_index_pk(org_id: str) -> str:
    """GSI1's partition of an org's workflow heads, sorted by workflow id (time-ordered)."""
    return f"ORG#{org_id}#WORKFLOWS"


def workflows_index(org_id: str, workflow_id: str) -> dict[str, str]:
    return {"GSI1PK": workflows_index_pk(org_id), "GSI1SK": workflow_id}


def run_pk(org_id: str, run_id: str) -> str:
    return f"ORG#{org_id}#RUN#{run_id}"


def run(org_id: str, run_id: str) -> dict[str, str]:
    return {"PK": run_pk(org_id, run_id), "SK": RUN_SK}


def descendants(org_id: str, root_run_id: str) -> dict[str, str]:
    """How many child runs (at any depth) a root run has started: in the root's partition,
    before its log lines and nodes (reads of those never see it)."""
    return {"PK": run_pk(org_id, root_run_id), "SK": "DESCENDANTS"}


def progress(org_id: str, run_id: str, bucket: int | None = None) -> dict[str, str]:
    """Which nodes have settled, in small items of their own (see ``Store.record_node_settled``):
    one per bucket of node positions, and one (``bucket`` None) for the full buckets."""
    suffix = "" if bucket is None else f"#{bucket:03d}"
    return {"PK": run_pk(org_id, run_id), "SK": f"{PROGRESS_SK}{suffix}"}


def run_log(org_id: str, run_id: str, log_id: str) -> dict[str, str]:
    """A log line of a run; in the run's partition, before its nodes."""
    return {"PK": run_pk(org_id, run_id), "SK": f"{LOG_PREFIX}{log_id}"}


def node(org_id: str, run_id: str, ref: str) -> dict[str, str]:
    return {"PK": run_pk(org_id, run_id), "SK": f"{NODE_PREFIX}{ref}"}


def item_pk(org_id: str, run_id: str, ref: str) -> str:
    """A for_each node's item records live in a partition of their own, apart from the run's."""
    return f"ORG#{org_id}#RUN#{run_id}#ITEMS#{ref}"


def item(org_id: str, run_id: str, ref: str, index: int) -> dict[str, str]:
    return {"PK": item_pk(org_id, run_id, ref), "SK": f"ITEM#{index:06d}"}


def record(org_id: str, run_id: str, ref: str, index: int | None) -> dict[str, str]:
    """A node, or one item of a for_each node when ``index`` is given."""
    return node(org_id, run_id, ref) if index is None else item(org_id, run_id, ref, index)


def runs_by_workflow(org_id: str, workflow_id: str, run_id: str) -> dict[str, str]:
    """An org's runs of one workflow (GSI2), by time."""
    return {"GSI2PK": runs_by_workflow_pk(org_id, workflow_id), "GSI2SK": run_id}


def runs_by_workflow_pk(org_id: str, workflow_id: str) -> str:
    return f"ORG#{org_id}#WF#{workflow_id}#RUNS"


def run_tag(org_id: str, run_id: str, slot: int) -> dict[str, str]:
    """One tag of a run, in the run's partition; ``slot`` is its place among the run's tags in
    key order. The sort key comes before ``NODE#``, so reading a run with its nodes skips it."""
    return {"PK": run_pk(org_id, run_id), "SK": f"{RUN_TAG_PREFIX}{slot:02d}"}


def runs_by_tag(org_id: str, key: str, value: str, run_id: str) -> dict[str, str]:
    """An org's runs with one tag (GSI1, on the run's tag items), by run id."""
    return {"GSI1PK": runs_by_tag_pk(org_id, key, value), "GSI1SK": run_id}


def runs_by_tag_pk(org_id: str, key: str, value: str) -> str:
    # Tag keys and values follow AWS's tag rules, which leave out "#": the key is unambiguous.
    return f"ORG#{org_id}#TAG#{key}#{value}#RUNS"


def runs_by_status(org_id: str, status: str, run_id: str) -> dict[str, str]:
    """An org's runs in one status (GSI3), by time; moved on every status change."""
    return {STATUS_INDEX_PK: runs_by_status_pk(org_id, status), "GSI3SK": run_id}


def runs_by_status_pk(org_id: str, status: str) -> str:
    return f"ORG#{org_id}#STATUS#{status}#RUNS"


def run_counts(org_id: str) -> dict[str, str]:
    """An org's run totals (all, per status, per workflow) as releases before sharded counters
    kept them: read (and summed with the shards), never written."""
    return {"PK": f"ORG#{org_id}", "SK": "RUNCOUNTS"}


def run_counts_shard(org_id: str, shard: int) -> dict[str, str]:
    """One shard of an org's run totals; each shard has a partition key of its own, so that the
    shards spread over partitions (see ``runs/counters.py``)."""
    return {"PK": f"ORG#{org_id}#RUNCOUNTS#{shard:03d}", "SK": "RUNCOUNTS"}


def credential(org_id: str, credential_id: str) -> dict[str, str]:
    return {"PK": f"ORG#{org_id}#CRED#{credential_id}", "SK": "CREDENTIAL"}


def credentials_index(org_id: str, credential_id: str) -> dict[str, str]:
    return {"GSI1PK": credentials_index_pk(org_id), "GSI1SK": credential_id}


def credentials_index_pk(org_id: str) -> str:
    return f"ORG#{org_id}#CREDENTIALS"


def destination(org_id: str, destination_id: str) -> dict[str, str]:
    return {"PK": f"ORG#{org_id}#DEST#{destination_id}", "SK": "DESTINATION"}


def destinations_index(org_id: str, destination_id: str) -> dict[str, str]:
    return {"GSI1PK": destinations_index_pk(org_id), "GSI1SK": destination_id}


def destinations_index_pk(org_id: str) -> str:
    return f"ORG#{org_id}#DESTINATIONS"


def action_head(org_id: str, name: str) -> dict[str, str]:
    return {"PK": f"ORG#{org_id}#ACT#{name}", "SK": "ACTION"}


def action_version(org_id: str, name: str, version: int) -> dict[str, str]:
    return {"PK": f"ORG#{org_id}#ACT#{name}", "SK": f"V#{version:08d}"}


def actions_index(org_id: str, name: str) -> dict[str, str]:
    return {"GSI1PK": actions_index_pk(org_id), "GSI1SK": name}


def actions_index_pk(org_id: str) -> str:
    return f"ORG#{org_id}#ACTIONS"


def schedule(org_id: str, schedule_id: str) -> dict[str, str]:
    return {"PK": schedule_pk(org_id, schedule_id), "SK": "SCHEDULE"}


def schedule_pk(org_id: str, schedule_id: str) -> str:
    return f"ORG#{org_id}#SCHEDULE#{schedule_id}"


def schedules_index(org_id: str, schedule_id: str) -> dict[str, str]:
    return {"GSI1PK": schedules_index_pk(org_id), "GSI1SK": schedule_id}


def schedules_index_pk(org_id: str) -> str:
    return f"ORG#{org_id}#SCHEDULES"


def schedule_fire(org_id: str, schedule_id: str, scheduled_time: str) -> dict[str, str]:
    """What one scheduled time of a schedule did (started a run, or skipped): written once."""
    return {"PK": schedule_pk(org_id, schedule_id), "SK": f"FIRE#{scheduled_time}"}


def batch_pk(org_id: str, batch_id: str) -> str:
    return f"ORG#{org_id}#BATCH#{batch_id}"


def batch(org_id: str, batch_id: str) -> dict[str, str]:
    """A batch: what it starts (and, written by releases before sharded counters, its runs'
    counts per status)."""
    return {"PK": batch_pk(org_id, batch_id), "SK": BATCH_SK}


BATCH_SK = "BATCH"


def batch_counts_shard(org_id: str, batch_id: str, shard: int) -> dict[str, str]:
    """One shard of a batch's counts (runs, per status), in a partition of its own."""
    return {"PK": f"{batch_pk(org_id, batch_id)}#COUNTS#{shard:03d}", "SK": "COUNTS"}


def batch_chunk(org_id: str, batch_id: str, chunk: int) -> dict[str, str]:
    """The inputs of one chunk of a batch (what one queue message starts)."""
    return {"PK": batch_pk(org_id, batch_id), "SK": f"CHUNK#{chunk:04d}"}


def bulk_job_pk(org_id: str, job_id: str) -> str:
    return f"ORG#{org_id}#BULK#{job_id}"


BULK_JOB_SK = "BULK"


def bulk_job(org_id: str, job_id: str) -> dict[str, str]:
    """A bulk action: its request, where its pages are, and its counts."""
    return {"PK": bulk_job_pk(org_id, job_id), "SK": BULK_JOB_SK}


def bulk_marker(org_id: str, job_id: str, run_id: str) -> dict[str, str]:
    """What a bulk action did to one run (written once: a page seen twice acts once)."""
    return {"PK": bulk_job_pk(org_id, job_id), "SK": f"RUN#{run_id}"}


ORGS_PK = "ORGS"


def org_entry(org_id: str) -> dict[str, str]:
    """An org in the list of every org (written with its first API key; the janitor walks it)."""
    return {"PK": ORGS_PK, "SK": f"ORG#{org_id}"}


def idempotency_pk(org_id: str) -> str:
    """The partition of an org's idempotency records (Powertools writes them, by this key)."""
    return f"IDEMPOTENCY#{org_id}"


def janitor_position(org_id: str) -> dict[str, str]:
    """Where the janitor's last sweep of an org's active runs stopped."""
    return {"PK": f"ORG#{org_id}", "SK": "JANITOR"}


# -- S3 objects: payloads too large to stay inline in their item ------------------------------


def workflow_object(org_id: str, workflow_id: str, version: int) -> str:
    """A workflow version's definition."""
    return f"{org_id}/workflows/{workflow_id}/v{version}.json"


def run_object(org_id: str, run_id: str, name: str) -> str:
    """A run's own payload: ``input``, ``output``, or an external run's ``args``/``outputs``."""
    return f"{org_id}/{run_id}/{name}.json"


def node_object(org_id: str, run_id: str, ref: str, index: int | None = None) -> str:
    """A node's output, or one for_each item's output when ``index`` is given."""
    suffix = "" if index is None else f"/items/{index}"
    return f"{org_id}/{run_id}/nodes/{ref}{suffix}/output.json"


def item_object(org_id: str, run_id: str, ref: str, index: int) -> str:
    """The value a for_each item runs on."""
    return f"{org_id}/{run_id}/nodes/{ref}/items/{index}/item.json"


# What an action attempt keeps: its rendered input, the destination's answer, the callback's.
ATTEMPT_PAYLOADS = {
    "action_input": "attempts",
    "delivery_result": "results",
    "signal_result": "signals",
}


def attempt_object(
    org_id: str, run_id: str, ref: str, name: str, attempt: int, index: int | None = None
) -> str:
    """One attempt's payload ``name`` (a key of ``ATTEMPT_PAYLOADS``), of the node or, when
    ``index`` is given, of one for_each item."""
    suffix = "" if index is None else f"/items/{index}"
    return f"{org_id}/{run_id}/nodes/{ref}{suffix}/{ATTEMPT_PAYLOADS[name]}/{attempt}.json"


def batch_chunk_object(org_id: str, batch_id: str, chunk: int) -> str:
    """The inputs of one chunk of a batch."""
    return f"{org_id}/{batch_id}/chunk-{chunk:04d}.json"


# -- counters: the names of the counts kept on the org's run totals and on a batch ------------

ALL_RUNS = "all"  # every run of the org
BATCH_RUNS = "runs"  # every run a batch has created so far


def status_counter(status: str) -> str:
    return f"status:{status}"


def workflow_counter(workflow_id: str) -> str:
    return f"workflow:{workflow_id}"


RATE_WINDOW_SK = "RATE"


def rate_window(org_id: str, second: int) -> dict[str, str]:
    """An org's API request count in one second (its own partition: a busy org's counting
    never shares a partition's write capacity with its data). Expires with a TTL."""
    return {"PK": f"ORG#{org_id}#RATE#{second}", "SK": RATE_WINDOW_SK}
