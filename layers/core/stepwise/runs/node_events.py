"""Node events (seed 003 action events): what a node that sets ``emit_event`` produced, each time
it succeeded, with the events it came from.

Events of one workflow node live in a partition of their own (``keys.node_events_pk``), sorted by
id, across the workflow's runs and versions. An id is a ULID of the node's finish time whose
random part comes from the run and node: events sort by when their node finished, and a replayed
step writes the same item again instead of a second event. The payload is the node's output as
stored (inline JSON, or the same S3 object), and the event expires with its run.

Lists are pages by number (the seed's ``page``/``per_page``/``meta``), newest first. A page reads
the keys of the node's events newer than ``since_id`` up to one past its end (keys only reach
Lambda), then its own events by key: page 1 costs the same with ten events or ten million. So
``meta.count`` and ``meta.pages`` are known only on the last page (null before it), and a deep
page number reads every key before it: poll with ``since_id``.
"""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from stepwise.core.errors import NotFound
from stepwise.infra.payloads import PayloadStore
from stepwise.runs.node_event_store import NodeEventStore
from stepwise.runs.records import NodeRecord, RunRecord


class NodeEvent(BaseModel):
    id: str = Field(description="Time-ordered: a later event has a greater id.")
    node: str = Field(description="The ref of the node that emitted it.")
    workflow_id: str
    run_id: str = Field(description="The run it was emitted in (the seed's story_run_guid).")
    payload: Any = Field(None, description="The node's output.")
    created_at: datetime = Field(description="When the node succeeded.")
    updated_at: datetime = Field(description="Always created_at: events do not change.")
    previous_event_ids: list[str] = Field(
        description="The events of the nearest upstream nodes that emit events, in this run."
    )


class EventsMeta(BaseModel):
    current_page: str = Field(description="Link to this page.")
    previous_page: str | None = Field(None, description="Link to the page before, if any.")
    next_page: str | None = Field(None, description="Link to the page after, if any.")
    per_page: int
    pages: int | None = Field(
        description="How many pages the events fill; null unless this page reaches the end "
        "(counting them all would read the whole list)."
    )
    count: int | None = Field(
        description="How many events the list has (newer than since_id); null unless this "
        "page reaches the end."
    )


class EventPage(BaseModel):
    data: list[NodeEvent]
    errors: list[dict[str, str]] | None = None
    meta: EventsMeta


class NodeEvents:
    def __init__(self, table: str, payloads: PayloadStore):
        self.table = table
        self.event_store = NodeEventStore(table)
        self.payloads = payloads

    def record(
        self,
        org_id: str,
        run: RunRecord,
        node: NodeRecord,
        event_id: str,
        previous_event_ids: list[str],
    ) -> None:
        """Writes the event of a node that succeeded (idempotent: the id is the node's)."""
        fields = {
            "id": event_id,
            "node": node.ref,
            "workflow_id": run.workflow_id,
            "run_id": run.run_id,
            # The output as stored: the same JSON text, or the same S3 object (same lifetime).
            "payload": node.output.text,
            "payload_s3": node.output.s3_key,
            "previous_event_ids": previous_event_ids,
            "created_at": node.finished_at,
            "expires_at": run.expires_at,
        }
        stored = {name: value for name, value in fields.items() if value is not None}
        self.event_store.put(org_id, run.workflow_id, node.ref, event_id, stored)

    def page(
        self,
        org_id: str,
        workflow_id: str,
        ref: str,
        since_id: str | None,
        page: int,
        per_page: int,
    ) -> tuple[list[NodeEvent], int | None]:
        """The events on ``page`` (newest first) and how many the list has in all, when this
        page reaches its end (None when more follow)."""
        if not self.event_store.workflow_exists(org_id, workflow_id):
            raise NotFound("workflow", workflow_id)
        items, count, more = self.event_store.page(
            org_id, workflow_id, ref, since_id, (page - 1) * per_page, per_page
        )
        return [self._event(item) for item in items], None if more else count

    def _event(self, item: dict[str, Any]) -> NodeEvent:
        return NodeEvent(
            id=item["id"],
            node=item["node"],
            workflow_id=item["workflow_id"],
            run_id=item["run_id"],
            payload=self.payloads.load(item, "payload"),
            created_at=item["created_at"],
            updated_at=item["created_at"],
            previous_event_ids=list(item.get("previous_event_ids") or []),
        )
