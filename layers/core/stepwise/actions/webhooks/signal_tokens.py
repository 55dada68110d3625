"""Signal URL tokens: opaque to their holder, signed, bound to one attempt of one node.

A token names (org, run, node, attempt) and carries an HMAC over them, so it cannot be forged,
moved to another attempt or read as a pagination cursor (its MAC has its own scope). A token of
one item of a for_each action node also names the item (``i``); a token without it names the
node, so tokens issued before items had their own still verify and mean what they meant.
"""

from dataclasses import dataclass

from stepwise.access.cursors import CursorCodec
from stepwise.core import metrics
from stepwise.core.errors import InvalidCursor, Unauthorized

_SCOPE = "signal"


@dataclass(frozen=True)
class SignalTarget:
    org_id: str
    run_id: str
    node_ref: str
    attempt: int
    index: int | None = None  # one item of a for_each action node

    @property
    def record_id(self) -> str:
        base = f"{self.run_id}.{self.node_ref}"
        return base if self.index is None else f"{base}[{self.index}]"


class SignalTokens:
    def __init__(self, secret: bytes):
        self._codec = CursorCodec(secret)

    def issue(self, target: SignalTarget) -> str:
        fields: dict[str, str | int] = {
            "o": target.org_id,
            "r": target.run_id,
            "n": target.node_ref,
            "a": target.attempt,
        }
        if target.index is not None:
            fields["i"] = target.index
        return self._codec.encode(_SCOPE, fields)

    def read(self, token: str) -> SignalTarget:
        """The attempt the token was issued for; Unauthorized if forged, altered or garbled."""
        try:
            fields = self._codec.decode(_SCOPE, token)
            index = fields.get("i")
            target = SignalTarget(
                str(fields["o"]),
                str(fields["r"]),
                str(fields["n"]),
                int(fields["a"]),
                None if index is None else int(index),
            )
        except (InvalidCursor, KeyError, TypeError, ValueError):
            # No org to name: a forged token says nothing trustworthy about its holder.
            metrics.count(metrics.Metric.SIGNALS, Outcome="invalid")
            raise Unauthorized("the signal token is not valid") from None
        return target
