"""API keys: generated once, shown once, stored only as a hash, each scoped to one org."""

import hashlib
import secrets

KEY_PREFIX = "swk_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # Keys are 256-bit random strings, so a fast unsalted hash is enough to make a leaked table
    # useless for authentication (there is nothing to brute-force).
    return hashlib.sha256(key.encode()).hexdigest()


def key_from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``x-api-key``."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    if x_api_key and x_api_key.strip():
        return x_api_key.strip()
    return None
