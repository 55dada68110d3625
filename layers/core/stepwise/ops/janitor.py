"""The janitor: settles runs that can no longer settle themselves, a bounded slice at a time.

A run has no execution of its own (its start, deadline and finalisation are RunQueue messages),
so the janitor judges it by its timestamps: a run is orphaned when it is still queued well past
its creation (its start failed until it was dead-lettered), asked to settle well ago but not
finished (its finalisation failed), or still open well past its own timeout (its deadline
message was lost). The janitor finalises such runs through the engine's own finalisation
(nodes cancelled, outcome recorded, lifecycle event published once, parent resumed), and keeps
settled runs for the retention period from when they end. Within a healthy run it heals nodes
left behind: a node scheduled whose execution never started is started, a node whose
execution ended without settling it fails (as when its steps crash), so the run moves on, and an
acknowledged attempt awaiting its callback with no execution times out once well past its
recorded deadline (its timer was lost); a
for_each lane whose chunk never started, or ended without being counted, goes on.

It walks each org's active runs oldest first, remembers where it stopped, and examines at most
``limit`` runs (and describes at most ``node_limit`` node executions) per sweep, so every run
is looked at within a few sweeps whatever the table's size.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from stepwise.core.errors import NotFound
from stepwise.core.observability import logger
from stepwise.core.statuses import RUN_TERMINAL, NodeStatus, RunStatus
from stepwise.engine.address import NodeAddress
from stepwise.engine.callbacks import still_awaiting
from stepwise.infra import executions
from stepwise.ops.store import JanitorStore
from stepwise.runs.records import NodeRecord, RunRecord
from stepwise.store import Store

if TYPE_CHECKING:
    from stepwise.engine.engine import Engine

ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)
# How long past its deadline (or, queued, past its creation) before the janitor steps in: the
# execution's own timeout and the API's start are given the time to act first.
GRACE = timedelta(minutes=5)
# A queued run waits for its start on RunQueue, behind a backlog (batches, bulk redrives, bursts
# of schedules) and through its retries: 5 receives 900 s apart (six times the engine's 150 s
# timeout) before its DLQ. Only past that (and a margin for the backlog) has its start surely
# been lost.
START_GRACE = timedelta(minutes=90)
# An Express execution lasts five minutes at most; past that and a margin with no sign of it,
# the node's Express execution has ended without settling it.
EXPRESS_GONE = timedelta(minutes=6)


@dataclass
class SweepReport:
    orgs: int = 0
    examined: int = 0
    settled: list[dict[str, str]] = field(default_factory=list)
    nodes: list[dict[str, str]] = field(default_factory=list)  # nodes healed in running runs
    failed: list[dict[str, str]] = field(default_factory=list)  # runs whose examination raised
    complete: bool = True  # False when the limit stopped the sweep before every org was seen


class Janitor:
    def __init__(
        self,
        store: Store,
        engine: "Engine",
        limit: int = 200,
        grace: timedelta = GRACE,
        node_limit: int = 200,
        start_grace: timedelta = START_GRACE,
    ):
        self.store = store
        self.janitor_store = JanitorStore(store.table)
        self.engine = engine
        self.limit = limit
        self.grace = grace
        self.start_grace = start_grace
        self.node_limit = node_limit
        self._nodes_described = 0

    def sweep(self, now: datetime | None = None) -> SweepReport:
        """One bounded sweep. Each org gets an equal share of ``limit`` first, then what is
        left goes to the orgs that had more, so one busy org cannot starve the others."""
        now = now or datetime.now(UTC)
        report = SweepReport()
        self._nodes_described = 0
        orgs = list(self.janitor_store.orgs())
        report.orgs = len(orgs)
        share = max(1, self.limit // max(1, len(orgs)))
        more = [org for org in orgs if self._sweep_org(org, now, report, share)]
        for org_id in more:
            left = self.limit - report.examined
            if left > 0 and not self._sweep_org(org_id, now, report, left):
                more = [o for o in more if o != org_id]
        report.complete = not more
        return report

    def _sweep_org(self, org_id: str, now: datetime, report: SweepReport, budget: int) -> bool:
        """Examines up to ``budget`` of the org's active runs, after where the last sweep
        stopped; whether some were left for the next sweep."""
        budget = min(budget, self.limit - report.examined)
        position = self.janitor_store.position(org_id)
        moved: dict[str, str | None] = {}
        cut_short = False
        for status in ACTIVE:
            if budget <= 0:
                cut_short = True
                break
            entries, last = self.janitor_store.runs_in_status(
                org_id, status, position.get(status), budget
            )
            for entry in entries:
                report.examined += 1
                budget -= 1
                self._examine_one(org_id, entry["run_id"], now, report)
            # Continue after the last run seen next time; start over once the end was reached.
            if last != position.get(status):
                moved[status] = last
            cut_short = cut_short or last is not None
        if moved:
            self.janitor_store.move_position(org_id, moved)
        return cut_short

    def _examine_one(self, org_id: str, run_id: str, now: datetime, report: SweepReport) -> None:
        """Examines one run; its error is logged and reported, never the end of the sweep."""
        try:
            outcome = self.examine(org_id, run_id, now, report)
        except Exception as exc:  # noqa: BLE001 (one run's fault, e.g. AccessDenied, is not the sweep's)
            logger.exception("janitor could not examine a run", extra={"run_id": run_id})
            report.failed.append({"org_id": org_id, "run_id": run_id, "error": _error_name(exc)})
            return
        if outcome is not None:
            report.settled.append({"org_id": org_id, "run_id": run_id, **outcome})

    def examine(
        self, org_id: str, run_id: str, now: datetime, report: SweepReport | None = None
    ) -> dict[str, str] | None:
        """Settles the run if it is orphaned; what it did, or None if the run is fine (its
        stranded nodes healed, and listed in ``report``)."""
        try:
            run = self.store.runs.get_run(org_id, run_id)
        except NotFound:
            return None
        if run.status in RUN_TERMINAL or run.kind == "external":
            return None  # external runs are settled by their client, never here
        # A redriven run's timeout counts from its redrive, as its new execution's does.
        started = datetime.fromisoformat(run.redriven_at or run.started_at or run.created_at)
        deadline = started + timedelta(seconds=run.timeout or 0)
        if now > deadline + self.grace:
            return self._settle(run, {"reason": "timed_out"}, "past its timeout")
        asked = run.settle_requested_at
        if asked and now > datetime.fromisoformat(asked) + self.grace:
            return self._settle(run, {"reason": "settled"}, "asked to settle but never finished")
        if run.status == RunStatus.QUEUED:
            created = datetime.fromisoformat(run.redriven_at or run.created_at)
            if now < created + self.start_grace:
                return None  # its start may still be on the way, or be retried
            cause = "the run's start was never processed"
            return self._settle(run, _crashed("RunNotStarted", cause), cause)
        if now > started + self.grace:
            healed = self._heal_nodes(org_id, run_id, now)
            if report is not None:
                report.nodes.extend(healed)
        return None

    def _heal_nodes(self, org_id: str, run_id: str, now: datetime) -> list[dict[str, str]]:
        """Starts nodes whose execution never started; fails nodes whose execution ended."""
        healed: list[dict[str, str]] = []
        run, nodes = self.store.runs.get_run_with_nodes(org_id, run_id)
        for node in nodes:
            if node.status not in (NodeStatus.SCHEDULED, NodeStatus.RUNNING):
                continue
            since = node.started_at or node.scheduled_at
            if since is None or now < datetime.fromisoformat(since) + self.grace:
                continue
            if self._nodes_described >= self.node_limit:
                break
            ref = node.ref
            if still_awaiting(node):
                # An ack awaiting its callback has no execution: judged by its recorded
                # deadline, past which (and the grace) its timer was lost.
                if self.engine.callbacks.overdue(node, now - self.grace):
                    logger.warning("janitor ends an overdue callback wait", extra={"node_ref": ref})
                    timer = {"node_ref": ref, "attempt": node.attempt}
                    self.engine.callbacks.timer(org_id, run_id, timer)
                    healed.append({"run_id": run_id, "node_ref": ref, "action": "timed_out"})
                continue
            self._nodes_described += 1
            machine = self.engine.node_state_machine_arn
            # An Express node's own execution is never described (AWS does not serve that):
            # only its Standard one, which exists once the node was handed over.
            execution = executions.describe_node(machine, run_id, ref, run.generation)
            deps = self.engine.advance.deps
            if execution is None and deps.runs_express(deps.workflow(org_id, run), ref):
                if self._express_gone(node, now):
                    attempt = max(node.attempt, 1)
                    logger.warning("janitor restarts an Express node", extra={"node_ref": ref})
                    deps.start_node(org_id, run_id, ref, run.generation, True, attempt)
                    healed.append({"run_id": run_id, "node_ref": ref, "action": "restarted"})
                continue
            if execution is None and node.status == NodeStatus.SCHEDULED:
                logger.warning("janitor starts a stranded node", extra={"node_ref": ref})
                executions.start_node(machine, org_id, run_id, ref, run.generation)
                healed.append({"run_id": run_id, "node_ref": ref, "action": "started"})
            elif (
                execution is not None
                and execution["status"] == "RUNNING"
                and node.item_count
                and run.status != RunStatus.PAUSED  # its chunks are held until resume
            ):
                # A for_each node waits on its chunks: a lane that stalled must not hang it.
                for action in self.engine.for_each.heal_chunks(org_id, run_id, node, now):
                    logger.warning("janitor moves a for_each lane on", extra={"node_ref": ref})
                    healed.append({"run_id": run_id, "node_ref": ref, "action": action})
            elif execution is not None and execution["status"] != "RUNNING":
                error = execution.get("error") or f"Execution{execution['status'].title()}"
                cause = execution.get("cause") or (
                    f"the node's execution ended {execution['status']} without settling it"
                )
                logger.warning("janitor fails a stranded node", extra={"node_ref": ref})
                address = NodeAddress(org_id, run_id, ref, max(node.attempt, 1))
                self.engine.nodes.node_crashed(address, error, cause)
                healed.append({"run_id": run_id, "node_ref": ref, "action": "failed"})
        return healed

    @staticmethod
    def _express_gone(node: NodeRecord, now: datetime) -> bool:
        """Whether the node's Express execution has surely ended (five minutes at most) with
        the node unsettled: nothing has started or answered its latest attempt (or scheduled
        its retry) within an Express execution's life and a margin. Starting it again is safe:
        the attempt's lease and conditional writes make a second execution harmless."""
        tried = node.attempt_record(node.attempt)
        marks = [node.scheduled_at]
        if tried is not None:
            answered = (tried.delivery or {}).get("answered_at")
            marks += [tried.started_at, answered, tried.available_at]
        latest = max((datetime.fromisoformat(m) for m in marks if m), default=None)
        return latest is not None and now > latest + EXPRESS_GONE

    def _settle(self, run: RunRecord, settle: dict[str, Any], why: str) -> dict[str, str]:
        org_id, run_id = run.org_id, run.run_id
        logger.warning("janitor settles an orphaned run", extra={"run_id": run_id, "why": why})
        answer = self.engine.runs.finalize_run(org_id, run_id, settle)
        self.store.run_state.keep_settled_run(org_id, run_id)
        return {"status": str(answer["status"]), "why": why}


def _error_name(exc: Exception) -> str:
    # An AWS error (botocore's ClientError) names its code; the janitor does not import botocore.
    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    if code:
        return f"{type(exc).__name__}: {code}"
    return type(exc).__name__


def _crashed(error: str, cause: str) -> dict[str, Any]:
    return {"reason": "crashed", "error": error, "cause": cause}
