"""Exit codes, and what the CLI says when the API refuses a request or cannot be reached."""

from enum import IntEnum
from typing import Any

from stepwise_cli.client import ApiError


class Exit(IntEnum):
    OK = 0
    RUN_FAILED = 1  # --wait: the run failed, timed out or was cancelled
    USAGE = 2  # argparse's code: bad arguments, a missing setting, an unreadable file
    API_ERROR = 3  # the API answered with an error (4xx, 5xx)
    UNREACHABLE = 4  # no answer: connection refused, DNS, timeout
    INTERRUPTED = 130  # Ctrl-C (the run, if any, goes on)


def describe(error: ApiError, base_url: str) -> list[str]:
    """Lines that say what the API refused and why, from its error body."""
    body = error.body
    where = f"{error.method} {error.path}"
    if error.status == 404 and body == {"detail": "Not Found"}:
        # FastAPI's answer for a route it does not have, not the API's own not_found.
        return [f"error: the API at {base_url} has no route {where} (404): it may predate it"]
    lines = [f"error: {where} answered {error.status}{_title(error.status)}"]
    details = body.get("detail") if isinstance(body, dict) else None
    if isinstance(details, list):
        for item in details:
            lines.append(f"  {_loc(item)}: {item.get('msg', item)}")
    elif isinstance(details, str):
        lines.append(f"  {details}")
    for item in (body.get("errors") or []) if isinstance(body, dict) else []:
        code = item.get("code")
        lines.append(f"  {code}: {item.get('message')}" if code else f"  {item.get('message')}")
    if isinstance(body, str) and body.strip():
        lines.append(f"  {body.strip()[:500]}")
    if error.status == 401:
        lines.append("  the API key was not accepted: check STEPWISE_API_KEY or the profile")
    if error.status == 404:
        lines.append("  (another org's resources, and runs a limited key may not see, are 404 too)")
    if error.status == 429 and error.retry_after is not None:
        lines.append(f"  retry after {error.retry_after:g}s")
    return lines


def _loc(item: dict[str, Any]) -> str:
    loc = item.get("loc") or []
    return ".".join(str(part) for part in loc) or "request"


def _title(status: int) -> str:
    return {
        400: " (bad request)",
        401: " (unauthorised)",
        403: " (forbidden)",
        404: " (not found)",
        409: " (conflict)",
        413: " (too large)",
        422: " (invalid request)",
        429: " (too many requests)",
    }.get(status, " (server error)" if status >= 500 else "")
