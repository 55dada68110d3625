"""Stepwise's HTTP API over urllib: JSON in and out, 429s waited out, errors as exceptions.
The API key goes in one header and nowhere else: never in a message, a URL or a log line."""

import email.utils
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from stepwise_cli import __version__
from stepwise_cli.config import Settings

Query = Sequence[tuple[str, Any]]
MAX_RETRY_AFTER = 60.0  # seconds: a longer Retry-After is shown, not slept through
RATE_LIMIT_RETRIES = 5
TRANSIENT = frozenset({502, 503, 504})  # a GET answered so is sent again, after these waits
TRANSIENT_BACKOFF = (0.5, 1.0, 2.0)


@dataclass
class ApiError(Exception):
    """The API answered with an error status."""

    status: int
    body: Any  # the parsed JSON body, or its text
    method: str
    path: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}: {self.status}"


class Unreachable(Exception):
    """No answer from the API: a refused connection, a DNS failure, a timeout."""


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Client:
    def __init__(
        self,
        settings: Settings,
        err: TextIO,
        verbose: bool = False,
        timeout: float = 30.0,
        sleep: Callable[[float], None] | None = None,
    ):
        self.settings = settings
        self.err = err
        self.verbose = verbose  # one line per request and answer (never a header) on err
        self.timeout = timeout
        self.sleep = sleep or time.sleep
        self.reached = False  # the API has answered once: a later silence may be a blip

    def org_path(self, path: str) -> str:
        return f"/v1/orgs/{urllib.parse.quote(self.settings.org, safe='')}{path}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Query = (),
        headers: dict[str, str] | None = None,
    ) -> Any:
        """The answer's JSON (None for an empty body) for an org path such as ``/runs``."""
        full = self.org_path(path)
        url = self.settings.url + full
        params = [(k, v) for k, v in query if v is not None]
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        data = None if body is None else json.dumps(body).encode()
        transient = limited = 0
        while True:
            try:
                answer = self._send(method, url, data, headers or {})
                self.reached = True
                return answer
            except Unreachable:
                # A read is safe to send again, once the API has answered this process: a long
                # --wait outlives a blip, and a wrong URL still fails at once.
                if method != "GET" or not self.reached or transient == len(TRANSIENT_BACKOFF):
                    raise
                self._note(f"no answer: trying again in {TRANSIENT_BACKOFF[transient]:g}s")
                self.sleep(TRANSIENT_BACKOFF[transient])
                transient += 1
            except ApiError as exc:
                self.reached = True
                exc.path = full
                if (
                    exc.status in TRANSIENT
                    and method == "GET"
                    and transient < len(TRANSIENT_BACKOFF)
                ):
                    self._note(f"{exc.status}: trying again in {TRANSIENT_BACKOFF[transient]:g}s")
                    self.sleep(TRANSIENT_BACKOFF[transient])
                    transient += 1
                    continue
                wait = exc.retry_after
                if exc.status != 429 or wait is None or wait > MAX_RETRY_AFTER:
                    raise
                if limited == RATE_LIMIT_RETRIES:
                    raise
                self._note(f"rate limited (429): retrying in {wait:g}s as Retry-After asks")
                self.sleep(wait)
                limited += 1

    def _send(self, method: str, url: str, data: bytes | None, extra: dict[str, str]) -> Any:
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http(s) only: checked in main)
        request.add_header("Authorization", f"Bearer {self.settings.api_key}")
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", f"stepwise-cli/{__version__}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in extra.items():
            request.add_header(name, value)
        started = time.monotonic()
        if self.verbose:
            self._note(f"> {method} {url}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                raw = answer.read()
                status = answer.status
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            self._answered(exc.code, started)
            raise ApiError(
                exc.code,
                _parse(raw),
                method,
                url,
                retry_after_seconds(exc.headers.get("Retry-After")),
            ) from None
        except urllib.error.URLError as exc:
            raise Unreachable(f"cannot reach {self.settings.url}: {exc.reason}") from None
        except TimeoutError:
            raise Unreachable(
                f"no answer from {self.settings.url} within {self.timeout:g}s"
            ) from None
        except (ConnectionError, OSError) as exc:
            raise Unreachable(f"cannot reach {self.settings.url}: {exc}") from None
        self._answered(status, started)
        return _parse(raw)

    def _answered(self, status: int, started: float) -> None:
        if self.verbose:
            self._note(f"< {status} in {(time.monotonic() - started) * 1000:.0f} ms")

    def _note(self, line: str) -> None:
        print(line, file=self.err, flush=True)

    def pages(
        self, path: str, query: Query = (), limit: int | None = None, page_max: int = 100
    ) -> Iterator[Any]:
        """Every item of a cursor-paged list, following ``next_page``, at most ``limit``."""
        cursor = None
        count = 0
        while True:
            size = page_max if limit is None else max(1, min(page_max, limit - count))
            page = self.call("GET", path, query=[*query, ("limit", size), ("cursor", cursor)])
            for item in page["data"]:
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
            cursor = page.get("next_page")
            if not cursor:
                return


def segment(value: str) -> str:
    """An id as one path segment: a ``/`` or ``?`` in it cannot reach another route."""
    return urllib.parse.quote(value, safe="")


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text
