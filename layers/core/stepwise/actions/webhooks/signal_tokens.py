"""Signal URL tokens: opaque to their holder, signed, bound to one attempt of one node.

A token names (org, run, node, attempt) and carries an HMAC over them, so it cannot be forged,
moved to another attempt or read as a pagination cursor (its MAC has its own scope).
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

    @property
    def record_id(self) -> str:
        return f"{self.run_id}.{self.node_ref}"


class SignalTokens:
    def __init__(self, secret: bytes):
        self._codec = CursorCodec(secret)

    def issue(self, target: SignalTarget) -> str:
        return self._codec.encode(
            _SCOPE,
            {"o": target.org_id, "r": target.run_id, "n": target.node_ref, "a": target.attempt},
        )

    def read(self, token: str) -> SignalTarget:
        """The attempt the token was issued for; Unauthorized if forged, altered or garbled."""
        try:
            fields = self._codec.decode(_SCOPE, token)
            target = SignalTarget(
                str(fields["o"]), str(fields["r"]), str(fields["n"]), int(fields["a"])
            )
        except (InvalidCursor, KeyError, TypeError, ValueError):
            # No org to name: a forged token says nothing trustworthy about its holder.
            metrics.count(metrics.Metric.SIGNALS, Outcome="invalid")
            raise Unauthorized("the signal token is not valid") from None
        return target
