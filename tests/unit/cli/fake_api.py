"""A scripted HTTP server on 127.0.0.1 standing in for the API: it answers each request with
the next answer queued for its method and path, and records every request it received."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeApi:
    def __init__(self):
        self.answers: dict[tuple[str, str], list[tuple[int, dict[str, str], Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": path,
                        "query": query,
                        "headers": dict(self.headers),
                        "body": json.loads(raw) if raw else None,
                    }
                )
                queued = fake.answers.get((self.command, path)) or [
                    (404, {}, {"detail": "Not Found"})
                ]
                status, headers, body = queued.pop(0) if len(queued) > 1 else queued[0]
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def answer(self, method: str, path: str, status: int, body: Any, **headers: str) -> None:
        self.answers.setdefault((method, f"/v1/orgs/acme{path}"), []).append(
            (status, headers, body)
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
