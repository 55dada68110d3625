"""What an attempt that waits on someone else records: the rendered input of an action, the
dispatcher's lease and the destination's answer, the callback signal or the review, heartbeats.

Each write is conditional on the attempt still being the node's current one and running, so a
late, duplicate or stale answer changes nothing. ``index`` names one for_each item of an action
node instead: each item has its own record, attempts, lease, token and signal.
"""

from datetime import timedelta
from typing import Any

from stepwise.core.clock import iso, now, now_iso
from stepwise.core.statuses import NodeStatus
from stepwise.infra import dynamo, keys
from stepwise.infra.payloads import PayloadStore, PayloadWrite
from stepwise.runs.records import NodeRecord

# The attempt is the node's current one, still running, and has no signal yet (nor a timeout
# recorded by the callback timer: engine/callbacks.py).
_WAITING_ATTEMPT = (
    "#status = :running AND attempt = :attempt AND attempts.#n.#status = :running "
    "AND attribute_not_exists(attempts.#n.#signal) "
    "AND attribute_not_exists(attempts.#n.timed_out_at)"
)


class AttemptState:
    def __init__(self, table: str, payloads: PayloadStore):
        self.table = table
        self.payloads = payloads

    def prepare_delivery(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        action_input: Any,
        action: dict[str, Any],
        index: int | None = None,
        wait: tuple[str, int] | None = None,
    ) -> None:
        """Keeps what the dispatcher delivers for this attempt: the rendered input, and the
        ``action`` it resolved (``name``, ``version``, ``destination_id``), pinned; with
        ``wait`` (``timeout_at``, ``heartbeat_seconds``), how long the attempt waits for its
        answer too, in the same write (``set_attempt_wait``)."""
        names: dict[str, str] = {"#n": str(attempt), "#action": "action"}  # a reserved word
        values: dict[str, Any] = {":action": action}
        waits = ""
        if wait is not None:
            values[":at"], values[":beat"] = wait
            waits = "attempts.#n.timeout_at = :at, attempts.#n.heartbeat_seconds = :beat, "
        payload = self._write_input(org_id, run_id, ref, attempt, action_input, index)
        self._update(
            org_id,
            run_id,
            ref,
            f"SET {waits}attempts.#n.#action = :action, {payload.update(names, values)} "
            f"REMOVE {payload.removal(names)}",
            values,
            names=names,
            index=index,
        )

    def _write_input(
        self, org_id: str, run_id: str, ref: str, attempt: int, action_input: Any, index: int | None
    ) -> PayloadWrite:
        """The attempt's rendered input, inline or in S3 (the payload's update and removal)."""
        return self.payloads.write(
            "action_input",
            action_input,
            keys.attempt_object(org_id, run_id, ref, "action_input", attempt, index),
        )

    def open_delivery(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        action_input: Any,
        action: dict[str, Any],
        wait: tuple[str, int],
        until: str,
        owner: str,
        index: int | None = None,
    ) -> NodeRecord | None:
        """An Express execution's attempt opened in one write: the attempt running (as
        ``start_attempt``), what it delivers (as ``prepare_delivery``) and its lease (as
        ``claim_delivery``), the lease owned by ``owner`` (the execution's id and the time its
        state was entered). The same step retried (Step Functions retried a step whose answer
        Lambda lost) takes its own lease again; a duplicate execution does not while the lease
        stands, nor does anyone once a callback came. The record as
        written, or None: the attempt is stale, answered, or leased to another execution."""
        started = now_iso()
        timeout_at, heartbeat = wait
        names: dict[str, str] = {"#status": "status", "#n": str(attempt)}
        values: dict[str, Any] = {":attempt": attempt, ":running": str(NodeStatus.RUNNING)}
        payload = self._write_input(org_id, run_id, ref, attempt, action_input, index)
        stored = f"{payload.update(names, values)} REMOVE {payload.removal(names)}"
        record = {
            "attempt": attempt,
            "status": "running",
            "started_at": started,
            "timeout_at": timeout_at,
            "heartbeat_seconds": heartbeat,
            "action": action,
            "claimed_until": until,
            "claimed_by": owner,
        }
        key = keys.record(org_id, run_id, ref, index)
        opened = dynamo.update_item(
            self.table,
            key,
            "SET #status = :running, attempt = :attempt, attempts.#n = :record, "
            f"started_at = if_not_exists(started_at, :now), {stored}, available_at",
            {
                **values,
                ":record": record,
                ":now": started,
                ":scheduled": str(NodeStatus.SCHEDULED),
            },
            "#status IN (:scheduled, :running) AND attempt <= :attempt "
            "AND attribute_not_exists(attempts.#n)",
            names,
            "ALL_NEW",
        )
        if opened is not None:
            return NodeRecord.from_item(opened)
        # The attempt has a record already: its own execution retried, or another's.
        names.update({"#action": "action", "#signal": "signal"})  # reserved words
        retaken = dynamo.update_item(
            self.table,
            key,
            "SET attempts.#n.claimed_until = :until, attempts.#n.claimed_by = :owner, "
            "attempts.#n.timeout_at = :at, attempts.#n.heartbeat_seconds = :beat, "
            f"attempts.#n.#action = :action, {stored}",
            {
                **values,
                ":until": until,
                ":owner": owner,
                ":now": started,
                ":at": timeout_at,
                ":beat": heartbeat,
                ":action": action,
            },
            "#status = :running AND attempt = :attempt "
            "AND attribute_not_exists(attempts.#n.completed_at) "
            "AND attribute_not_exists(attempts.#n.delivery) "
            "AND attribute_not_exists(attempts.#n.#signal) "
            "AND (attempts.#n.claimed_by = :owner "
            "OR attribute_not_exists(attempts.#n.claimed_until) "
            "OR attempts.#n.claimed_until < :now)",
            names,
            "ALL_NEW",
        )
        return None if retaken is None else NodeRecord.from_item(retaken)

    def claim_delivery(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        until: str,
        task_token: str | None,
        index: int | None = None,
    ) -> NodeRecord | None:
        """The dispatcher's lease on an attempt's delivery: one POST at a time, none after the
        attempt has an answer. Returns the node item, or None when the claim is not granted.

        The waiting task's token is kept on the attempt (never shown) before the POST, so a
        callback that overtakes the destination's own answer can still resume it. An Express
        execution's synchronous delivery has no token (``None``): nothing waits on one."""
        token = {":token": task_token} if task_token is not None else {}
        return self._returning(
            org_id,
            run_id,
            ref,
            "SET attempts.#n.claimed_until = :until"
            + (", attempts.#n.task_token = :token" if token else ""),
            {
                **token,
                ":until": until,
                ":now": now_iso(),
                ":attempt": attempt,
                ":running": str(NodeStatus.RUNNING),
            },
            condition="#status = :running AND attempt = :attempt "
            "AND attribute_not_exists(attempts.#n.delivery) "
            "AND (attribute_not_exists(attempts.#n.claimed_until) "
            "OR attempts.#n.claimed_until < :now)",
            names={"#status": "status", "#n": str(attempt)},
            index=index,
        )

    def record_delivery(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        delivery: dict[str, Any],
        result: Any,
        index: int | None = None,
    ) -> bool:
        """What the destination answered for this attempt (once)."""
        names = {"#n": str(attempt)}
        values: dict[str, Any] = {":delivery": delivery, ":attempt": attempt}
        payload = self.payloads.write(
            "delivery_result",
            result,
            keys.attempt_object(org_id, run_id, ref, "delivery_result", attempt, index),
        )
        return self._update(
            org_id,
            run_id,
            ref,
            f"SET attempts.#n.delivery = :delivery, {payload.update(names, values)} "
            f"REMOVE {payload.removal(names)}",
            values,
            condition="attempt = :attempt AND attribute_not_exists(attempts.#n.delivery)",
            names=names,
            index=index,
        )

    def set_attempt_wait(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        timeout_at: str,
        heartbeat: int,
        index: int | None = None,
    ) -> None:
        """An attempt that waits (a delivery, a callback, an approval): when it times out, and
        how far a heartbeat moves that."""
        self._update(
            org_id,
            run_id,
            ref,
            "SET attempts.#n.timeout_at = :at, attempts.#n.heartbeat_seconds = :beat",
            {":at": timeout_at, ":beat": heartbeat},
            names={"#n": str(attempt)},
            index=index,
        )

    def store_attempt_token(
        self, org_id: str, run_id: str, ref: str, attempt: int, task_token: str
    ) -> NodeRecord | None:
        """Keeps the token of the task that waits on this attempt; the node, None if it ended."""
        return self._returning(
            org_id,
            run_id,
            ref,
            "SET attempts.#n.task_token = :token",
            {":token": task_token, ":attempt": attempt, ":running": str(NodeStatus.RUNNING)},
            condition="#status = :running AND attempt = :attempt",
            names={"#status": "status", "#n": str(attempt)},
        )

    def record_signal(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        signal: dict[str, Any],
        result: Any = None,
        index: int | None = None,
    ) -> NodeRecord | None:
        """The callback (or review) that settles a waiting attempt, recorded once, only while
        that attempt is the node's current one and still running. The node, or None."""
        names = {"#status": "status", "#signal": "signal", "#n": str(attempt)}
        values: dict[str, Any] = {
            ":signal": signal,
            ":attempt": attempt,
            ":running": str(NodeStatus.RUNNING),
            ":ack": "ack",
        }
        payload = self.payloads.write(
            "signal_result",
            result,
            keys.attempt_object(org_id, run_id, ref, "signal_result", attempt, index),
        )
        return self._returning(
            org_id,
            run_id,
            ref,
            f"SET attempts.#n.#signal = :signal, {payload.update(names, values)} "
            f"REMOVE {payload.removal(names)}",
            values,
            # First answer wins: not after the destination's own final (non-ack) answer.
            condition=f"{_WAITING_ATTEMPT} AND (attribute_not_exists(attempts.#n.delivery) "
            "OR attempts.#n.delivery.kind = :ack)",
            names=names,
            index=index,
        )

    def mark_awaiting(
        self, org_id: str, run_id: str, ref: str, attempt: int, at: str
    ) -> NodeRecord | None:
        """An acknowledged attempt of an Express node waits for its callback with no execution:
        ``awaiting_since`` tells the signals function to settle it inline (no task to resume)
        and the janitor to judge it by its ``timeout_at``. Kept as first written. Written also
        when a signal came first (the signals function found no mark then and left it to the
        caller, who settles with it); the node, or None when the attempt has ended or is not
        the current one."""
        return self._returning(
            org_id,
            run_id,
            ref,
            "SET attempts.#n.awaiting_since = if_not_exists(attempts.#n.awaiting_since, :now)",
            {":now": at, ":attempt": attempt, ":running": str(NodeStatus.RUNNING)},
            condition="#status = :running AND attempt = :attempt "
            "AND attempts.#n.#status = :running",
            names={"#status": "status", "#n": str(attempt)},
        )

    def mark_timed_out(
        self, org_id: str, run_id: str, ref: str, attempt: int, at: str
    ) -> NodeRecord | None:
        """The callback timer claims an awaiting attempt for its timeout: only while it has no
        signal and its ``timeout_at`` (which heartbeats move) has passed. Once written, no
        signal or heartbeat is recorded on the attempt (``_WAITING_ATTEMPT``): exactly one of
        them wins. A repeat (a timer delivered twice) finds it written and passes. ``at``: the
        timer's now. The node, or None."""
        return self._returning(
            org_id,
            run_id,
            ref,
            "SET attempts.#n.timed_out_at = if_not_exists(attempts.#n.timed_out_at, :now)",
            {":now": at, ":attempt": attempt, ":running": str(NodeStatus.RUNNING)},
            condition="#status = :running AND attempt = :attempt "
            "AND attempts.#n.#status = :running AND attribute_not_exists(attempts.#n.#signal) "
            "AND attempts.#n.timeout_at <= :now",
            names={"#status": "status", "#signal": "signal", "#n": str(attempt)},
        )

    def record_review(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        review: dict[str, Any],
        seen: int,
        required: int,
        settles: bool,
    ) -> NodeRecord | None:
        """Appends a review to a waiting approval attempt's ``reviews``, on condition that the
        list still holds the ``seen`` reviews the caller read (so two reviews at once cannot
        both be counted as the same one, nor the Nth twice). A review that ``settles`` the
        attempt (a rejection, or the last approval needed) is also its ``signal``, in the same
        write. The node, or None when the attempt moved on or another review landed first."""
        names = {"#status": "status", "#signal": "signal", "#n": str(attempt)}
        values: dict[str, Any] = {
            ":new": [review],
            ":empty": [],
            ":required": required,
            ":attempt": attempt,
            ":running": str(NodeStatus.RUNNING),
        }
        update = (
            "SET attempts.#n.reviews = list_append(if_not_exists(attempts.#n.reviews, :empty), "
            ":new), attempts.#n.approvals_required = :required"
        )
        if settles:
            update += ", attempts.#n.#signal = :signal"
            values[":signal"] = review
        if seen:
            counted = "size(attempts.#n.reviews) = :seen"
            values[":seen"] = seen
        else:
            counted = "attribute_not_exists(attempts.#n.reviews)"
        return self._returning(
            org_id,
            run_id,
            ref,
            update,
            values,
            condition=f"{_WAITING_ATTEMPT} AND {counted}",
            names=names,
        )

    def record_heartbeat(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        seconds: int,
        index: int | None = None,
    ) -> NodeRecord | None:
        """A waiting attempt is alive: its timeout moves ``seconds`` on. The node, or None."""
        beat = now()
        return self._returning(
            org_id,
            run_id,
            ref,
            "SET attempts.#n.timeout_at = :at, attempts.#n.heartbeat_at = :now, "
            "attempts.#n.heartbeats = if_not_exists(attempts.#n.heartbeats, :zero) + :one",
            {
                ":at": iso(beat + timedelta(seconds=seconds)),
                ":now": iso(beat),
                ":zero": 0,
                ":one": 1,
                ":attempt": attempt,
                ":running": str(NodeStatus.RUNNING),
            },
            condition=_WAITING_ATTEMPT,
            names={"#status": "status", "#signal": "signal", "#n": str(attempt)},
            index=index,
        )

    def _update(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        expression: str,
        values: dict[str, Any],
        condition: str | None = None,
        names: dict[str, str] | None = None,
        index: int | None = None,
    ) -> bool:
        """One UpdateItem of the node item (or of item ``index``); whether its condition held."""
        key = keys.record(org_id, run_id, ref, index)
        return dynamo.update_item(self.table, key, expression, values, condition, names) is not None

    def _returning(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        expression: str,
        values: dict[str, Any],
        condition: str,
        names: dict[str, str],
        index: int | None = None,
    ) -> NodeRecord | None:
        """One conditional UpdateItem of the node (or of item ``index``); the record as written,
        or None when the condition fails."""
        key = keys.record(org_id, run_id, ref, index)
        item = dynamo.update_item(self.table, key, expression, values, condition, names, "ALL_NEW")
        return None if item is None else NodeRecord.from_item(item)
