"""Bulk jobs in the table: the job item (request, cursor, counts) and one marker per run.

A page is counted in one conditional write on the job (``next_page`` must be the page's
number), so a page delivered twice counts once; a run's marker is written once, so a run on a
page seen twice is acted on once and keeps the outcome it first had.
"""

from typing import Any

from stepwise.core.clock import now_iso
from stepwise.core.errors import NotFound
from stepwise.infra import dynamo, keys

SKIP_PREFIX = "skip_"
COUNTS = ("matched", "done", "skipped", "failed")


class BulkStore:
    def __init__(self, table: str):
        self.table = table

    def create(self, item: dict[str, Any]) -> None:
        dynamo.put_new(self.table, {**keys.bulk_job(item["org_id"], item["id"]), **item})

    def get(self, org_id: str, job_id: str) -> dict[str, Any]:
        item = dynamo.get_item(self.table, keys.bulk_job(org_id, job_id))
        if item is None:
            raise NotFound("bulk job", job_id)
        return item

    def markers(self, org_id: str, job_id: str, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The outcomes recorded for these runs already, by run id (one BatchGetItem)."""
        wanted = [keys.bulk_marker(org_id, job_id, run_id) for run_id in run_ids]
        found = dynamo.batch_get(self.table, wanted, consistent=True) if wanted else []
        return {item["run_id"]: item for item in found}

    def mark(
        self, org_id: str, job_id: str, run_id: str, outcome: dict[str, Any], expires_at: int
    ) -> dict[str, Any]:
        """Records the run's outcome unless one is recorded already; the outcome that holds."""
        item = {
            **keys.bulk_marker(org_id, job_id, run_id),
            "run_id": run_id,
            **outcome,
            "expires_at": expires_at,
        }
        if dynamo.put_if_absent(self.table, item):
            return item
        held = dynamo.get_item(self.table, keys.bulk_marker(org_id, job_id, run_id))
        return held or item

    def count_page(
        self,
        org_id: str,
        job_id: str,
        page: int,
        counts: dict[str, int],
        after: str | None,
        finished: bool,
    ) -> bool:
        """Adds a page's counts and moves the job to the next page (or ends it), once: False
        when the page was counted already (or the job has ended)."""
        names = {"#status": "status"}
        values: dict[str, Any] = {
            ":page": page,
            ":next": page + 1,
            ":now": now_iso(),
            ":running": "running",
            ":queued": "queued",
        }
        sets = ["next_page = :next", "pages = :next"]
        sets.append("started_at = if_not_exists(started_at, :now)")
        if after is not None:
            sets.append("after_run_id = :after")
            values[":after"] = after
        sets.append("#status = :status")
        values[":status"] = "succeeded" if finished else "running"
        if finished:
            sets.append("finished_at = :now")
        adds = []
        for i, (name, delta) in enumerate(sorted(counts.items())):
            names[f"#c{i}"] = name
            values[f":c{i}"] = delta
            adds.append(f"#c{i} :c{i}")
        expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
        written = dynamo.update_item(
            self.table,
            keys.bulk_job(org_id, job_id),
            expression,
            values,
            condition="next_page = :page AND #status IN (:queued, :running)",
            names=names,
        )
        return written is not None

    def fail(self, org_id: str, job_id: str, page: int, error: str) -> None:
        """The job stops at ``page``, which failed on every delivery."""
        dynamo.update_item(
            self.table,
            keys.bulk_job(org_id, job_id),
            "SET #status = :failed, #error = :error, finished_at = :now",
            {
                ":failed": "failed",
                ":error": f"page {page}: {error}"[:1000],
                ":now": now_iso(),
                ":page": page,
                ":running": "running",
                ":queued": "queued",
            },
            condition="next_page = :page AND #status IN (:queued, :running)",
            names={"#status": "status", "#error": "error"},
        )
