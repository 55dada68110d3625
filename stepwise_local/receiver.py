"""A real webhook receiver on 127.0.0.1: scripted answers, signature checks, callbacks.

It plays a destination for the demo and the tests: each path answers from its script (status,
body, headers, delay), verifies Standard Webhooks signatures with the reference library when
given the destination's secret (a bad one is answered 401), and can call the attempt's
``signal_url`` back afterwards (ack now, result later).
"""

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Callback:
    """A signal sent to the attempt's signal_url ``after`` seconds past the answer."""

    body: dict[str, Any]
    after: float = 0.2


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    callbacks: tuple[Callback, ...] = ()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    verified: bool | None = None  # None: no secret was given for the path

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class CallbackResult:
    path: str
    signal: str
    status: int
    body: Any


class Receiver:
    def __init__(self):
        self.script: dict[str, deque[Answer]] = defaultdict(deque)
        self.secrets: dict[str, str] = {}
        self.received: list[Received] = []
        self.callbacks: list[CallbackResult] = []
        self.responders: dict[str, Callable[[Received], Answer]] = {}
        # Deliveries a path has not finished with: from the POST until its answer is sent, or
        # until its last callback is, and the most there ever were at once.
        self.open: Counter[str] = Counter()
        self.most_open: Counter[str] = Counter()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Received(
                    self.path, headers, body, receiver._verify(self.path, body, headers)
                )
                receiver.received.append(request)
                if request.verified is False:
                    self._send(401, {"error": "bad signature"}, {})
                    return
                receiver._opened(self.path)
                answer = receiver._next_answer(self.path, request)
                if answer.delay:
                    time.sleep(answer.delay)
                if not answer.callbacks:
                    receiver._closed(self.path)
                self._send(answer.status, answer.body, answer.headers)
                if answer.callbacks:
                    threading.Thread(
                        target=receiver._call_back,
                        args=(self.path, request, answer.callbacks),
                        daemon=True,
                    ).start()

            def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, *answers: Answer) -> str:
        """Scripts a path's answers (the last one repeats); its full URL."""
        self.script[path].extend(answers)
        return f"{self.url}{path}"

    def rescript(self, path: str, *answers: Answer) -> str:
        """Scripts a path's answers afresh, dropping what was left of its script; its URL."""
        self.script[path].clear()
        return self.answer(path, *answers)

    def respond(self, path: str, responder: Callable[[Received], Answer]) -> str:
        """Answers every request at ``path`` with ``responder(request)``; its full URL."""
        self.responders[path] = responder
        return f"{self.url}{path}"

    def _next_answer(self, path: str, request: Received) -> Answer:
        responder = self.responders.get(path)
        if responder is not None:
            return responder(request)
        queue = self.script[path]
        return queue.popleft() if len(queue) > 1 else (queue[0] if queue else Answer())

    def _opened(self, path: str) -> None:
        with self._lock:
            self.open[path] += 1
            self.most_open[path] = max(self.most_open[path], self.open[path])

    def _closed(self, path: str) -> None:
        with self._lock:
            self.open[path] -= 1

    def verify(self, path: str, signing_secret: str) -> None:
        """Checks every request at ``path`` against the destination's ``whsec_`` secret."""
        self.secrets[path] = signing_secret

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def _verify(self, path: str, body: str, headers: dict[str, str]) -> bool | None:
        secret = self.secrets.get(path)
        if secret is None:
            return None
        try:
            Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            return False
        return True

    def _call_back(self, path: str, request: Received, callbacks: tuple[Callback, ...]) -> None:
        url = request.payload["data"]["signal_url"]
        for number, callback in enumerate(callbacks, 1):
            time.sleep(callback.after)
            if number == len(callbacks):
                # Closed before the last signal goes: it may resume the run at once.
                self._closed(path)
            status, body = post_json(url, callback.body)
            self.callbacks.append(CallbackResult(path, callback.body["signal"], status, body))

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def post_json(url: str, body: Any) -> tuple[int, Any]:
    """POSTs JSON; the status and the parsed answer (error statuses included)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP URL: {url!r}")
    request = urllib.request.Request(  # noqa: S310 the scheme is checked above
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (checked)
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
