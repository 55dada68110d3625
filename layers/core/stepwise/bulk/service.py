"""Bulk actions: an action over every run a filter matches, in the background, page by page.

``POST /runs/bulk`` saves the job (``queued``) and queues its first page on BulkQueue. The bulk
function works one page at a time: it reads up to ``PAGE_SIZE`` runs through the same Query
``GET /runs`` uses (``runs/queries.py``), never the whole match set, applies the action to each
(``bulk/actions.py``), counts the page on the job, and queues the next page with the cursor
(the last run id seen). Only one page of a job is in flight, so 100,000 runs take 2,000 pages
one after the other, each a few seconds, and the memory of one page.

Idempotent: each run's outcome is a marker written once, so a page delivered twice acts on no
run twice and counts what it first recorded; a page is counted in one write conditional on the
job's ``next_page``, so it counts once; and a page counted already only queues its successor
again when that is the next page not counted (its message may have been lost).

The same queue carries ``release`` messages: a run resumed through the API has what its pause
held started here, where the engine's permissions are.
"""

from collections import Counter
from datetime import timedelta
from typing import Any

from stepwise.bulk.actions import BulkActions, BulkCaller, Skip
from stepwise.bulk.models import BulkCreate, BulkFilter, BulkJob, BulkStatus
from stepwise.bulk.store import SKIP_PREFIX, BulkStore
from stepwise.core.clock import now, now_iso
from stepwise.core.errors import NotFound, ServiceUnavailable, ValidationFailed
from stepwise.core.ids import new_id
from stepwise.core.observability import logger
from stepwise.infra import queues
from stepwise.runs.queries import Position, RunFilter, page_runs, parse_tags
from stepwise.store import Store

PAGE_SIZE = 50  # runs per message: a few seconds of the function's time
# A page that failed this often (BulkQueue's maxReceiveCount) fails the job instead of waiting
# in the DLQ with the job running for ever.
MAX_RECEIVES = 5
_KEEP = timedelta(days=7)  # jobs and their markers: long enough to read the outcome


class Bulk:
    def __init__(self, store: Store, queue_url: str, actions: BulkActions | None = None):
        self.store = store
        self.jobs = BulkStore(store.table)
        self.queue_url = queue_url
        self.actions = actions

    # -- the API's operations -------------------------------------------------------------------

    def create(
        self, org_id: str, body: BulkCreate, actor: str, key_id: str | None
    ) -> dict[str, Any]:
        """Saves the job and queues its first page; ServiceUnavailable if it cannot be queued
        (the job is then marked failed, never left queued)."""
        try:
            parse_tags(body.filter.tag)  # a 422 naming the tag now, not a failed job later
        except ValidationFailed as exc:
            loc = ["body", "filter", "tag"]
            raise ValidationFailed([{**e, "loc": loc} for e in exc.errors]) from None
        job_id = new_id("bulk")
        item = {
            "id": job_id,
            "org_id": org_id,
            "action": str(body.action),
            "filter": body.filter.model_dump(mode="json", exclude_defaults=True),
            "reason": body.reason,
            "status": str(BulkStatus.QUEUED),
            "next_page": 0,
            "created_at": now_iso(),
            "created_by": actor,
            "created_by_key": key_id,
            "expires_at": int((now() + _KEEP).timestamp()),
        }
        self.jobs.create({k: v for k, v in item.items() if v is not None})
        try:
            queues.send(self.queue_url, _page_message(org_id, job_id, 0, None))
        except Exception as exc:
            self.jobs.fail(org_id, job_id, 0, "could not be queued")
            raise ServiceUnavailable("the bulk job could not be queued: try again") from exc
        return self.jobs.get(org_id, job_id)

    def get(self, org_id: str, job_id: str) -> dict[str, Any]:
        return self.jobs.get(org_id, job_id)

    def queue_release(self, org_id: str, run_id: str) -> None:
        """Queues the start of what a resumed run held (for the bulk function)."""
        queues.send(self.queue_url, {"kind": "release", "org_id": org_id, "run_id": run_id})

    @staticmethod
    def view(item: dict[str, Any]) -> BulkJob:
        reasons = {
            name.removeprefix(SKIP_PREFIX): int(count)
            for name, count in item.items()
            if name.startswith(SKIP_PREFIX)
        }
        return BulkJob(
            id=item["id"],
            org_id=item["org_id"],
            action=item["action"],
            filter=BulkFilter.model_validate(item.get("filter") or {}),
            reason=item.get("reason"),
            status=item["status"],
            matched=int(item.get("matched", 0)),
            done=int(item.get("done", 0)),
            skipped=int(item.get("skipped", 0)),
            skip_reasons=reasons,
            failed=int(item.get("failed", 0)),
            pages=int(item.get("pages", 0)),
            error=item.get("error"),
            created_at=item["created_at"],
            created_by=item.get("created_by"),
            started_at=item.get("started_at"),
            finished_at=item.get("finished_at"),
        )

    # -- the bulk function ----------------------------------------------------------------------

    def process(self, message: dict[str, Any], receive_count: int = 1) -> None:
        """One BulkQueue message: a page of a job, or the release of a resumed run."""
        assert self.actions is not None, "the bulk function builds Bulk with its actions"
        if message.get("kind") == "release":
            self.actions.release(message["org_id"], message["run_id"])
            return
        org_id, job_id, page = message["org_id"], message["job_id"], int(message["page"])
        try:
            self._page(org_id, job_id, page, message.get("after"))
        except Exception as exc:
            if receive_count < MAX_RECEIVES:
                raise  # delivered again after the visibility timeout
            logger.exception("bulk page failed for good", extra={"job_id": job_id, "page": page})
            self.jobs.fail(org_id, job_id, page, f"{type(exc).__name__}: {exc}")

    def _page(self, org_id: str, job_id: str, page: int, after: str | None) -> None:
        try:
            job = self.jobs.get(org_id, job_id)
        except NotFound:  # expired (after 7 days), or never saved
            logger.warning("page of an unknown bulk job ignored", extra={"job_id": job_id})
            return
        if job["status"] not in (BulkStatus.QUEUED, BulkStatus.RUNNING):
            return
        if int(job["next_page"]) != page:
            if int(job["next_page"]) == page + 1:  # counted; its successor may be lost
                self._queue_next(job, page)
            return
        query = _run_filter(job.get("filter") or {})
        position = Position(after) if after else None
        runs, more = page_runs(self.store.table, org_id, query, PAGE_SIZE, position)
        run_ids = [run.run_id for run in runs]
        recorded = self.jobs.markers(org_id, job_id, run_ids)
        caller = BulkCaller(job.get("created_by") or "bulk", job.get("created_by_key"), job_id)
        counts: Counter[str] = Counter(matched=len(runs))
        for run in runs:
            outcome = recorded.get(run.run_id)
            if outcome is None:
                outcome = self.jobs.mark(
                    org_id,
                    job_id,
                    run.run_id,
                    self._act(job, org_id, run, caller),
                    int(job["expires_at"]),
                )
            counts[outcome["outcome"]] += 1
            if outcome["outcome"] == "skipped":
                counts[SKIP_PREFIX + outcome["reason"]] += 1
        last = run_ids[-1] if run_ids else after
        counted = self.jobs.count_page(org_id, job_id, page, dict(counts), last, not more)
        if counted and more:
            queues.send(self.queue_url, _page_message(org_id, job_id, page + 1, last))

    def _act(self, job: dict[str, Any], org_id: str, run: Any, caller: BulkCaller) -> dict:
        assert self.actions is not None
        try:
            self.actions.apply(job["action"], org_id, run, job.get("reason"), caller)
        except Skip as skip:
            return {"outcome": "skipped", "reason": skip.reason}
        except Exception as exc:  # noqa: BLE001 (one run's failure is counted, not the job's)
            logger.exception("bulk action failed on a run", extra={"run_id": run.run_id})
            return {"outcome": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]}
        return {"outcome": "done"}

    def _queue_next(self, job: dict[str, Any], page: int) -> None:
        if job["status"] == BulkStatus.RUNNING and job.get("after_run_id"):
            message = _page_message(job["org_id"], job["id"], page + 1, job["after_run_id"])
            queues.send(self.queue_url, message)


def _page_message(org_id: str, job_id: str, page: int, after: str | None) -> dict[str, Any]:
    return {"kind": "page", "org_id": org_id, "job_id": job_id, "page": page, "after": after}


def _run_filter(stored: dict[str, Any]) -> RunFilter:
    fields = BulkFilter.model_validate(stored)
    return RunFilter(
        status=str(fields.status) if fields.status else None,
        workflow_id=fields.workflow_id,
        parent_run_id=fields.parent_run_id,
        created_after=fields.created_after,
        created_before=fields.created_before,
        tags=parse_tags(fields.tag),
        batch_id=fields.batch_id,
    )
