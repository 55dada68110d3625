"""RunQueue's messages: what starts, times out and finishes a run (the engine consumes them).

A run has no execution of its own: ``start`` runs its first step (the roots), ``deadline``
comes back when its ``timeout`` is due, ``finalize`` finishes it where the step that settled it
could not (a cancel from the API), ``callback_timeout`` times out an acknowledged attempt that
awaits its callback with no execution. Every message names the run's generation (0, then one more
per redrive): a message of an earlier generation is dropped. Delivery is at least once, so every
kind is idempotent."""

from typing import Any

from stepwise.infra import queues

# SQS delays a message by at most 15 minutes (SendMessage DelaySeconds: 0 to 900); a deadline
# further away is queued again on receipt for what is left.
MAX_DELAY_SECONDS = 900
CALLBACK_TIMEOUT = "callback_timeout"  # an awaiting attempt's timer (queue_callback_timeout)


class StartRefused(Exception):
    """SQS would not take the run's start; the message is its answer's."""


def start_run(queue_url: str, org_id: str, run_id: str, generation: int = 0) -> None:
    """Queues the run's start (a repeat is harmless: the start step is idempotent)."""
    queues.send_later(queue_url, _message("start", org_id, run_id, generation))


def start_run_or_refuse(queue_url: str, org_id: str, run_id: str, generation: int = 0) -> None:
    """``start_run``, with SQS's refusal raised as StartRefused."""
    try:
        start_run(queue_url, org_id, run_id, generation)
    except queues.SendFailed as exc:
        raise StartRefused(str(exc)) from exc


def queue_finalize(queue_url: str, org_id: str, run_id: str, generation: int = 0) -> None:
    """Asks the engine to finish a run that has been asked to settle (cancel, a released node)."""
    queues.send_later(queue_url, _message("finalize", org_id, run_id, generation))


def queue_deadline(
    queue_url: str, org_id: str, run_id: str, generation: int, due_at: str, seconds_left: float
) -> None:
    """The run's timeout, delivered when due or after SQS's longest delay, whichever is first."""
    delay = max(0, min(MAX_DELAY_SECONDS, int(seconds_left + 0.999)))
    message = {**_message("deadline", org_id, run_id, generation), "due_at": due_at}
    queues.send_later(queue_url, message, delay)


def queue_callback_timeout(
    queue_url: str,
    org_id: str,
    run_id: str,
    generation: int,
    ref: str,
    attempt: int,
    seconds_left: float,
) -> None:
    """The timeout of an acknowledged attempt that awaits its callback with no execution
    (engine/callbacks.py): delivered when due or after SQS's longest delay, whichever is first.
    The attempt's recorded ``timeout_at`` (which heartbeats move) decides on receipt, so the
    message carries no due time of its own."""
    delay = max(0, min(MAX_DELAY_SECONDS, int(seconds_left + 0.999)))
    message = {**_message(CALLBACK_TIMEOUT, org_id, run_id, generation), "node_ref": ref}
    queues.send_later(queue_url, {**message, "attempt": attempt}, delay)


def _message(kind: str, org_id: str, run_id: str, generation: int) -> dict[str, Any]:
    return {"kind": kind, "org_id": org_id, "run_id": run_id, "generation": generation}
