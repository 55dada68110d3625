"""External runs (seed 002 flow runs): runs a client executes elsewhere and reports here.

They share the run item, the run lists, the counters and the logs with engine runs, and have no
execution: their ``status`` is the phase the client reports. Engine runs accept only the updates
that make sense for them (tags); anything else is refused, saying why.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stepwise.core.clock import iso, now
from stepwise.core.errors import Conflict, NotFound, ValidationFailed, field_error
from stepwise.core.fields import ID_FIELD, JSON, TAGS
from stepwise.core.ids import new_id
from stepwise.core.statuses import RUN_TERMINAL, RunStatus
from stepwise.infra import keys
from stepwise.runs import lifecycle_events
from stepwise.runs.records import RunRecord
from stepwise.store import Store

EXTERNAL = "external"
SERVICE_ID_PREFIX = "run_"
# An external run that never reports an end still expires, a year after its last update.
OPEN_RUN_KEEP = timedelta(days=365)


class FlowType(StrEnum):
    AUTOMATION = "automation"
    SELF_SERVICE_ACTION = "self_service_action"
    SCORECARD = "scorecard"
    REFERENCE = "reference"


class ExternalAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: ID_FIELD
    phase: RunStatus
    start_time: datetime | None = None
    end_time: datetime | None = None


class ExternalRunCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"id": "deploy-42", "workflow_id": "deploy", "flow_type": "self_service_action"}
            ]
        },
    )

    id: Annotated[str | None, Field(pattern=r"^[a-z0-9_.-]+$", max_length=128)] = Field(
        None,
        description="Your own id for the run, not starting with run_ (the service's own);"
        " default: a new run_ id.",
    )
    workflow_id: ID_FIELD = Field(description="The flow this run belongs to (flowId).")
    flow_type: FlowType = FlowType.AUTOMATION
    args: JSON = None
    tags: TAGS = Field(default_factory=dict)


class ExternalRunUpdate(BaseModel):
    """PUT /runs/{id}: creates an external run that does not exist yet (then ``workflow_id``
    is required), else changes what is given."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "phase": "running",
                    "actions": [{"id": "build", "phase": "succeeded"}],
                    "tags": {"team": "web"},
                }
            ]
        },
    )

    workflow_id: ID_FIELD | None = None
    flow_type: FlowType | None = None
    args: JSON = None
    phase: RunStatus | None = None
    actions: list[ExternalAction] | None = Field(None, max_length=1000)
    outputs: JSON = None
    tags: TAGS | None = None


class ExternalRuns:
    def __init__(self, store: Store, event_bus_name: str | None = None):
        self.store = store
        self.event_bus_name = event_bus_name

    def create(
        self,
        org_id: str,
        body: ExternalRunCreate,
        actor: str,
        id_at: tuple[str, str] = ("body", "id"),
    ) -> RunRecord:
        """``id_at``: where the run's own id came from, for the 422 that refuses it."""
        if body.id is not None and body.id.startswith(SERVICE_ID_PREFIX):
            # The service's own runs, their child runs ({run}.{ref}.{attempt}) and batch runs
            # ({run}.{0001}) are found by these ids: a client taking one of a run yet to start
            # would have the engine reuse it as if it had run.
            message = f"ids starting with {SERVICE_ID_PREFIX!r} are the service's own runs'"
            raise ValidationFailed([field_error(list(id_at), message, "value_error.reserved")])
        run_id = body.id or new_id("run")
        at = now()
        item = {
            **keys.run(org_id, run_id),
            **keys.runs_by_workflow(org_id, body.workflow_id, run_id),
            **keys.runs_by_status(org_id, str(RunStatus.QUEUED), run_id),
            "org_id": org_id,
            "run_id": run_id,
            "kind": EXTERNAL,
            "role": "key",
            "workflow_id": body.workflow_id,
            "flow_type": str(body.flow_type),
            "status": str(RunStatus.QUEUED),
            "tags": body.tags,
            "actions": [],
            "created_at": iso(at),
            "created_by": actor,
            "updated_at": iso(at),
            "updated_by": actor,
            "expires_at": int((at + OPEN_RUN_KEEP).timestamp()),
            **self.store.payloads.attributes(
                "args", body.args, keys.run_object(org_id, run_id, "args")
            ),
        }
        if not self.store.runs.put_run(org_id, item):
            raise Conflict(f"run {run_id!r} exists already")
        return RunRecord.from_item(item)

    def update(self, org_id: str, run_id: str, body: ExternalRunUpdate, actor: str) -> bool:
        """Applies the change; whether it created the run."""
        try:
            run = self.store.runs.get_run(org_id, run_id)
        except NotFound:
            if body.workflow_id is None:
                raise ValidationFailed(
                    [
                        field_error(
                            ["body", "workflow_id"],
                            "creating a run with PUT needs its workflow_id",
                            "missing",
                        )
                    ]
                ) from None
            try:
                created = ExternalRunCreate(
                    id=run_id,
                    workflow_id=body.workflow_id,
                    flow_type=body.flow_type or FlowType.AUTOMATION,
                    args=body.args,
                    tags=body.tags or {},
                )
            except ValidationError as exc:
                # Only the path's id is new here (the body was validated): not a client id.
                raise ValidationFailed(
                    [
                        field_error(["path", "run_id"], error["msg"], error["type"])
                        for error in exc.errors()
                    ]
                ) from None
            run = self.create(org_id, created, actor, id_at=("path", "run_id"))
            if any(v is not None for v in (body.phase, body.actions, body.outputs)):
                self._change(org_id, run, body, actor)
            return True
        if run.kind != EXTERNAL:
            engine_only = [
                name
                for name in ("workflow_id", "flow_type", "args", "phase", "actions", "outputs")
                if getattr(body, name) is not None
            ]
            if engine_only:
                raise Conflict(
                    f"run {run_id!r} is executed by Stepwise, which reports its own "
                    f"{', '.join(engine_only)}; only tags can be set on it"
                )
        self._change(org_id, run, body, actor)
        return False

    def _change(self, org_id: str, run: RunRecord, body: ExternalRunUpdate, actor: str) -> None:
        """Writes the change to ``run`` (as read just before)."""
        run_id = run.run_id
        at = now()
        sets = {"updated_at": iso(at), "updated_by": actor}
        if body.tags is not None:
            sets["tags"] = body.tags
        if body.flow_type is not None:
            sets["flow_type"] = str(body.flow_type)
        if body.actions is not None:
            sets["actions"] = [a.model_dump(mode="json", exclude_none=True) for a in body.actions]
        payloads = [
            self.store.payloads.write(name, value, keys.run_object(org_id, run_id, name))
            for name, value in (("args", body.args), ("outputs", body.outputs))
            if value is not None
        ]
        old = RunStatus(run.status)
        if body.phase is not None and body.phase != old:
            if old in RUN_TERMINAL:
                raise Conflict(f"run {run_id!r} has ended ({old}); its phase cannot change")
            if body.phase == RunStatus.RUNNING or body.phase in RUN_TERMINAL:
                sets.setdefault("started_at", run.started_at or iso(at))
            if body.phase in RUN_TERMINAL:
                sets["finished_at"] = iso(at)
                sets["expires_at"] = int((at + self.store.retention).timestamp())
            if not self.store.runs.update_run(org_id, run, sets, body.phase, payloads):
                raise Conflict(f"run {run_id!r} changed meanwhile; read it and try again")
            if body.phase in RUN_TERMINAL and self.event_bus_name:
                lifecycle_events.publish(
                    self.event_bus_name, self.store.runs.get_run(org_id, run_id)
                )
                self.store.run_state.mark_event_published(org_id, run_id)
        elif not self.store.runs.update_run(org_id, run, sets, payloads=payloads):
            raise Conflict(f"run {run_id!r} changed meanwhile; read it and try again")

    def delete(self, org_id: str, run_id: str) -> None:
        """Removes an external run; Conflict for an engine run."""
        run = self.store.runs.get_run(org_id, run_id)
        if run.kind != EXTERNAL:
            raise Conflict(f"run {run_id!r} is executed by Stepwise: cancel it instead")
        self.store.runs.delete_run(org_id, run)
