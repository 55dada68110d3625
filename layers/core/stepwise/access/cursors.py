"""Opaque, tamper-evident pagination cursors: base64url(JSON) plus an HMAC over it and its scope."""

import base64
import hashlib
import hmac
import json
from typing import Any

from stepwise.core.errors import InvalidCursor

_MAC_BYTES = 16


class CursorCodec:
    def __init__(self, secret: bytes):
        self._secret = secret

    def encode(self, scope: str, position: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode())
        body_text = body.decode().rstrip("=")
        return f"{body_text}.{self._mac(scope, body_text)}"

    def decode(self, scope: str, cursor: str) -> dict[str, Any]:
        """The position in ``cursor``; InvalidCursor if it was altered or is for another list."""
        body_text, _, mac = cursor.partition(".")
        expected = self._mac(scope, body_text).encode()
        # bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, a 500)
        if not body_text or not hmac.compare_digest(mac.encode(), expected):
            raise InvalidCursor("the cursor is not valid for this list")
        try:
            padded = body_text + "=" * (-len(body_text) % 4)
            position = json.loads(base64.urlsafe_b64decode(padded))
        except ValueError:
            raise InvalidCursor("the cursor is not valid for this list") from None
        if not isinstance(position, dict):
            raise InvalidCursor("the cursor is not valid for this list")
        return position

    def _mac(self, scope: str, body_text: str) -> str:
        digest = hmac.new(self._secret, f"{scope}\n{body_text}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).decode().rstrip("=")
