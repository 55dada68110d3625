"""What a bulk action does to one run: one function per action, each taking the org, the run
as the list showed it, the job's reason and the caller, and raising Skip with a reason when the
run is not one the action applies to (any more). A new action is one more entry in ACTIONS.

Each function goes through the same service as the route of its own (cancel, pause, resume,
redrive), so the run's conditional writes decide: a run that changed since the list read it is
skipped with the reason it is in now.
"""

from collections.abc import Callable
from dataclasses import dataclass

from stepwise.core import settings
from stepwise.core.errors import Conflict, NotFound
from stepwise.core.statuses import RUN_TERMINAL, RunStatus
from stepwise.runs import cancel, pause, redrive
from stepwise.runs.records import RunRecord
from stepwise.store import Store


@dataclass(frozen=True)
class BulkCaller:
    """Who asked for the job (its key), as each run's change records it."""

    actor: str
    key_id: str | None
    job_id: str


class Skip(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


Action = Callable[[Store, str, RunRecord, str | None, BulkCaller], None]
Release = Callable[[str, str], object]


class BulkActions:
    """The action table; ``release`` starts what a resumed run held (the engine's)."""

    def __init__(self, store: Store, release: Release):
        self.store = store
        self.release = release
        self.table: dict[str, Action] = {
            "cancel": self.cancel,
            "pause": self.pause,
            "resume": self.resume,
            "redrive": self.redrive,
        }

    def apply(
        self, action: str, org_id: str, run: RunRecord, reason: str | None, caller: BulkCaller
    ) -> None:
        try:
            self.table[action](self.store, org_id, run, reason, caller)
        except Conflict:
            raise Skip(self._why(org_id, run.run_id, action)) from None
        except NotFound:
            raise Skip("not_found") from None

    @staticmethod
    def cancel(
        store: Store, org_id: str, run: RunRecord, reason: str | None, caller: BulkCaller
    ) -> None:
        text = reason or f"cancelled by bulk job {caller.job_id}"
        cancel.cancel_run(store, settings.engine_settings().run_queue_url, org_id, run.run_id, text)

    @staticmethod
    def pause(
        store: Store, org_id: str, run: RunRecord, reason: str | None, caller: BulkCaller
    ) -> None:
        text = reason or f"paused by bulk job {caller.job_id}"
        if not pause.pause_run(store, org_id, run.run_id, caller.actor, text):
            raise Skip("already_paused")

    def resume(
        self, store: Store, org_id: str, run: RunRecord, reason: str | None, caller: BulkCaller
    ) -> None:
        if not pause.resume_run(store, org_id, run.run_id, caller.actor, self.release):
            raise Skip("not_paused")

    @staticmethod
    def redrive(
        store: Store, org_id: str, run: RunRecord, reason: str | None, caller: BulkCaller
    ) -> None:
        redrive.redrive_run(
            store,
            org_id,
            run.run_id,
            run_queue_url=settings.engine_settings().run_queue_url,
            reason=reason or f"redriven by bulk job {caller.job_id}",
            actor=caller.actor,
            key_id=caller.key_id,
        )

    def _why(self, org_id: str, run_id: str, action: str) -> str:
        """The reason an action's Conflict had, from the run as it is now."""
        try:
            run = self.store.runs.get_run(org_id, run_id)
        except NotFound:
            return "not_found"
        if run.kind == "external":
            return "external"
        if action == "redrive":
            return str(run.status)  # only failed, timed-out and cancelled runs redrive
        if run.status in RUN_TERMINAL:
            return "ended"
        if run.settle_requested_at:
            return "finishing"
        if action == "resume" and run.status != RunStatus.PAUSED:
            return "not_paused"
        return "conflict"
