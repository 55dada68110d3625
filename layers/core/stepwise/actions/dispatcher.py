"""Delivers an action attempt to its destination: a signed POST, read, recorded, resumed.

The SQS message carries references and the task token only. The attempt's answer is recorded on
the node (once), then the waiting execution is resumed; ``action_settled`` decides what follows.
An ``ack`` answer does not resume: the task waits for the callback to the signal URL. A message
with an ``index`` is one item's attempt of a for_each action node: its record, lease, answer,
``webhook-id`` (``{run}.{ref}[{index}]``) and signal token are the item's own.
"""

import json
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import urllib3

from stepwise.actions.catalog import Catalog
from stepwise.actions.definitions import ActionDefinitions, resolve_action
from stepwise.actions.records import record_id as action_record_id
from stepwise.actions.webhooks.responses import Outcome, Signal, read_response
from stepwise.actions.webhooks.signal_tokens import SignalTarget, SignalTokens
from stepwise.actions.webhooks.signing import signature_headers
from stepwise.actions.webhooks.ssrf import Destination, DestinationRefused, check_url
from stepwise.core import metrics
from stepwise.core.clock import iso, now
from stepwise.core.observability import logger
from stepwise.infra import executions
from stepwise.infra.payloads import dumps
from stepwise.runs.records import RunRecord
from stepwise.store import Store
from stepwise.workflows.models import NodeSpec

MAX_RESPONSE_BYTES = 1024 * 1024
_NOT_HEADER_TEXT = re.compile(r"[^\t\x20-\x7e\xa0-\xff]")  # as actions/models.py HEADER_VALUE
CLAIM_MARGIN_SECONDS = 30


class Dispatcher:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        definitions: ActionDefinitions,
        allow_loopback: bool,
        signal_tokens: Callable[[], SignalTokens],
        public_api_url: str,
    ):
        """``signal_tokens`` builds the signal-token issuer when a delivery first needs one (a
        destination with signaling): its key is a secret, read then and not before, so a
        process that only delivers to destinations without signaling never reads it."""
        self.store = store
        self.catalog = catalog
        self.definitions = definitions
        self.allow_loopback = allow_loopback
        self.signal_tokens = signal_tokens
        self.public_api_url = public_api_url.rstrip("/")

    def deliver(self, message: dict[str, Any]) -> None:
        """One delivery; safe to receive twice (a lease makes one POST, the record is once).
        The waiting Deliver task resumes once the answer is recorded (an ack keeps it waiting
        for the callback)."""
        token = message["task_token"]
        answered = self._deliver(message, token)
        if answered is not None and answered != Signal.ACK:
            executions.resume_run(token, "delivered")

    def deliver_now(self, message: dict[str, Any]) -> dict[str, Any]:
        """The same delivery for an Express execution, which waits on this call: its answer is
        the outcome recorded (``success``, ``failure``, ``ack``), or ``claimed`` when another
        execution of the node holds the lease (Express runs at least once): that one goes on."""
        answered = self._deliver(message, None)
        return {"outcome": "claimed" if answered is None else str(answered)}

    def _deliver(self, message: dict[str, Any], token: str | None) -> str | None:
        """Delivers unless the attempt has its answer or another holder has its lease; the kind
        of answer recorded for the attempt, or None when another holder has the lease."""
        org_id, run_id, ref = message["org_id"], message["run_id"], message["node_ref"]
        attempt = int(message["attempt"])
        index = None if message.get("index") is None else int(message["index"])
        tried = self._attempt(org_id, run_id, ref, attempt, index)
        answered = tried.delivery if tried is not None else None
        if answered:
            return str(answered["kind"])  # a duplicate: change nothing
        pinned = tried.action if tried is not None else None
        action = pinned or self._resolve(org_id, run_id, ref)
        destination = self.destination_of(org_id, action)
        if destination is None:
            return self._record(org_id, run_id, ref, attempt, DESTINATION_DELETED, index)
        claimed = self.store.attempts.claim_delivery(
            org_id, run_id, ref, attempt, lease_until(destination), token, index=index
        )
        if claimed is None:
            logger.info(
                "delivery already claimed or answered", extra={"attempt": attempt, "index": index}
            )
            return self._answer_since(org_id, run_id, ref, attempt, index)
        target = SignalTarget(org_id, run_id, ref, attempt, index)
        action_input = self.store.payloads.read(claimed.action_input)
        outcome = self.post_attempt(target, action, destination, action_input)
        return self._record(org_id, run_id, ref, attempt, outcome, index)

    def destination_of(self, org_id: str, action: dict[str, Any]) -> dict[str, Any] | None:
        """The destination the attempt's pinned ``action`` delivers to; None when it was
        deleted (the attempt then fails with DESTINATION_DELETED, nothing posted)."""
        destination_id = action.get("destination_id")
        return deliverable(
            self.catalog.get_destination(org_id, destination_id) if destination_id else None
        )

    def post_attempt(
        self,
        target: SignalTarget,
        action: dict[str, Any],
        destination: dict[str, Any],
        action_input: Any,
    ) -> Outcome:
        """The signed POST of one attempt whose lease the caller holds, and how the destination
        answered; the caller records the answer (``delivery_record``). The queued delivery and
        an Express execution's attempt step (engine/action_steps.py) both deliver through it."""
        org_id, run_id, ref, index = target.org_id, target.run_id, target.node_ref, target.index
        record_id = action_record_id(run_id, ref, index)
        data = {
            "record": record_id,
            "action": action["name"],
            "version": action["version"],
            "input": action_input,
            "attempt": target.attempt,
            "run": run_id,
            "node": ref,
            **({} if index is None else {"index": index}),
            "signal_url": self._signal_url(destination, target),
        }
        body = dumps({"type": "action.attempt", "timestamp": iso(now()), "data": data})
        return self._post(org_id, destination, record_id, body, sla_seconds(destination))

    def _answer_since(
        self, org_id: str, run_id: str, ref: str, attempt: int, index: int | None
    ) -> str | None:
        """The claim was refused: the answer recorded meanwhile (a holder that has finished),
        or None while another holder's lease stands."""
        tried = self._attempt(org_id, run_id, ref, attempt, index)
        answered = tried.delivery if tried is not None else None
        return str(answered["kind"]) if answered else None

    def _attempt(self, org_id: str, run_id: str, ref: str, attempt: int, index: int | None):
        """The attempt's record, on the node or (``index``) on the for_each item."""
        record = (
            self.store.runs.get_node(org_id, run_id, ref)
            if index is None
            else self.store.nodes.get_item(org_id, run_id, ref, index)
        )
        return record.attempt_record(attempt)

    def _resolve(self, org_id: str, run_id: str, ref: str) -> dict[str, Any]:
        """What an attempt prepared before attempts pinned their action (one in flight across
        an upgrade) delivers: its definition as it resolves now."""
        run = self.store.runs.get_run(org_id, run_id)
        definition = resolve_action(
            self.definitions, org_id, self._spec(org_id, run, ref).action or ""
        )
        link = next((d for d in definition.destinations if d.is_default), None)
        return {
            "name": definition.name,
            "version": definition.version,
            "destination_id": link.destination_id if link else None,
        }

    def _post(
        self, org_id: str, destination: dict[str, Any], message_id: str, body: str, timeout: float
    ) -> Outcome:
        try:
            target = check_url(destination["url"], self.allow_loopback)
            credential = self._credential_headers(destination)
        except DestinationRefused as exc:
            metrics.count(metrics.Metric.WEBHOOK_DELIVERIES, org_id, StatusClass="refused")
            return _refused(str(exc))
        headers = {
            **destination.get("headers", {}),
            "content-type": "application/json",
            "user-agent": "Stepwise-Webhooks/1",
            **signature_headers(message_id, now(), body, self.catalog.signing_secrets(destination)),
            **credential,
        }
        parts = urlsplit(target.url)
        default_port = 443 if target.scheme == "https" else 80
        headers["host"] = (
            target.host if target.port == default_port else f"{target.host}:{target.port}"
        )
        pool = _pool(target, timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        started = time.perf_counter()
        try:
            response = pool.urlopen(
                "POST",
                path,
                body=body.encode(),
                headers=headers,
                redirect=False,
                preload_content=False,
            )
            content = response.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
            response.release_conn()
            pool.close()
        except urllib3.exceptions.TimeoutError:
            _count_delivery(org_id, "timeout", started)
            return Outcome(
                Signal.FAILURE,
                error_type="Timeout",
                message="no answer within the SLA",
                retryable=True,
            )
        except urllib3.exceptions.HTTPError as exc:
            _count_delivery(org_id, "network", started)
            return Outcome(
                Signal.FAILURE, error_type="ConnectionError", message=str(exc), retryable=True
            )
        _count_delivery(org_id, status_class(response.status), started)
        if len(content) > MAX_RESPONSE_BYTES:
            return Outcome(
                Signal.FAILURE,
                error_type="ResponseTooLarge",
                message=f"the answer exceeded {MAX_RESPONSE_BYTES} bytes",
            )
        signaling = destination.get("signaling", {})
        default = Signal(signaling["default"]) if signaling.get("enabled") else None
        return read_response(response.status, dict(response.headers), content, default)

    def _signal_url(self, destination: dict[str, Any], target: SignalTarget) -> str | None:
        """Where the destination calls back; only destinations with signaling get one."""
        if not destination.get("signaling", {}).get("enabled"):
            return None
        return f"{self.public_api_url}/v1/signals/{self.signal_tokens().issue(target)}"

    def _credential_headers(self, destination: dict[str, Any]) -> dict[str, str]:
        credential_id = destination.get("credential_id")
        if not credential_id:
            return {}
        item = self.catalog.get_credential(destination["org_id"], credential_id)
        if "deleted_at" in item:
            # Read from the table on every delivery: a deletion stops its use at once, whatever
            # the dispatcher still holds of the value.
            raise DestinationRefused(f"credential {credential_id} was deleted")
        value = self.catalog.vault.read(item["secret_arn"])
        if any(_NOT_HEADER_TEXT.search(str(v)) for v in value.values()):
            # Stored before credentials were checked for them: refuse, and never echo the value.
            raise DestinationRefused(
                f"credential {credential_id} holds control characters or text beyond Latin-1 and"
                " cannot be sent in a header; replace it"
            )
        if item["type"] == "bearer":
            return {"authorization": f"Bearer {value['token']}"}
        if item["type"] == "basic":
            return urllib3.make_headers(basic_auth=f"{value['username']}:{value['password']}")
        return {value["header_name"]: value["header_value"]}

    def _record(
        self,
        org_id: str,
        run_id: str,
        ref: str,
        attempt: int,
        outcome: Outcome,
        index: int | None = None,
    ) -> str:
        self.store.attempts.record_delivery(
            org_id, run_id, ref, attempt, delivery_record(outcome), outcome.result, index=index
        )
        logger.info(
            "delivery recorded",
            extra={
                "attempt": attempt,
                "index": index,
                "outcome": outcome.kind.value,
                "error_type": outcome.error_type,
            },
        )
        return str(outcome.kind.value)

    def _spec(self, org_id: str, run: RunRecord, ref: str) -> NodeSpec:
        workflow = self.store.workflows.get_workflow(org_id, run.workflow_id, run.workflow_version)
        return next(node for node in workflow.nodes if node.ref == ref)


def sla_seconds(destination: dict[str, Any]) -> float:
    """How long the destination has to answer a POST."""
    return int(destination["response_time_sla_ms"]) / 1000


def deliverable(destination: dict[str, Any] | None) -> dict[str, Any] | None:
    """The destination item, if an attempt may deliver to it (it exists and is not deleted)."""
    if destination is None or "deleted_at" in destination:
        return None
    return destination


def lease_until(destination: dict[str, Any]) -> str:
    """Until when a delivery's lease holds: the destination's SLA and a margin from now."""
    return iso(now() + timedelta(seconds=sla_seconds(destination) + CLAIM_MARGIN_SECONDS))


def delivery_record(outcome: Outcome) -> dict[str, Any]:
    """What an attempt keeps of the destination's answer (``attempts.N.delivery``)."""
    delivery = {
        "kind": outcome.kind.value,
        "error_type": outcome.error_type,
        "message": outcome.message,
        "retryable": outcome.retryable,
        "retry_after": outcome.retry_after,
        "answered_at": iso(now()),
    }
    return {k: v for k, v in delivery.items() if v is not None}


def _pool(target: Destination, timeout: float) -> urllib3.HTTPConnectionPool:
    """A connection to the address the SSRF guard checked, not to a second DNS answer
    (rebinding); TLS still verifies the destination's own host name."""
    pool_kwargs: dict[str, Any] = {
        "host": target.addresses[0],
        "port": target.port,
        "retries": False,
        "timeout": urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
    }
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            **pool_kwargs, server_hostname=target.host, assert_hostname=target.host
        )
    return urllib3.HTTPConnectionPool(**pool_kwargs)


def status_class(status: int) -> str:
    """2xx, 3xx, 4xx or 5xx; anything else a destination sends counts as a network failure."""
    return f"{status // 100}xx" if 200 <= status <= 599 else "network"


def _count_delivery(org_id: str, status_class: str, started: float) -> None:
    """One POST made: its status class, and how long the destination took to answer."""
    elapsed_ms = (time.perf_counter() - started) * 1000
    metrics.count(metrics.Metric.WEBHOOK_DELIVERIES, org_id, StatusClass=status_class)
    metrics.measure(metrics.Metric.WEBHOOK_LATENCY, round(elapsed_ms, 1), org_id)


def _refused(message: str) -> Outcome:
    return Outcome(Signal.FAILURE, error_type="DestinationRefused", message=message)


DESTINATION_DELETED = _refused("the destination was deleted")


def parse_message(body: str) -> dict[str, Any]:
    return json.loads(body)
