"""Standard Webhooks signatures (https://www.standardwebhooks.com), through the reference library.

During a secret rotation both secrets sign, so a receiver that knows either one verifies.
"""

import base64
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def new_signing_secret() -> str:
    """A fresh ``whsec_`` secret: 32 random bytes, base64, as Standard Webhooks expects."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_headers(
    message_id: str, timestamp: datetime, body: str, signing_secrets: list[str]
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (one v1 per secret)."""
    if not signing_secrets:
        raise ValueError("at least one signing secret is needed")
    signatures = [Webhook(s).sign(message_id, timestamp, body) for s in signing_secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
