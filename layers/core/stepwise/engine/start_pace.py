"""How fast one engine process starts node executions: a token bucket, so that a step that
makes hundreds of nodes ready at once (a workflow may have 500) spreads their StartExecution
calls instead of spending the account's StartExecution bucket (1,300, refilled at 300 a second
in the largest regions, 800 and 150 elsewhere) in one burst.

A Lambda execution environment runs one invocation at a time, so a bucket per process is a bucket
per concurrent engine invocation: the engine's reserved concurrency (when the stack sets one)
times ``NODE_START_RATE`` bounds the whole account's node starts.
"""

import threading
import time
from collections.abc import Callable


class StartPace:
    """At most ``rate`` starts a second, after a first burst of ``rate``."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0:
            raise ValueError("the start rate must be positive")
        self.rate = rate
        self.clock = clock
        self.sleep = sleep
        self.tokens = rate
        self.at = clock()
        self.lock = threading.Lock()

    def take(self) -> float:
        """Waits until one more start is allowed; the seconds it waited."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
            self.at = now
            self.tokens -= 1
            wait = 0.0 if self.tokens >= 0 else -self.tokens / self.rate
        if wait:
            self.sleep(wait)
        return wait
