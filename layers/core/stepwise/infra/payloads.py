"""User payloads (inputs, outputs) kept as exact JSON: inline in the item, or in S3 when large.

JSON text keeps floats, big integers and nulls exactly as the caller sent them, and its size is
known before the write, so no payload can break the 400 KB item limit.
"""

import json
from typing import Any

from stepwise.infra import aws

INLINE_LIMIT_BYTES = 64 * 1024


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class PayloadStore:
    def __init__(self, bucket: str, inline_limit: int = INLINE_LIMIT_BYTES):
        self.bucket = bucket
        self.inline_limit = inline_limit

    def attributes(self, name: str, value: Any, s3_key: str) -> dict[str, str]:
        """The item attributes that hold ``value``: ``{name: json}`` or ``{name_s3: key}``."""
        text = dumps(value)
        if len(text.encode()) <= self.inline_limit:
            return {name: text}
        aws.client("s3").put_object(
            Bucket=self.bucket, Key=s3_key, Body=text.encode(), ContentType="application/json"
        )
        return {f"{name}_s3": s3_key}

    def load(self, item: dict[str, Any], name: str) -> Any:
        if name in item:
            return json.loads(item[name])
        key = item.get(f"{name}_s3")
        if key is None:
            return None
        body = aws.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return json.loads(body)
