"""Identifiers: prefixed, lowercase, time-ordered, and Step Functions execution names."""

import hashlib
import json
import re
from datetime import datetime

from ulid import ULID

ID_PATTERN = re.compile(r"^[a-z0-9_.-]+$")
_MAX_EXECUTION_NAME = 80
_EXECUTION_NAME_HASH = 20
# StartExecution's limits, narrowed to what CloudWatch logging of executions accepts.
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_NOT_IN_EXECUTION_NAME = re.compile(r"[^A-Za-z0-9_-]")


def new_id(prefix: str) -> str:
    """A new id such as ``run_01jf3v...``: sortable by creation time, safe in URLs and keys."""
    return f"{prefix}_{str(ULID()).lower()}"


def event_id(org_id: str, run_id: str, ref: str, finished_at: str) -> str:
    """A node's event (``evt_...``): a ULID of the node's finish time whose random part comes
    from the run and node, so it sorts by time and a replay finds the same id."""
    millis = int(datetime.fromisoformat(finished_at).timestamp() * 1000)
    seed = hashlib.sha256(f"{org_id}/{run_id}/{ref}".encode()).digest()[:10]
    return f"evt_{str(ULID.from_bytes(millis.to_bytes(6, 'big') + seed)).lower()}"


def child_run_id(parent_run_id: str, ref: str, attempt: int) -> str:
    """The child run of a workflow node's attempt: deterministic, so a replay finds it."""
    return f"{parent_run_id}.{ref}.{attempt}"


_BATCH_RUN = re.compile(r"^run_([0-9a-z]{26})\.(\d{4})$")
BATCH_ID_PATTERN = r"^bat_[0-9a-z]{26}$"
BATCH_RUN_ID_LENGTH = len("run_") + 26 + len(".0000")


def batch_run_id(batch_id: str, index: int) -> str:
    """The run of a batch's input ``index``: ``run_<the batch's ULID>.<index:04d>``.

    Deterministic, so a redelivered chunk finds the run it started; and ``run_`` with the batch's
    ULID sorts the batch's runs at the batch's time among all runs (and as one key range)."""
    return f"{batch_runs_prefix(batch_id)}{index:04d}"


def batch_runs_prefix(batch_id: str) -> str:
    """What every run id of the batch starts with (child runs of those runs too)."""
    return f"run_{batch_id.removeprefix('bat_')}."


def batch_of(run_id: str) -> str | None:
    """The batch a run was started for, from its id; None for any other run."""
    found = _BATCH_RUN.match(run_id)
    return f"bat_{found.group(1)}" if found else None


def execution_name(*parts: str) -> str:
    """A deterministic Step Functions execution name for the given parts (``EXECUTION_NAME``).

    Deterministic names make a repeated StartExecution harmless: Step Functions answers with the
    running execution, or ExecutionAlreadyExists once it has closed. StartExecution takes at most
    80 characters, and CloudWatch logging of executions only ``A-Z a-z 0-9 - _``: ids with ``.``
    (batch and child runs), node names and long ones become a readable prefix and a hash of the
    whole identity, so two different identities never share a name.
    """
    joined = ".".join(parts)
    if EXECUTION_NAME.match(joined):
        return joined
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:_EXECUTION_NAME_HASH]
    readable = _NOT_IN_EXECUTION_NAME.sub("-", joined)
    return f"{readable[: _MAX_EXECUTION_NAME - _EXECUTION_NAME_HASH - 1]}-{digest}"
