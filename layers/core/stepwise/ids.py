"""Identifiers: prefixed, lowercase, time-ordered, and Step Functions execution names."""

import hashlib
import re

from ulid import ULID

ID_PATTERN = re.compile(r"^[a-z0-9_.-]+$")
_MAX_EXECUTION_NAME = 80


def new_id(prefix: str) -> str:
    """A new id such as ``run_01jf3v...``: sortable by creation time, safe in URLs and keys."""
    return f"{prefix}_{str(ULID()).lower()}"


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
