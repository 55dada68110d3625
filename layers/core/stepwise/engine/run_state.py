"""A run's state transitions: each one conditional write, so a replayed step changes nothing.

Nobody else writes a run's status, token, settle request or finish. A status change moves the
run's status index and the org's (and its batch's) counts in the same transaction.
"""

from datetime import timedelta
from typing import Any

from stepwise.core.clock import iso, now, now_iso
from stepwise.core.errors import NotFound
from stepwise.core.statuses import RunStatus
from stepwise.infra import dynamo, keys
from stepwise.infra.payloads import PayloadStore
from stepwise.runs import counters
from stepwise.runs.records import PayloadRef, RunRecord
from stepwise.runs.store import PROGRESS_BUCKET_SIZE

# A lifecycle event claimed this long ago and still not out: its publisher crashed.
EVENT_CLAIM_STALE = timedelta(minutes=5)


class RunTransitions:
    def __init__(self, table: str, payloads: PayloadStore, retention: timedelta):
        self.table = table
        self.payloads = payloads
        self.retention = retention

    def fail_run_start(self, org_id: str, run_id: str, message: str) -> None:
        """The run's start could not be queued: the run ends failed, never stays queued."""
        self._move_run(
            org_id,
            run_id,
            RunStatus.QUEUED,
            RunStatus.FAILED,
            "SET finished_at = :now, #error = :error",
            {":now": now_iso(), ":error": {"type": "RunStartFailed", "message": message}},
            names={"#error": "error"},
        )

    def mark_started(self, org_id: str, run_id: str) -> RunRecord | None:
        """queued -> running, with when it started; None once the run has settled.

        A repeated start finds the run running (or paused while queued: it starts held) and
        only sets ``started_at`` if it is missing."""
        if self._move_run(
            org_id,
            run_id,
            RunStatus.QUEUED,
            RunStatus.RUNNING,
            "SET started_at = if_not_exists(started_at, :now)",
            {":now": now_iso()},
        ):
            return self._read(org_id, run_id)
        return self._returning(
            org_id,
            run_id,
            "SET started_at = if_not_exists(started_at, :now)",
            {
                ":running": str(RunStatus.RUNNING),
                ":paused": str(RunStatus.PAUSED),  # paused while queued: it starts held
                ":now": now_iso(),
            },
            condition="#status IN (:running, :paused)",
            names={"#status": "status"},
        )

    def claim_event(self, org_id: str, run_id: str) -> bool:
        """The right to publish the settled run's lifecycle event. Two steps can finalise a run
        at once (two last nodes settling together, a deadline beside the janitor): one claims.
        A claim older than EVENT_CLAIM_STALE with no event after it (its holder crashed) can be
        taken again, so the event still goes out at least once."""
        current = now()
        claimed = self._update(
            org_id,
            run_id,
            "SET event_claimed_at = :now",
            {":now": iso(current), ":stale": iso(current - EVENT_CLAIM_STALE)},
            condition="attribute_not_exists(event_published_at) AND "
            "(attribute_not_exists(event_claimed_at) OR event_claimed_at < :stale)",
        )
        return claimed is not None

    def release_event(self, org_id: str, run_id: str) -> None:
        """The claim's holder could not publish (EventBridge refused): the claim goes, so the
        step's retry claims and publishes at once instead of waiting EVENT_CLAIM_STALE."""
        self._update(
            org_id,
            run_id,
            "REMOVE event_claimed_at",
            {},
            condition="attribute_not_exists(event_published_at)",
        )

    def mark_event_published(self, org_id: str, run_id: str) -> None:
        """The settled run's lifecycle event is out (a replay then does not publish again)."""
        self._update(
            org_id,
            run_id,
            "SET event_published_at = if_not_exists(event_published_at, :now)",
            {":now": now_iso()},
        )

    def request_settle(self, org_id: str, run_id: str, reason: str) -> RunRecord:
        """Marks the run as ready to finalise (first reason wins); returns the run item."""
        run = self._returning(
            org_id,
            run_id,
            "SET settle_requested_at = :now, settle_reason = :reason",
            {":now": now_iso(), ":reason": reason},
            condition="attribute_exists(PK) AND attribute_not_exists(settle_requested_at)",
        )
        return run if run is not None else self._read(org_id, run_id)

    def store_parent_token(self, org_id: str, run_id: str, token: str) -> RunRecord:
        """The token of the parent node waiting on this (child) run; returns the run item."""
        run = self._returning(
            org_id,
            run_id,
            "SET parent_token = :token",
            {":token": token},
            condition="attribute_exists(PK)",
        )
        if run is None:
            raise NotFound("run", run_id)
        return run

    def request_cancel(self, org_id: str, run_id: str, reason: str) -> RunRecord | None:
        """Marks an unsettled run for cancellation; None if it has settled or is settling."""
        return self._returning(
            org_id,
            run_id,
            "SET settle_requested_at = :now, settle_reason = :cancelled, cancel_reason = :reason",
            {
                ":now": now_iso(),
                ":cancelled": "cancelled",
                ":reason": reason,
                ":queued": str(RunStatus.QUEUED),
                ":running": str(RunStatus.RUNNING),
                ":paused": str(RunStatus.PAUSED),
                ":external": "external",
            },
            # An external run is not executed here: nothing to cancel.
            condition="attribute_not_exists(settle_requested_at) AND "
            "#status IN (:queued, :running, :paused) AND "
            "(attribute_not_exists(kind) OR kind <> :external)",
            names={"#status": "status"},
        )

    def pause(self, org_id: str, run_id: str, pause: dict[str, Any], old: RunStatus) -> bool:
        """queued|running (``old``) -> paused, the pause (who, when, why) appended to
        ``pauses``; False when the run is not in ``old``, is settling, or is external."""
        return self._move_run(
            org_id,
            run_id,
            old,
            RunStatus.PAUSED,
            "SET pauses = list_append(if_not_exists(pauses, :none), :pause)",
            {":pause": [pause], ":none": [], ":external": "external"},
            condition="attribute_not_exists(settle_requested_at) AND "
            "(attribute_not_exists(kind) OR kind <> :external)",
        )

    def resume(self, org_id: str, run_id: str, number: int, by: str) -> bool:
        """paused -> running, closing pause ``number`` (its index in ``pauses``) with who and
        when; False when the run is not paused with that many pauses, or is settling."""
        return self._move_run(
            org_id,
            run_id,
            RunStatus.PAUSED,
            RunStatus.RUNNING,
            f"SET pauses[{number}].resumed_at = :now, pauses[{number}].resumed_by = :by",
            {":now": now_iso(), ":by": by, ":count": number + 1},
            condition="attribute_not_exists(settle_requested_at) AND size(pauses) = :count",
        )

    def record_review(self, org_id: str, run_id: str, review: dict[str, Any]) -> None:
        """Who reviewed the run last, and when (seed 002's reviewed_by / reviewed_at)."""
        self._update(
            org_id,
            run_id,
            "SET reviewed_by = :by, reviewed_at = :at",
            {":by": review["reviewed_by"], ":at": review["reviewed_at"]},
        )

    def record_node_settled(self, org_id: str, run_id: str, position: int) -> bool:
        """Adds the node (by position) to its bucket's settled set; True once every node is in.
        Idempotent.

        Buckets hold at most ``PROGRESS_BUCKET_SIZE`` positions, so each write is one small
        item (one write unit) however large the workflow; a bucket that fills is added to the
        set of full buckets, and the run is complete when every bucket is in it."""
        bucket = position // PROGRESS_BUCKET_SIZE
        settled = dynamo.update_item(
            self.table,
            keys.progress(org_id, run_id, bucket),
            "ADD settled_nodes :position",
            {":position": {position}},
            returns="ALL_NEW",
        )
        assert settled is not None
        if len(settled.get("settled_nodes", ())) < int(settled["node_count"]):
            return False
        if int(settled["buckets"]) == 1:
            return True
        full = dynamo.update_item(
            self.table,
            keys.progress(org_id, run_id),
            "ADD full_buckets :bucket",
            {":bucket": {bucket}},
            returns="ALL_NEW",
        )
        assert full is not None
        return len(full.get("full_buckets", ())) >= int(full["buckets"])

    def finish_run(
        self,
        org_id: str,
        run_id: str,
        status: RunStatus,
        output: Any,
        error: dict[str, Any] | None,
        claim_event: bool = False,
    ) -> dict[str, Any] | None:
        """running (or still queued) -> terminal, with the output or the error.

        ``claim_event``: the move also claims the run's lifecycle event (``claim_event``'s
        claim, in the same write): only one step can move the run to its end, so the step that
        did holds the claim without a write of its own.

        What the move set, as ``RunRecord`` fields (``status``, ``finished_at``, and ``error`` or
        ``output`` when it set them), or None when the run was not in a status that ends here
        (another step finished it). A transaction returns no item: the caller that read the run
        since its settle was requested has it finished as ``run._replace(**fields)`` (nobody else
        changes those fields of an unfinished run, and the move's condition held), instead of
        reading it again."""
        finished_at = now_iso()
        fields: dict[str, Any] = {"status": str(status), "finished_at": finished_at}
        values: dict[str, Any] = {":now": finished_at}
        names: dict[str, str] = {}
        sets = ["finished_at = :now"]
        if claim_event:
            sets.append("event_claimed_at = :now")
        if error is not None:
            fields["error"] = error
            sets.append("#error = :error")
            values[":error"] = error
            names["#error"] = "error"
        removals: list[str] = []
        if status == RunStatus.SUCCEEDED:
            payload = self.payloads.write(
                "output", output, keys.run_object(org_id, run_id, "output")
            )
            sets.append(payload.update(names, values))
            removals.append(payload.removal(names))
            fields["output"] = PayloadRef.of(payload.attributes, "output")
        expression = "SET " + ", ".join(sets)
        moved = any(
            self._move_run(org_id, run_id, old, status, expression, values, names, removals)
            for old in (RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.QUEUED)
        )
        return fields if moved else None

    def keep_settled_run(self, org_id: str, run_id: str) -> None:
        """A run settled late (by the janitor) is kept for the retention period from now."""
        until = int((now() + self.retention).timestamp())
        self._update(
            org_id,
            run_id,
            "SET expires_at = :until",
            {":until": until},
            condition="attribute_exists(PK) AND (attribute_not_exists(expires_at) OR "
            "expires_at < :until)",
        )

    def link_handler(self, org_id: str, run_id: str, handler_run_id: str) -> None:
        """Adds a failure handler run to the failed run's ``handler_run_ids``, once (a replay
        finds it there and changes nothing), and drops the error of an earlier try."""
        self._update(
            org_id,
            run_id,
            "SET handler_run_ids = list_append(if_not_exists(handler_run_ids, :none), :ids) "
            "REMOVE handler_error",
            {":none": [], ":ids": [handler_run_id], ":id": handler_run_id},
            condition="attribute_exists(PK) AND (attribute_not_exists(handler_run_ids) OR "
            "NOT contains(handler_run_ids, :id))",
        )

    def record_handler_error(self, org_id: str, run_id: str, error: dict[str, Any]) -> None:
        """Why the handler of the run's last failure could not be started."""
        self._update(
            org_id, run_id, "SET handler_error = :error", {":error": error}, "attribute_exists(PK)"
        )

    def _move_run(
        self,
        org_id: str,
        run_id: str,
        old: RunStatus,
        new: RunStatus,
        expression: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
        removals: list[str] | None = None,
        condition: str | None = None,
    ) -> bool:
        """One run status change (conditional on ``old``, and ``condition`` when given), its
        status index and the org's totals, in one transaction. False when the run was not in
        ``old``."""
        index = keys.runs_by_status(org_id, str(new), run_id)
        expression += f", #status = :new, {keys.STATUS_INDEX_PK} = :index_pk"
        if removals:
            expression += " REMOVE " + ", ".join(removals)
        move = counters.status_move(str(old), str(new))
        return dynamo.transact(
            [
                dynamo.update_request(
                    self.table,
                    keys.run(org_id, run_id),
                    expression,
                    {
                        **values,
                        ":new": str(new),
                        ":old": str(old),
                        ":index_pk": index[keys.STATUS_INDEX_PK],
                    },
                    condition="#status = :old" + (f" AND {condition}" if condition else ""),
                    names={**(names or {}), "#status": "status"},
                ),
                counters.org_totals(self.table, org_id, run_id, move),
                *counters.batch_counts(self.table, org_id, run_id, move),
            ]
        )

    def _read(self, org_id: str, run_id: str) -> RunRecord:
        return RunRecord.from_item(
            dynamo.get_required(self.table, keys.run(org_id, run_id), "run", run_id)
        )

    def _returning(
        self,
        org_id: str,
        run_id: str,
        expression: str,
        values: dict[str, Any],
        condition: str,
        names: dict[str, str] | None = None,
    ) -> RunRecord | None:
        """One conditional UpdateItem; the run as written, or None when the condition fails."""
        item = self._update(org_id, run_id, expression, values, condition, names, "ALL_NEW")
        return None if item is None else RunRecord.from_item(item)

    def _update(
        self,
        org_id: str,
        run_id: str,
        expression: str,
        values: dict[str, Any],
        condition: str | None = None,
        names: dict[str, str] | None = None,
        returns: str = "NONE",
    ) -> dict[str, Any] | None:
        """One UpdateItem of the run item; None when its condition does not hold."""
        return dynamo.update_item(
            self.table, keys.run(org_id, run_id), expression, values, condition, names, returns
        )
