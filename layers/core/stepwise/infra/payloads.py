"""User payloads (inputs, outputs) kept as exact JSON: inline in the item, or in S3 when large.

JSON text keeps floats, big integers and nulls exactly as the caller sent them, and its size is
known before the write, so no payload can break the 400 KB item limit.
"""

import json
from dataclasses import dataclass
from typing import Any

from stepwise.infra import aws

INLINE_LIMIT_BYTES = 64 * 1024


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class PayloadWrite:
    """Where a payload goes in its item: ``name`` (inline JSON) or ``name_s3`` (an S3 key).

    The two never stand side by side: a write that sets one removes the other, so a value that
    grows past the inline limit (or shrinks under it) on a later write is never shadowed by an
    older one (``PayloadStore.load`` reads the inline attribute first)."""

    name: str
    attribute: str
    value: str

    @property
    def attributes(self) -> dict[str, str]:
        """For a new item's Put: the one attribute that holds the payload."""
        return {self.attribute: self.value}

    @property
    def other(self) -> str:
        return f"{self.name}_s3" if self.attribute == self.name else self.name

    def update(self, names: dict[str, str], values: dict[str, Any], path: str = "") -> str:
        """For an UpdateExpression: adds its placeholders to ``names`` and ``values`` and returns
        the SET clause part; the path to REMOVE is ``removal(path)``."""
        names[f"#{self.attribute}"] = self.attribute
        values[f":{self.attribute}"] = self.value
        return f"{path}#{self.attribute} = :{self.attribute}"

    def removal(self, names: dict[str, str], path: str = "") -> str:
        names[f"#{self.other}"] = self.other
        return f"{path}#{self.other}"


class PayloadStore:
    def __init__(self, bucket: str, inline_limit: int = INLINE_LIMIT_BYTES):
        self.bucket = bucket
        self.inline_limit = inline_limit

    def write(self, name: str, value: Any, s3_key: str) -> PayloadWrite:
        """Keeps ``value`` inline when it fits, else puts it in S3 first; where it went."""
        text = dumps(value)
        if len(text.encode()) <= self.inline_limit:
            return PayloadWrite(name, name, text)
        aws.client("s3").put_object(
            Bucket=self.bucket, Key=s3_key, Body=text.encode(), ContentType="application/json"
        )
        return PayloadWrite(name, f"{name}_s3", s3_key)

    def attributes(self, name: str, value: Any, s3_key: str) -> dict[str, str]:
        """A new item's attributes that hold ``value``: ``{name: json}`` or ``{name_s3: key}``."""
        return self.write(name, value, s3_key).attributes

    def load(self, item: dict[str, Any], name: str) -> Any:
        """Payload ``name`` of a raw item (``None`` when it has none)."""
        return self._value(item.get(name), item.get(f"{name}_s3"))

    def read(self, ref: Any) -> Any:
        """The payload a record's ``PayloadRef`` points at (``None`` when it has none)."""
        return self._value(ref.text, ref.s3_key)

    def _value(self, text: str | None, s3_key: str | None) -> Any:
        if text is not None:
            return json.loads(text)
        if s3_key is None:
            return None
        body = aws.client("s3").get_object(Bucket=self.bucket, Key=s3_key)["Body"].read()
        return json.loads(body)
