"""Action nodes (webhooks): an attempt hands a delivery to the queue, then ends with what the
dispatcher recorded, the destination's signal, or its timeout. The same steps serve one item of
a for_each action node (``address.index`` set): the item's record holds its attempts."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from stepwise.actions.definitions import InputRejected, check_input, resolve_action
from stepwise.core.clock import iso, now
from stepwise.core.errors import NotFound
from stepwise.core.statuses import NODE_TERMINAL
from stepwise.engine.address import NodeAddress
from stepwise.engine.attempts import StepFamily
from stepwise.engine.executors import NodeFailure
from stepwise.engine.express import fitted
from stepwise.engine.expressions import TemplateError, render
from stepwise.engine.shared import DONE, run_wait_bound
from stepwise.infra import executions
from stepwise.runs.records import AttemptRecord, NodeRecord, RunRecord
from stepwise.workflows.models import NodeSpec

if TYPE_CHECKING:
    from stepwise.engine.callbacks import Callbacks

DELIVERY_TIMEOUT_MARGIN_SECONDS = 30  # queueing and dispatch on top of the destination's SLA


class ActionSteps(StepFamily):
    """An action attempt's start (``deliver``) and its end (``action_settled``)."""

    callbacks: "Callbacks"  # set by the Engine: an Express node's ack awaits its callback there

    def start(
        self, address: NodeAddress, run: RunRecord, spec: NodeSpec, context: dict[str, Any]
    ) -> dict[str, Any]:
        """Resolves the definition and checks the input, then hands the attempt to the queue.

        The attempt waits ``heartbeat_seconds`` (``retry.timeout``, else the SLA plus a margin)
        for an answer; each heartbeat signal restarts that wait, up to the run's own timeout.
        """
        org_id, run_id, attempt = address.org_id, address.run_id, address.attempt
        index = address.index
        try:
            definition = resolve_action(self.deps.definitions, org_id, spec.action or "")
            action_input = render(spec.args, context)
            check_input(definition, action_input)
        except NotFound as exc:
            return self._refuse(address, spec, "ActionNotFound", str(exc))
        except TemplateError as exc:
            return self._refuse(address, spec, "ExpressionError", str(exc))
        except InputRejected as exc:
            return self._refuse(address, spec, "InputRejected", str(exc))
        if definition.deleted_at is not None:
            message = f"action definition {definition.name!r} was deleted"
            return self._refuse(address, spec, "ActionNotFound", message)
        # What this attempt resolved is pinned on it: the dispatcher delivers exactly that, even
        # if the alias moves before it runs.
        link = next((d for d in definition.destinations if d.is_default), None)
        pinned = {
            "name": definition.name,
            "version": definition.version,
            "destination_id": link.destination_id if link else None,
        }
        sla = max(
            (
                d.destination.config.response_time_sla_ms
                for d in definition.destinations
                if d.is_default and d.destination
            ),
            default=10_000,
        )
        heartbeat = spec.retry.timeout or int(sla / 1000) + DELIVERY_TIMEOUT_MARGIN_SECONDS
        # One write: what the dispatcher delivers and how long the attempt waits for it.
        self.store.attempts.prepare_delivery(
            org_id,
            run_id,
            spec.ref,
            attempt,
            action_input,
            pinned,
            index=index,
            wait=(iso(now() + timedelta(seconds=heartbeat)), heartbeat),
        )
        return {
            "next": "deliver",
            "attempt": attempt,
            "heartbeat_seconds": heartbeat,
            "timeout_seconds": max(heartbeat + 1, run_wait_bound(run)),
        }

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
