"""A node's (and a for_each item's) state transitions: each one conditional write, with its
condition inside, so a replayed step changes nothing the second time. Callers learn from the
return value whether they won. Nobody else writes a node's status, attempts or outcome."""

from typing import Any

from stepwise.core.clock import now_iso
from stepwise.core.errors import NotFound
from stepwise.core.statuses import NODE_TERMINAL, NodeStatus, RunStatus
from stepwise.infra import dynamo, keys
from stepwise.infra.payloads import PayloadStore
from stepwise.runs.records import NodeRecord

_SETTLED = frozenset(str(s) for s in NODE_TERMINAL)
# start_attempt's condition: the record is ready for this attempt, which has not ended.
_OPENS = (
    "#status IN (:scheduled, :running) AND attempt <= :attempt "
    "AND attribute_not_exists(attempts.#n.completed_at)"
)


class NodeTransitions:
    def __init__(self, table: str, payloads: PayloadStore):
        self.table = table
        self.payloads = payloads

    # -- nodes the engine starts ----------------------------------------------------------------

    def schedule_node(
        self, org_id: str, run_id: str, ref: str, edge: tuple[str, str] | None = None
    ) -> bool:
        """pending -> scheduled, only while the run is running and not settling. ``edge``
        (outcome, key): the incoming edge that made it ready, recorded in the same write; if the
        write fails the caller records the edge alone (``record_edge``)."""
        expression = "SET #status = :scheduled, scheduled_at = :now"
        values: dict[str, Any] = {":scheduled": str(NodeStatus.SCHEDULED)}
        if edge is not None:
            outcome, key = edge
            expression += f" ADD {outcome}_edges :edge"
            values[":edge"] = {key}
        return self._while_running(
            org_id, run_id, ref, expression, values, from_statuses=(NodeStatus.PENDING,)
        )

    def skip_node(self, org_id: str, run_id: str, ref: str, reason: str) -> bool:
        """pending|scheduled -> skipped (a join that can never run, or run_if false), only while
        the run is running and not settling: once it settles, what has not run is cancelled."""
        return self._while_running(
            org_id,
            run_id,
            ref,
            "SET #status = :skipped, finished_at = :now, skip_reason = :reason",
            {":skipped": str(NodeStatus.SKIPPED), ":reason": reason},
            from_statuses=(NodeStatus.PENDING, NodeStatus.SCHEDULED),
        )

    def _while_running(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        expression: str,
        values: dict[str, Any],
        from_statuses: tuple[NodeStatus, ...],
    ) -> bool:
        """One node transition in a transaction with a check that the run is still running."""
        allowed = {f":from{i}": str(status) for i, status in enumerate(from_statuses)}
        return dynamo.transact(
            [
                dynamo.update_request(
                    self.table,
                    keys.node(org_id, run_id, ref),
                    expression,
                    {**values, **allowed, ":now": now_iso()},
                    condition=f"#status IN ({', '.join(allowed)})",
                    names={"#status": "status"},
                ),
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": dynamo.to_item(keys.run(org_id, run_id)),
                        "ConditionExpression": "#status = :running AND "
                        "attribute_not_exists(settle_requested_at)",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": dynamo.values(
                            {":running": str(RunStatus.RUNNING)}
                        ),
                    }
                },
            ]
        )

    def settle_pending(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        status: NodeStatus,
        output: Any = None,
        error: dict[str, str] | None = None,
        skip_reason: str | None = None,
        edge: tuple[str, str] | None = None,
        attempt: int = 1,
    ) -> NodeRecord | None:
        """pending -> succeeded|failed|skipped in one write: a node the engine ran inline, in the
        step that made it ready, without an execution of its own. ``edge`` (outcome, key) is the
        incoming edge that made it ready, recorded in the same write. ``attempt`` is 1 but in a
        redrive, which numbers attempts on. The node item as written, or None if it was not
        pending."""
        at = now_iso()
        values: dict[str, Any] = {
            ":status": str(status),
            ":pending": str(NodeStatus.PENDING),
            ":now": at,
        }
        names = {"#status": "status"}
        sets = ["#status = :status", "scheduled_at = :now", "finished_at = :now"]
        if status == NodeStatus.SKIPPED:
            sets.append("skip_reason = :reason")
            values[":reason"] = skip_reason or "skipped"
        else:
            sets += _single_attempt(status, at, error, names, values, attempt)
            if status == NodeStatus.SUCCEEDED:
                # A pending node has no output yet: nothing stale to remove.
                payload = self.payloads.write(
                    "output", output, keys.node_object(org_id, run_id, ref)
                )
                sets.append(payload.update(names, values))
        expression = "SET " + ", ".join(sets)
        if edge is not None:
            outcome, key = edge
            expression += f" ADD {outcome}_edges :edge"
            values[":edge"] = {key}
        item = dynamo.update_item(
            self.table,
            keys.node(org_id, run_id, ref),
            expression,
            values,
            "#status = :pending",
            names,
            "ALL_NEW",
        )
        return None if item is None else NodeRecord.from_item(item)

    def record_edge(
        self, org_id: str, run_id: str, ref: str, edge: str, outcome: str
    ) -> NodeRecord:
        """Adds a resolved incoming edge to the node's join state (idempotent); the node item."""
        item = dynamo.update_item(
            self.table,
            keys.node(org_id, run_id, ref),
            f"ADD {outcome}_edges :edge",
            {":edge": {edge}},
            returns="ALL_NEW",
        )
        assert item is not None  # no condition
        return NodeRecord.from_item(item)

    # -- attempts -------------------------------------------------------------------------------

    def delay_node(self, org_id: str, run_id: str, ref: str, available_at: str) -> bool:
        """A scheduled node waits for its start_delay / wait_until until ``available_at``."""
        return dynamo.update_if(
            self.table,
            keys.node(org_id, run_id, ref),
            "SET available_at = :at",
            {":at": available_at, ":scheduled": str(NodeStatus.SCHEDULED)},
            condition="#status = :scheduled",
            names={"#status": "status"},
        )

    def start_attempt(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        timeout_at: str | None,
        index: int | None = None,
    ) -> bool:
        """scheduled|running -> running with this attempt, recorded in ``attempts`` (replayable).

        A replay (Step Functions runs the step again when Lambda's answer was lost) keeps the
        attempt's record as the first run wrote it, with what has landed on it since: a
        review, a signal, a delivery's lease or token. Writing it afresh would lose them."""
        started = now_iso()
        record = {"attempt": attempt, "status": "running", "started_at": started}
        if timeout_at:
            record["timeout_at"] = timeout_at
        return dynamo.update_if(
            self.table,
            keys.record(org_id, run_id, ref, index),
            "SET #status = :running, attempt = :attempt, "
            "attempts.#n = if_not_exists(attempts.#n, :record), "
            "started_at = if_not_exists(started_at, :now) REMOVE available_at",
            {
                ":running": str(NodeStatus.RUNNING),
                ":scheduled": str(NodeStatus.SCHEDULED),
                ":attempt": attempt,
                ":record": record,
                ":now": started,
            },
            condition="#status IN (:scheduled, :running) AND attempt <= :attempt "
            "AND attribute_not_exists(attempts.#n.completed_at)",
            names={"#status": "status", "#n": str(attempt)},
        )

    def schedule_retry(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        error: dict[str, str],
        available_at: str,
        index: int | None = None,
        opening: bool = False,
        answer: dict[str, Any] | None = None,
    ) -> bool:
        """Closes a failed attempt that will be tried again at ``available_at``. ``opening``:
        the attempt was not started by ``start_attempt`` (an item attempt that ran within this
        step): this one write records it whole, on ``start_attempt``'s condition. ``answer``:
        the destination's answer, recorded in the same write (``with_answer``)."""
        at = now_iso()
        values = {
            ":error": error,
            ":at": available_at,
            ":now": at,
            ":retrying": "retry_scheduled",
            ":attempt": attempt,
            ":running": str(NodeStatus.RUNNING),
        }
        names = {"#status": "status", "#error": "error", "#n": str(attempt)}
        if opening:
            record = {
                "attempt": attempt,
                "status": "retry_scheduled",
                "started_at": at,
                "completed_at": at,
                "error": error,
                "available_at": available_at,
            }
            return dynamo.update_if(
                self.table,
                keys.record(org_id, run_id, ref, index),
                "SET #status = :running, attempt = :attempt, attempts.#n = :record, "
                "started_at = if_not_exists(started_at, :now), last_error = :error, "
                "available_at = :at",
                {
                    **{k: v for k, v in values.items() if k != ":retrying"},
                    ":record": record,
                    ":scheduled": str(NodeStatus.SCHEDULED),
                },
                condition=_OPENS,
                names={"#status": "status", "#n": str(attempt)},  # DynamoDB refuses unused ones
            )
        expression, condition = with_answer(
            "SET last_error = :error, available_at = :at, attempts.#n.#status = :retrying, "
            "attempts.#n.completed_at = :now, attempts.#n.#error = :error, "
            "attempts.#n.available_at = :at",
            "#status = :running AND attempt = :attempt "
            "AND attribute_not_exists(attempts.#n.completed_at)",
            answer,
            names,
            values,
        )
        return dynamo.update_if(
            self.table,
            keys.record(org_id, run_id, ref, index),
            expression,
            values,
            condition=condition,
            names=names,
        )

    def settle_node(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        status: NodeStatus,
        output: Any = None,
        error: dict[str, str] | None = None,
        index: int | None = None,
        opening: bool = False,
        answer: dict[str, Any] | None = None,
    ) -> bool:
        """running (this attempt) -> succeeded|failed, with the output or the error; with the
        destination's ``answer`` recorded in the same write (``with_answer``).
        ``opening``: the attempt was not started by ``start_attempt`` (an item attempt that ran
        within this step): this one write records it whole, on ``start_attempt``'s condition,
        instead of two writes."""
        at = now_iso()
        values: dict[str, Any] = {
            ":status": str(status),
            ":now": at,
            ":running": str(NodeStatus.RUNNING),
            ":attempt": attempt,
        }
        names = {"#status": "status", "#n": str(attempt)}
        sets = [
            "#status = :status",
            "finished_at = :now",
            "attempts.#n.#status = :status",
            "attempts.#n.completed_at = :now",
        ]
        condition = "#status = :running AND attempt = :attempt"
        removals: list[str] = []
        if opening:
            record: dict[str, Any] = {
                "attempt": attempt,
                "status": str(status),
                "started_at": at,
                "completed_at": at,
            }
            if error is not None:
                record["error"] = error
            sets = [
                "#status = :status",
                "finished_at = :now",
                "attempt = :attempt",
                "attempts.#n = :record",
                "started_at = if_not_exists(started_at, :now)",
            ]
            values.update({":record": record, ":scheduled": str(NodeStatus.SCHEDULED)})
            condition = _OPENS
            removals.append("available_at")
        if status == NodeStatus.SUCCEEDED:
            payload = self.payloads.write(
                "output", output, keys.node_object(org_id, run_id, ref, index)
            )
            sets.append(payload.update(names, values))
            removals.append(payload.removal(names))
        if error is not None:
            sets += ["#error = :error"] + ([] if opening else ["attempts.#n.#error = :error"])
            values[":error"] = error
            names["#error"] = "error"
        expression = "SET " + ", ".join(sets)
        if answer is not None:
            expression, condition = with_answer(expression, condition, answer, names, values)
        if removals:
            expression += " REMOVE " + ", ".join(removals)
        return dynamo.update_if(
            self.table,
            keys.record(org_id, run_id, ref, index),
            expression,
            values,
            condition=condition,
            names=names,
        )

    def set_child_run(self, org_id: str, run_id: str, ref: str, attempt: int, child: str) -> None:
        """Links a workflow node (and its attempt record) to the child run it started."""
        dynamo.update_if(
            self.table,
            keys.node(org_id, run_id, ref),
            "SET child_run_id = :child, attempts.#n.child_run_id = :child",
            {":child": child},
            names={"#n": str(attempt)},
        )

    def cancel_node(self, org_id: str, run_id: str, ref: str, reason: str) -> bool:
        """Any non-terminal state -> cancelled."""
        return self._cancel(keys.node(org_id, run_id, ref), reason)

    # -- for_each items -------------------------------------------------------------------------

    def create_items(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        values: list[Any],
        expires_at: int,
        chunking: dict[str, int],
    ) -> None:
        """One record per for_each item, ready to run (a replay rewrites the same records), and
        on the node how they run (``chunk_size``, ``chunk_lanes``, ``max_concurrency``).

        ``expires_at`` is the run's, so items go with it."""
        records = [
            {
                **keys.item(org_id, run_id, ref, index),
                "ref": ref,
                "index": index,
                "status": str(NodeStatus.SCHEDULED),
                "attempt": 0,
                "attempts": {},
                "expires_at": expires_at,
                **self.payloads.attributes(
                    "item", value, keys.item_object(org_id, run_id, ref, index)
                ),
            }
            for index, value in enumerate(values)
        ]
        dynamo.put_all(self.table, records)
        sets = ", ".join(f"{name} = :{name}" for name in chunking)
        values_ = {":n": len(values), **{f":{name}": value for name, value in chunking.items()}}
        values_[":none"] = {}
        dynamo.update_if(
            self.table,
            keys.node(org_id, run_id, ref),
            f"SET item_count = :n, {sets}, chunk_starts = if_not_exists(chunk_starts, :none)",
            values_,
        )

    def store_items_token(self, org_id: str, run_id: str, ref: str, token: str) -> NodeRecord:
        """Keeps the token of the node's FanOut task, which the last chunk resumes."""
        key = keys.node(org_id, run_id, ref)
        return self._returning(key, "SET items_token = :t", {":t": token})

    def chunk_done(self, org_id: str, run_id: str, ref: str, chunk: int) -> NodeRecord:
        """Adds ``chunk`` to the node's done chunks (a set: a repeat changes nothing)."""
        return self._returning(
            keys.node(org_id, run_id, ref), "ADD chunks_done :c", {":c": {chunk}}
        )

    def claim_chunk_start(
        self, org_id: str, run_id: str, ref: str, key: str, at: str, stale_before: str
    ) -> bool:
        """Records that chunk ``key`` (``{generation}.{chunk}``) starts ``at``, unless a start
        newer than ``stale_before`` is recorded: of the steps that would start the same Express
        chunk (a repeated ChunkDone, a retried FanOut, the janitor), one wins."""
        return dynamo.update_if(
            self.table,
            keys.node(org_id, run_id, ref),
            "SET chunk_starts.#k = :at",
            {":at": at, ":stale": stale_before},
            condition="attribute_exists(chunk_starts) AND "
            "(attribute_not_exists(chunk_starts.#k) OR chunk_starts.#k < :stale)",
            names={"#k": key},
        )

    def release_chunk_start(self, org_id: str, run_id: str, ref: str, key: str, at: str) -> None:
        """Drops the claim ``at`` of a chunk whose start failed, so that a retry may start it."""
        dynamo.update_if(
            self.table,
            keys.node(org_id, run_id, ref),
            "REMOVE chunk_starts.#k",
            {":at": at},
            condition="chunk_starts.#k = :at",
            names={"#k": key},
        )

    def unfinished_items(self, org_id: str, run_id: str, ref: str, indices: list[int]) -> list[int]:
        """Which of ``indices`` are not settled yet (consistent reads of their status only)."""
        found = dynamo.batch_get(
            self.table,
            [keys.item(org_id, run_id, ref, i) for i in indices],
            attributes=("index", "status"),
            consistent=True,
        )
        settled = {int(i["index"]) for i in found if i.get("status") in _SETTLED}
        return [i for i in indices if i not in settled]

    def get_item(self, org_id: str, run_id: str, ref: str, index: int) -> NodeRecord:
        key = keys.item(org_id, run_id, ref, index)
        return NodeRecord.from_item(dynamo.get_required(self.table, key, "item", f"{ref}[{index}]"))

    def list_items(self, org_id: str, run_id: str, ref: str) -> list[NodeRecord]:
        """Every item record of a for_each node, in item order."""
        items = dynamo.query_partition(self.table, keys.item_pk(org_id, run_id, ref))
        return [NodeRecord.from_item(i) for i in items]

    def cancel_item(self, org_id: str, run_id: str, ref: str, index: int, reason: str) -> bool:
        return self._cancel(keys.item(org_id, run_id, ref, index), reason)

    # -- plumbing -------------------------------------------------------------------------------

    def _cancel(self, key: dict[str, str], reason: str) -> bool:
        return dynamo.update_if(
            self.table,
            key,
            "SET #status = :cancelled, finished_at = :now, #error = :error",
            {
                ":cancelled": str(NodeStatus.CANCELLED),
                ":now": now_iso(),
                ":error": {"type": "Cancelled", "message": reason},
                ":pending": str(NodeStatus.PENDING),
                ":scheduled": str(NodeStatus.SCHEDULED),
                ":running": str(NodeStatus.RUNNING),
            },
            condition="#status IN (:pending, :scheduled, :running)",
            names={"#status": "status", "#error": "error"},
        )

    def _returning(
        self, key: dict[str, str], expression: str, values: dict[str, Any]
    ) -> NodeRecord:
        """One UpdateItem on an existing node; the node as written."""
        item = dynamo.update_item(
            self.table, key, expression, values, "attribute_exists(PK)", returns="ALL_NEW"
        )
        if item is None:
            raise NotFound("node", key["SK"])
        return NodeRecord.from_item(item)


def with_answer(
    expression: str,
    condition: str,
    answer: dict[str, Any] | None,
    names: dict[str, str],
    values: dict[str, Any],
) -> tuple[str, str]:
    """A SET ``expression`` that also records a delivery's ``answer`` on the attempt (one write
    where the answer and the attempt's end took two), on condition that the attempt has neither
    an answer nor a callback signal yet: then the caller records the answer alone and settles
    as the callback says."""
    if answer is None:
        return expression, condition
    names["#signal"] = "signal"
    values[":answer"] = answer
    return (
        f"{expression}, attempts.#n.delivery = :answer",
        f"{condition} AND attribute_not_exists(attempts.#n.delivery) "
        "AND attribute_not_exists(attempts.#n.#signal)",
    )


def _single_attempt(
    status: NodeStatus,
    at: str,
    error: dict[str, str] | None,
    names: dict[str, str],
    values: dict[str, Any],
    attempt: int = 1,
) -> list[str]:
    """The SET clauses of a node's one attempt, started and completed ``at``."""
    record: dict[str, Any] = {
        "attempt": attempt,
        "status": str(status),
        "started_at": at,
        "completed_at": at,
    }
    sets = ["started_at = :now", "attempt = :one", "attempts.#one = :record"]
    if error is not None:
        record["error"] = error
        sets.append("#error = :error")
        values[":error"] = error
        names["#error"] = "error"
    values.update({":one": attempt, ":record": record})
    names["#one"] = str(attempt)
    return sets
