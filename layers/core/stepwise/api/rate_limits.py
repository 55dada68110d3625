"""Per-org API rate limit: each org's keys may make ``ORG_RATE_LIMIT`` requests a second.

API Gateway's HTTP APIs throttle per stage and per route, never per client (usage plans and API
keys are REST APIs' only), so a busy org would take the whole route's share from the others. The
API counts each org's requests itself: one conditional UpdateItem per request on an item per
org per second (``access/rate_limit_store.py``); the request that does not fit is answered 429
with ``Retry-After``, before any route runs.

Counted: requests under ``/v1/orgs/`` that carry a key the table knows, against the key's org
(not the org in the path: a key of another org, or none, must not spend an org's budget).
Not counted: signal callbacks (``/v1/signals/``: the token authorises them, and the template
throttles their route apart), ``/healthz``, and requests with no key, an unknown one or a
revoked one (API Gateway's route throttle bounds those, and they get 401 at once).
"""

import os
import time
from collections import OrderedDict
from threading import Lock

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from stepwise import components
from stepwise.access.auth import hash_api_key, key_from_headers
from stepwise.access.rate_limit_store import RateWindows
from stepwise.api.errors import error_body
from stepwise.core import settings
from stepwise.core.observability import logger

LIMIT_ENV = "ORG_RATE_LIMIT"  # requests per second per org; 0 turns the limit off
PARAMETER = "OrgRateLimit"  # the template parameter that sets it, named in every 429
COUNTED_PREFIX = "/v1/orgs/"
_KNOWN_KEYS = 1024  # key hash -> org: a key's org never changes, so a warm function keeps it
KEY_ORG_SECONDS = 60  # how long a warm function trusts that a key it saw is not revoked


def limit() -> int:
    return int(os.environ.get(LIMIT_ENV) or 0)


class _KeyOrgs:
    """The org of each live key seen lately, so a warm request costs no read.

    A revoked key is not counted (its requests get 401 anyway): otherwise whoever still holds
    one, a leaked key or a former employee's, could spend its org's whole budget and starve the
    org's live keys. An entry is trusted for ``KEY_ORG_SECONDS`` only, so a key revoked while a
    function holds it stops counting within that time."""

    def __init__(self, size: int):
        self._size = size
        self._orgs: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = Lock()

    def org_of(self, key: str) -> str | None:
        digest = hash_api_key(key)
        now = time.monotonic()
        with self._lock:
            cached = self._orgs.get(digest)
            if cached is not None and now - cached[1] < KEY_ORG_SECONDS:
                self._orgs.move_to_end(digest)
                return cached[0]
        item = components.api_keys().find(key)
        with self._lock:
            if item is None or "revoked_at" in item:
                self._orgs.pop(digest, None)
                return None
            self._orgs[digest] = (item["org_id"], now)
            self._orgs.move_to_end(digest)
            while len(self._orgs) > self._size:
                self._orgs.popitem(last=False)
        return item["org_id"]

    def clear(self) -> None:
        with self._lock:
            self._orgs.clear()


_key_orgs = _KeyOrgs(_KNOWN_KEYS)


def clear() -> None:
    """Forget the keys' orgs (tests and the local stack start fresh backends)."""
    _key_orgs.clear()


def over_limit(org_id: str, per_second: int, now: float | None = None) -> int | None:
    """None if the org's request fits in this second, else the seconds to wait (at least 1)."""
    second = int(time.time() if now is None else now)
    windows = RateWindows(settings.core_settings().table_name)
    return None if windows.take(org_id, second, per_second) else 1


def _org_of_request(scope: Scope) -> str | None:
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    key = key_from_headers(headers.get("authorization"), headers.get("x-api-key"))
    return None if key is None else _key_orgs.org_of(key)


def _check(scope: Scope, per_second: int) -> tuple[str, int] | None:
    """(org, seconds to wait) when the request is over its org's limit; None to serve it.
    Fails open: a limiter that cannot count must not take the API down with it."""
    try:
        org_id = _org_of_request(scope)
        if org_id is None:
            return None
        wait = over_limit(org_id, per_second)
    except Exception:  # noqa: BLE001 (fail open, said in the log)
        logger.warning("rate limit not applied: counting failed", exc_info=True)
        return None
    return None if wait is None else (org_id, wait)


class OrgRateLimit:
    """ASGI middleware: answers 429 for a request over its org's per-second limit."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        per_second = limit()
        if (
            scope["type"] != "http"
            or per_second <= 0
            or not scope["path"].startswith(COUNTED_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        over = await run_in_threadpool(_check, scope, per_second)
        if over is None:
            await self.app(scope, receive, send)
            return
        org_id, wait = over
        message = (
            f"org {org_id!r} is over its API rate limit of {per_second} requests per second "
            f"({PARAMETER}); retry after {wait} s"
        )
        answer = JSONResponse(
            error_body("rate_limited", message),
            status_code=429,
            headers={"Retry-After": str(wait), "RateLimit-Limit": str(per_second)},
        )
        await answer(scope, receive, send)
