"""Identifiers: prefixed, lowercase, time-ordered, and Step Functions execution names."""

import hashlib
import re
from datetime import datetime

from ulid import ULID

ID_PATTERN = re.compile(r"^[a-z0-9_.-]+$")
_MAX_EXECUTION_NAME = 80


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


def execution_name(*parts: str) -> str:
    """A deterministic execution name for the given parts, at most 80 characters.

    Deterministic names make a repeated StartExecution harmless: Step Functions answers with the
    running execution, or ExecutionAlreadyExists once it has closed.
    """
    name = ".".join(parts)
    if len(name) <= _MAX_EXECUTION_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name[: _MAX_EXECUTION_NAME - len(digest) - 1]}~{digest}"
