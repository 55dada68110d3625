"""Action records (seed 000): an action node's execution, read from the run's recorded state.

A record id is ``{run_id}.{node_ref}``, the same stable id the webhook carries in
``webhook-id``; node refs contain no dot, so the id splits at its last one. Each item of a
for_each action node is a record of its own, ``{run_id}.{node_ref}[{index}]``, read from the
item's record (its attempts, deliveries and signals).
"""

import contextlib
import re
from typing import Any

from stepwise.actions.definitions import ActionDefinitions, resolve_action
from stepwise.actions.models import ActionRecord, RecordEvent, RecordState
from stepwise.core.errors import NotFound
from stepwise.core.statuses import NodeKind
from stepwise.runs.records import AttemptRecord, NodeRecord, RunRecord
from stepwise.store import Store

_ITEM = re.compile(r"^(?P<ref>[^\[\]]+)\[(?P<index>0|[1-9][0-9]{0,5})\]$")


def record_id(run_id: str, ref: str, index: int | None = None) -> str:
    """``{run}.{ref}``, or ``{run}.{ref}[{index}]`` for one item of a for_each action node."""
    return f"{run_id}.{ref}" if index is None else f"{run_id}.{ref}[{index}]"


class ActionRecords:
    def __init__(self, store: Store, definitions: ActionDefinitions):
        self.store = store
        self.definitions = definitions

    def get(self, org_id: str, identifier: str) -> ActionRecord:
        run_id, _, ref = identifier.rpartition(".")
        item = _ITEM.match(ref)
        index = int(item["index"]) if item else None
        ref = item["ref"] if item else ref
        if not run_id:
            raise NotFound("action record", identifier)
        try:
            run = self.store.runs.get_run(org_id, run_id)
            node = self.store.runs.get_node(org_id, run_id, ref)
            if node.kind != NodeKind.ACTION:
                raise NotFound("action record", identifier)
            if index is not None:
                if not node.item_count or index >= node.item_count:
                    raise NotFound("action record", identifier)
                node = self.store.nodes.get_item(org_id, run_id, ref, index)
        except NotFound:
            raise NotFound("action record", identifier) from None
        return self._record(org_id, run, node, with_definition=True, index=index)

    def list_for_run(self, org_id: str, run_id: str) -> list[ActionRecord]:
        """One record per action node, in node order; a for_each action node's items in its
        place, one record each, in item order."""
        run, nodes = self.store.runs.get_run_with_nodes(org_id, run_id)
        records = []
        for node in sorted(nodes, key=lambda n: n.position or 0):
            if node.kind != NodeKind.ACTION:
                continue
            if not node.item_count:
                records.append(self._record(org_id, run, node, with_definition=False))
                continue
            for item in self.store.nodes.list_items(org_id, run_id, node.ref):
                records.append(
                    self._record(org_id, run, item, with_definition=False, index=item.index)
                )
        return records

    def _record(
        self,
        org_id: str,
        run: RunRecord,
        node: NodeRecord,
        with_definition: bool,
        index: int | None = None,
    ) -> ActionRecord:
        identifier = record_id(run.run_id, node.ref, index)
        workflow = self.store.workflows.get_workflow(org_id, run.workflow_id, run.workflow_version)
        spec = next(n for n in workflow.nodes if n.ref == node.ref)
        definition = None
        # A definition removed after the run leaves the record readable without it.
        with contextlib.suppress(NotFound):
            definition = resolve_action(
                self.definitions, org_id, spec.action or "", with_destinations=with_definition
            )
        attempts = [node.attempts[number] for number in sorted(node.attempts)]
        if spec.for_each is not None and index is None:
            attempts = []  # the node's one attempt fanned out: its items delivered
        last = attempts[-1] if attempts else None
        error = node.error or (last.error if last else None) or {}
        return ActionRecord(
            id=identifier,
            org_id=org_id,
            action_definition_id=definition.id if definition else None,
            run_id=run.run_id,
            node_ref=node.ref,
            index=index,
            input=self.store.payloads.read(node.action_input),
            output=self.store.payloads.read(node.output),
            timeout=spec.retry.timeout,
            tags=definition.tags if definition else {},
            state=RecordState(
                status=node.status,
                attempt=node.attempt,
                updated_at=node.finished_at
                or (last.completed_at or last.started_at if last else None),
                available_at=node.available_at,
                timeout_at=last.timeout_at if last else None,
                started_at=node.started_at,
                completed_at=node.finished_at,
                error_message=error.get("message"),
            ),
            definition=definition if with_definition else None,
            events=list(_events(org_id, identifier, attempts)),
        )


def _events(org_id: str, identifier: str, attempts: list[AttemptRecord]):
    """Per attempt: its dispatch, the destination's answer (or ack), heartbeats, the callback's
    signal, then timeout, retry, error or success."""
    for attempt in attempts:
        number = attempt.attempt

        def event(kind: str, status: str, number: int = number, **fields: Any) -> RecordEvent:
            return RecordEvent(
                id=f"{identifier}.{number}.{kind}",
                action_record_id=identifier,
                org_id=org_id,
                kind=kind,
                status=status,
                attempt=number,
                **fields,
            )

        yield event("dispatch", "running", timeout_at=attempt.timeout_at)
        delivery = attempt.delivery
        if delivery:
            kind = "ack" if delivery["kind"] == "ack" else "answer"
            yield event(kind, delivery["kind"], message=delivery.get("message"), data=delivery)
        if attempt.heartbeats:
            yield event(
                "heartbeat",
                "running",
                timeout_at=attempt.timeout_at,
                data={"count": attempt.heartbeats, "last_at": attempt.heartbeat_at},
            )
        signal = attempt.signal
        if signal:
            error = signal.get("error") or {}
            yield event("signal", signal["kind"], message=error.get("message"), data=signal)
        status = attempt.status
        error = attempt.error or {}
        if error.get("type") == "Timeout":
            yield event("timeout", "timed_out", message=error.get("message"))
        if status == "retry_scheduled":
            yield event(
                "retry",
                status,
                available_at=attempt.available_at,
                message=error.get("message"),
            )
        elif status == "failed":
            yield event("error", status, message=error.get("message"), data=error or None)
        elif status == "succeeded":
            yield event("success", status)
