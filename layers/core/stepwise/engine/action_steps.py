"""Action nodes (webhooks): an attempt hands a delivery to the queue, then ends with what the
dispatcher recorded, the destination's signal, or its timeout. The same steps serve one item of
a for_each action node (``address.index`` set): the item's record holds its attempts."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from stepwise.actions.definitions import InputRejected, check_input, resolve_action
from stepwise.actions.webhooks.signal_tokens import SignalTarget
from stepwise.core.clock import iso, now
from stepwise.core.errors import NotFound
from stepwise.core.observability import logger
from stepwise.core.statuses import NODE_TERMINAL, NodeStatus
from stepwise.engine.address import NodeAddress
from stepwise.engine.attempts import AnswerNotSettled, StepFamily, attempt_deadline
from stepwise.engine.executors import NodeFailure
from stepwise.engine.express import fitted
from stepwise.engine.expressions import TemplateError, render
from stepwise.engine.shared import DONE, run_wait_bound
from stepwise.infra import executions
from stepwise.runs.records import AttemptRecord, NodeRecord, RunRecord
from stepwise.workflows.models import NodeSpec

if TYPE_CHECKING:
    from stepwise.actions.dispatcher import Dispatcher
    from stepwise.actions.webhooks.responses import Outcome
    from stepwise.engine.advance import RunView
    from stepwise.engine.callbacks import Callbacks

DELIVERY_TIMEOUT_MARGIN_SECONDS = 30  # queueing and dispatch on top of the destination's SLA


class Planned(NamedTuple):
    """What an action attempt delivers, resolved when it starts."""

    action_input: Any
    pinned: dict[str, Any]  # the action's name, version and destination, pinned on the attempt
    heartbeat: int  # how long the attempt waits for its answer
    # The pinned destination's item as read (None: no such item), deleted or not: the attempt's
    # one read of it
    destination: dict[str, Any] | None


class ActionSteps(StepFamily):
    """An action attempt's start (``deliver``) and its end (``action_settled``); in an Express
    execution, the whole attempt in one step (``attempt_now``)."""

    # Builds the dispatcher that delivers an Express execution's attempts within the step (the
    # engine function's, components.py); None: not built in this process.
    deliverer: "Callable[[], Dispatcher] | None" = None

    callbacks: "Callbacks"  # set by the Engine: an Express node's ack awaits its callback there

    def start(
        self, address: NodeAddress, run: RunRecord, spec: NodeSpec, context: dict[str, Any]
    ) -> dict[str, Any]:
        """Resolves the definition and checks the input, then hands the attempt to the queue.

        The attempt waits ``heartbeat_seconds`` (``retry.timeout``, else the SLA plus a margin)
        for an answer; each heartbeat signal restarts that wait, up to the run's own timeout.
        """
        org_id, run_id, attempt = address.org_id, address.run_id, address.attempt
        planned = self._plan(org_id, spec, context)
        if not isinstance(planned, Planned):
            return self._refuse(address, spec, *planned)
        heartbeat = planned.heartbeat
        # One write: what the dispatcher delivers and how long the attempt waits for it.
        self.store.attempts.prepare_delivery(
            org_id,
            run_id,
            spec.ref,
            attempt,
            planned.action_input,
            planned.pinned,
            index=address.index,
            wait=(iso(now() + timedelta(seconds=heartbeat)), heartbeat),
        )
        return {
            "next": "deliver",
            "attempt": attempt,
            "heartbeat_seconds": heartbeat,
            "timeout_seconds": max(heartbeat + 1, run_wait_bound(run)),
        }

    def attempt_now(
        self,
        address: NodeAddress,
        spec: NodeSpec,
        context: dict[str, Any],
        owner: str,
        express: datetime | None = None,
        view: "RunView | None" = None,
    ) -> dict[str, Any]:
        """One attempt of an Express execution's action node (or item) within this one step:
        opens the attempt and takes its lease for ``owner`` (the execution) in one write,
        delivers through the dispatcher's code, then records the answer and ends the attempt
        in one write. The outcome is the machine's next move: done, again after a wait, or
        hand-off to Standard (an ack, or a wait that would not fit).

        A duplicate execution finds the lease another execution holds and ends (``claimed``);
        the same execution run again (its answer lost on the way back) takes its lease again
        and delivers with the same ``webhook-id``, or settles with the answer it recorded."""
        org_id, run_id, ref, attempt = address.org_id, address.run_id, address.ref, address.attempt
        planned = self._plan(org_id, spec, context)
        if not isinstance(planned, Planned):
            # Nothing to deliver: the attempt opens and fails for good.
            deadline = attempt_deadline(spec)
            if not self.store.nodes.start_attempt(
                org_id, run_id, ref, attempt, deadline, index=address.index
            ):
                return DONE
            return self._refuse(address, spec, *planned)
        assert self.deliverer is not None, "the engine was built without a dispatcher"
        from stepwise.actions.dispatcher import DESTINATION_DELETED, deliverable, lease_until

        dispatcher = self.deliverer()
        destination = deliverable(planned.destination)
        at = now()
        until = lease_until(destination) if destination else iso(at + timedelta(seconds=30))
        wait = (iso(at + timedelta(seconds=planned.heartbeat)), planned.heartbeat)
        opened = self.store.attempts.open_delivery(
            org_id,
            run_id,
            ref,
            attempt,
            planned.action_input,
            planned.pinned,
            wait,
            until,
            owner,
            index=address.index,
        )
        if opened is None:
            return self._not_opened(address, owner, express)
        if destination is None:
            outcome = DESTINATION_DELETED
        else:
            target = SignalTarget(org_id, run_id, ref, attempt, address.index)
            outcome = dispatcher.post_attempt(
                target, planned.pinned, destination, planned.action_input
            )
        return self._answered(address, spec, outcome, express, view)

    def _not_opened(
        self, address: NodeAddress, owner: str, express: datetime | None
    ) -> dict[str, Any]:
        """The attempt could not be opened for ``owner``: answered already (this execution's
        earlier run recorded it), leased to another execution, or stale."""
        org_id, run_id, ref = address.org_id, address.run_id, address.ref
        record = (
            self.store.runs.get_node(org_id, run_id, ref)
            if address.index is None
            else self.store.nodes.get_item(org_id, run_id, ref, address.index)
        )
        tried = record.attempt_record(address.attempt)
        if tried is not None and (tried.delivery or tried.signal):
            # Answered (this execution's earlier run recorded it), or a callback came first:
            # the attempt ends with what is recorded, without a second POST.
            return self.action_settled(address, {}, express)
        if tried is not None and tried.claimed_by not in (None, owner):
            logger.info("the attempt's lease is another execution's", extra={"owner": owner})
            return {**DONE, "claimed": True}
        logger.info("stale attempt ignored", extra={"attempt": address.attempt})
        return DONE

    def _answered(
        self,
        address: NodeAddress,
        spec: NodeSpec,
        outcome: "Outcome",
        express: datetime | None,
        view: "RunView | None" = None,
    ) -> dict[str, Any]:
        """Records the destination's answer and ends the attempt, in one write when it can.
        ``view``: the run as the step read it, which moving the run on reuses while fresh."""
        from stepwise.actions.dispatcher import delivery_record
        from stepwise.actions.webhooks.responses import Signal

        answer = delivery_record(outcome)
        if outcome.kind != Signal.ACK:
            try:
                if outcome.kind == Signal.SUCCESS:
                    if self.attempts.succeeded(address, spec, outcome.result, answer=answer):
                        if address.index is not None:
                            return DONE
                        # It is succeeded (this write said so): no need to read it back.
                        settled = [(address.ref, str(NodeStatus.SUCCEEDED))]
                        self.advance.settled(address.org_id, address.run_id, settled, view=view)
                        return DONE
                    retry = None
                else:
                    failure, min_wait = _delivery_failure(answer, None, {})
                    retry = self.attempts.failed(
                        address, spec, failure, min_wait=min_wait, answer=answer
                    )
            except AnswerNotSettled:
                pass  # a callback came first: recorded alone below, settled as it says
            else:
                if address.index is not None:
                    return retry or DONE
                return retry if retry is not None else self.advance.node_changed(address)
        # An ack (the result comes by callback), or an answer a callback overtook: the answer
        # is recorded alone, then the attempt ends as the ActionSettled step ends it.
        self.store.attempts.record_delivery(
            address.org_id,
            address.run_id,
            address.ref,
            address.attempt,
            answer,
            outcome.result,
            index=address.index,
        )
        return self.action_settled(address, {}, express)

    def _plan(self, org_id: str, spec: NodeSpec, context: dict[str, Any]) -> Planned | tuple:
        """What the attempt delivers, or why it cannot (an error type and message)."""
        try:
            # The destination is read once, below (not once per destination of the definition).
            definition = resolve_action(
                self.deps.definitions, org_id, spec.action or "", with_destinations=False
            )
            action_input = render(spec.args, context)
            check_input(definition, action_input)
        except NotFound as exc:
            return ("ActionNotFound", str(exc))
        except TemplateError as exc:
            return ("ExpressionError", str(exc))
        except InputRejected as exc:
            return ("InputRejected", str(exc))
        if definition.deleted_at is not None:
            return ("ActionNotFound", f"action definition {definition.name!r} was deleted")
        # What this attempt resolved is pinned on it: the dispatcher delivers exactly that, even
        # if the alias moves before it runs.
        link = next((d for d in definition.destinations if d.is_default), None)
        pinned = {
            "name": definition.name,
            "version": definition.version,
            "destination_id": link.destination_id if link else None,
        }
        destination = (
            self.deps.definitions.destination_item(org_id, link.destination_id) if link else None
        )
        sla = int(destination["response_time_sla_ms"]) if destination else 10_000
        heartbeat = spec.retry.timeout or int(sla / 1000) + DELIVERY_TIMEOUT_MARGIN_SECONDS
        return Planned(action_input, pinned, heartbeat, destination)

    def _refuse(
        self, address: NodeAddress, spec: NodeSpec, error_type: str, message: str
    ) -> dict[str, Any]:
        """Fails the attempt for good before anything is delivered: the node, or only its item
        (whose failure then fails the node, naming the item, once the items are collected)."""
        if address.index is None:
            return self.attempts.fail(address, spec.kind, error_type, message)
        failure = NodeFailure(error_type, message, retryable=False)
        return self.attempts.failed(address, spec, failure) or DONE

    def action_settled(
        self, address: NodeAddress, delivery: dict[str, Any], express: datetime | None = None
    ) -> dict[str, Any]:
        """Ends an action attempt with what the dispatcher recorded (or with its timeout).

        ``express``: in an Express execution (engine/express.py), an acknowledged attempt with
        no callback yet awaits it with no execution (engine/callbacks.py), and a retry that
        would not fit goes to the node's Standard execution."""
        if address.index is not None:
            return self._item_settled(address, delivery)
        opened = self.open_attempt(address)
        if opened is None:
            return self.advance.node_changed(address)
        node, spec, tried = opened
        if express is not None and tried is not None and acknowledged(tried) and not tried.signal:
            # The callback is awaited with no execution at all (engine/callbacks.py).
            return self.callbacks.await_callback(address, node)
        outcome = self._settle(address, node, spec, tried, delivery)
        if outcome is None:
            return self.advance.node_changed(address)
        next_seconds = tried.heartbeat_seconds if tried is not None else None
        return fitted(outcome, express, next_seconds)

    def await_callback(
        self, address: NodeAddress, run: RunRecord, tried: AttemptRecord
    ) -> dict[str, Any]:
        """An acknowledged attempt an Express execution handed over: the Standard execution
        waits for its callback (``await_signal``) as Deliver waits after an ack."""
        heartbeat = tried.heartbeat_seconds or DELIVERY_TIMEOUT_MARGIN_SECONDS
        return {
            "next": "signal",
            "attempt": address.attempt,
            "heartbeat_seconds": heartbeat,
            "timeout_seconds": max(heartbeat + 1, run_wait_bound(run)),
        }

    def await_signal(self, address: NodeAddress, task_token: str) -> dict[str, Any]:
        """Keeps the waiting task's token on the attempt, where the signals function finds it;
        resumes at once if the callback (or the attempt's end) came first."""
        node = self.store.attempts.store_attempt_token(
            address.org_id, address.run_id, address.ref, address.attempt, task_token
        )
        tried = node.attempt_record(address.attempt) if node is not None else None
        if tried is None or tried.signal or tried.status != "running":
            executions.resume_run(task_token, "signalled")
        return {}

    def _item_settled(self, address: NodeAddress, delivery: dict[str, Any]) -> dict[str, Any]:
        """One for_each item's attempt ends: retried (the item's outcome), or the item is done;
        the node itself moves on only once every item has (``collect_items``)."""
        org_id, run_id, ref = address.org_id, address.run_id, address.ref
        item = self.store.nodes.get_item(org_id, run_id, ref, address.index or 0)
        if item.status in NODE_TERMINAL:
            return DONE
        run = self.store.runs.get_run(org_id, run_id)
        spec = self.deps.workflow(org_id, run).specs[ref]
        tried = item.attempt_record(address.attempt)
        return self._settle(address, item, spec, tried, delivery) or DONE

    def settle_attempt(
        self,
        address: NodeAddress,
        node: NodeRecord,
        spec: NodeSpec,
        tried: AttemptRecord,
        scheduled: list[bool],
    ) -> dict[str, Any] | None:
        """Ends an acknowledged attempt that awaited its callback with no execution: with its
        signal, else with its timeout (engine/callbacks.py). None, or the retry; ``scheduled``
        gets True if this call's write scheduled that retry."""
        return self._settle(address, node, spec, tried, {"outcome": "timeout"}, scheduled)

    def _settle(
        self,
        address: NodeAddress,
        node: NodeRecord,
        spec: NodeSpec,
        tried: AttemptRecord | None,
        delivery: dict[str, Any],
        scheduled: list[bool] | None = None,
    ) -> dict[str, Any] | None:
        """Ends the attempt of ``node`` (the node's record or an item's): None, or the retry."""
        record = tried.delivery if tried is not None else None
        signal = tried.signal if tried is not None else None
        if signal is not None:
            outcome = self._signalled(address, node, spec, signal, scheduled)
        elif record is not None and record["kind"] == "success":
            result = self.store.payloads.read(node.delivery_result)
            self.attempts.succeeded(address, spec, result)
            outcome = None
        else:
            failure, min_wait = _delivery_failure(record, tried, delivery)
            outcome = self.attempts.failed(
                address, spec, failure, min_wait=min_wait, scheduled=scheduled
            )
        return outcome

    def _signalled(
        self,
        address: NodeAddress,
        node: NodeRecord,
        spec: NodeSpec,
        signal: dict[str, Any],
        scheduled: list[bool] | None = None,
    ) -> dict[str, Any] | None:
        """Ends an action attempt with the destination's callback."""
        if signal["kind"] == "success":
            result = self.store.payloads.read(node.signal_result)
            self.attempts.succeeded(address, spec, result)
            return None
        error = signal.get("error") or {}
        failure = NodeFailure(
            error.get("type") or "DestinationFailure",
            error.get("message") or "the destination signalled failure",
            retryable=bool(signal.get("retryable")),
        )
        return self.attempts.failed(address, spec, failure, scheduled=scheduled)


def acknowledged(tried: AttemptRecord) -> bool:
    """The destination accepted the attempt; its result comes by callback."""
    return bool(tried.delivery) and tried.delivery.get("kind") == "ack"


def _delivery_failure(
    record: dict[str, Any] | None, tried: AttemptRecord | None, delivery: dict[str, Any]
) -> tuple[NodeFailure, int | None]:
    """Why an attempt with no success ended, and the destination's Retry-After if it sent one."""
    if record is None:
        if delivery.get("outcome") == "timeout":
            return NodeFailure("Timeout", "the destination did not answer in time"), None
        return NodeFailure("DeliveryLost", "no answer was recorded for the delivery"), None
    if record["kind"] == "ack":
        # Acknowledged, then no success or failure signal before the wait ran out.
        seconds = tried.heartbeat_seconds if tried is not None else None
        message = f"the destination acknowledged but sent no signal within {seconds} s"
        return NodeFailure("Timeout", message), None
    failure = NodeFailure(
        record.get("error_type") or "DeliveryFailed",
        record.get("message") or "",
        retryable=bool(record.get("retryable")),
    )
    retry_after = record.get("retry_after")
    return failure, int(retry_after) if retry_after is not None else None
