"""How a for_each node's items are split into executions of the items machine.

Step Functions fails an execution whose history reaches 25,000 events (a hard quota), and an
inline Map writes about 11 events per item, more with every retry. So the items of one node run
as *chunks*: one ItemsStateMachine execution per chunk, sized so that the chunk's worst case
(every item using every attempt its retry policy allows, and every Lambda retry the ASL allows)
stays under ``HISTORY_BUDGET``. Chunks run in *lanes*: each lane runs its chunks one after the
other (the chunk that ends starts the next of its lane), and the lanes share the node's
``max_concurrency`` between them, so that no more items run at once than the node allows.

The event counts below are checked against the ASL by tests/unit/engine/test_history_bounds.py,
which walks statemachines/*.asl.json and fails if any of them is lower than the ASL's worst case.

A chunk whose worst case in *time* fits in an Express execution runs in ItemsExpressStateMachine
instead (``express_plan``): Express bills a request and its duration instead of every state
transition, has no history (so no event budget), and ends every execution after 5 minutes. A
chunk is Express when one item's worst case (every attempt taking its whole per-attempt bound,
plus every backoff) times the number of items each Map slot runs one after the other
(``ceil(chunk size / lane concurrency)``) fits in ``EXPRESS_BUDGET_SECONDS``; the chunk shrinks
until it does, and a node whose single item does not fit keeps Standard chunks.
"""

from dataclasses import dataclass
from math import ceil

from stepwise.engine.retries import retry_delay
from stepwise.workflows.models import RetryPolicy

HISTORY_LIMIT = 25_000  # events in one execution's history (a hard Step Functions quota)
HISTORY_BUDGET = 20_000  # what a chunk may use at worst: 80% of the limit

# Worst-case history events of the items machine (statemachines/items.asl.json):
CHUNK_EVENTS = 67  # the execution, its Map state, ChunkDone and ChunkCrashed with all their retries
ITEM_EVENTS = 56  # one item: its iteration, its last attempt and its crash path
ITEM_RETRY_EVENTS = 38  # each further attempt of an item: backoff, the attempt and its decision
# An action node's item also waits on its delivery in each attempt: ItemDeliver (a service
# integration, 4 events a try, with its SQS retries), its timeout path and ItemActionSettled
# (with its Lambda retries), then ItemDecide once more. Heartbeats write no history event.
DELIVERY_ITEM_EVENTS = 188  # one action item: its iteration, its last attempt and its crash path
DELIVERY_ITEM_RETRY_EVENTS = 104  # each further attempt of an action item, with its delivery


def item_events(max_attempts: int, delivers: bool = False) -> int:
    """The most history events one item can write with this retry policy (``delivers``: the
    item of an action node, whose every attempt waits on a delivery)."""
    if delivers:
        return DELIVERY_ITEM_EVENTS + DELIVERY_ITEM_RETRY_EVENTS * (max_attempts - 1)
    return ITEM_EVENTS + ITEM_RETRY_EVENTS * (max_attempts - 1)


def chunk_size(max_attempts: int, delivers: bool = False) -> int:
    """The most items one execution may run so that its worst case stays in the budget."""
    return max(1, (HISTORY_BUDGET - CHUNK_EVENTS) // item_events(max_attempts, delivers))


# Express executions end after 5 minutes (a hard limit); a chunk is planned to end within 4, so
# that Lambda's own retries and cold starts have a minute of room.
EXPRESS_LIMIT_SECONDS = 300
EXPRESS_BUDGET_SECONDS = 240
# A transform item's attempt is one engine invocation that renders its args (milliseconds, a
# few reads); without a retry.timeout it is bounded by this for the plan. A chunk that still
# overruns is ended by Express at 5 minutes and started again by the janitor (every item step is
# idempotent), so the bound decides the cost, never the outcome.
TRANSFORM_ATTEMPT_SECONDS = 5
# An action item's attempt is one synchronous delivery: the destination's SLA plus this.
DELIVERY_MARGIN_SECONDS = 30

# Action items run in Express chunks, each attempt delivered within its ItemAttempt step, when
# their destination has no signaling at fan-out (no ack can come).
EXPRESS_ACTION_ITEMS = True

STANDARD = "standard"
EXPRESS = "express"


def item_seconds(retry: RetryPolicy, attempt_seconds: float) -> float:
    """The longest one item can take with this retry policy: every attempt taking
    ``attempt_seconds`` (``retry.timeout`` when set) and every backoff in between."""
    per_attempt = retry.timeout or attempt_seconds
    backoffs = sum(retry_delay(retry, n) or 0 for n in range(1, retry.max_attempts))
    return retry.max_attempts * per_attempt + backoffs


def express_chunk_size(seconds: float, concurrency: int) -> int:
    """The most items a chunk whose items take at most ``seconds`` each, ``concurrency`` at a
    time, may hold and still end within the Express budget; 0 when not even one item fits."""
    if seconds <= 0:
        return concurrency * EXPRESS_BUDGET_SECONDS
    return int(EXPRESS_BUDGET_SECONDS // seconds) * concurrency


@dataclass(frozen=True)
class FanOutPlan:
    """``items`` split into chunks of ``chunk_size`` indices, run by ``lanes`` lanes that share
    ``max_concurrency``: chunk ``c`` runs in lane ``c % lanes``, after chunk ``c - lanes``.
    ``machine``: the chunks run as Standard or as Express executions."""

    items: int
    chunk_size: int
    lanes: int
    max_concurrency: int
    machine: str = STANDARD

    @property
    def express(self) -> bool:
        return self.machine == EXPRESS

    @property
    def chunks(self) -> int:
        return ceil(self.items / self.chunk_size)

    def indices(self, chunk: int) -> list[int]:
        first = chunk * self.chunk_size
        return list(range(first, min(first + self.chunk_size, self.items)))

    def concurrency(self, chunk: int) -> int:
        """The lane's share of the node's max_concurrency (the shares add up to it)."""
        lane = chunk % self.lanes
        share = self.max_concurrency // self.lanes + (lane < self.max_concurrency % self.lanes)
        return max(1, share)

    def first_chunks(self) -> range:
        """The chunk each lane starts with."""
        return range(min(self.lanes, self.chunks))

    def next_in_lane(self, chunk: int) -> int | None:
        following = chunk + self.lanes
        return following if following < self.chunks else None

    def running(self, done: frozenset[int]) -> list[int]:
        """The chunk each lane is on (its first chunk not done), given the done ones."""
        running = []
        for lane in self.first_chunks():
            chunk: int | None = lane
            while chunk is not None and chunk in done:
                chunk = self.next_in_lane(chunk)
            if chunk is not None:
                running.append(chunk)
        return running


def plan(items: int, max_attempts: int, max_concurrency: int, delivers: bool = False) -> FanOutPlan:
    """Chunks small enough for the history limit; as many lanes as max_concurrency fills."""
    return _planned(items, chunk_size(max_attempts, delivers), max_concurrency, STANDARD)


def express_plan(items: int, seconds: float, max_concurrency: int) -> FanOutPlan | None:
    """Express chunks for items that take at most ``seconds`` each: as many items per chunk as
    end within the budget with the node's whole ``max_concurrency`` in one lane; None when one
    item alone does not fit (the node keeps Standard chunks)."""
    size = express_chunk_size(seconds, max_concurrency)
    if size < 1:
        return None
    return _planned(items, size, max_concurrency, EXPRESS)


def choose(
    items: int, retry: RetryPolicy, max_concurrency: int, attempt_seconds: float, delivers: bool
) -> FanOutPlan:
    """Express chunks when the items' worst case fits (``express_plan``), else Standard ones
    sized for the history limit."""
    express = express_plan(items, item_seconds(retry, attempt_seconds), max_concurrency)
    return express or plan(items, retry.max_attempts, max_concurrency, delivers)


def _planned(items: int, largest: int, max_concurrency: int, machine: str) -> FanOutPlan:
    size = min(largest, max(items, 1))
    chunks = ceil(items / size)
    lanes = max(1, min(chunks, ceil(max_concurrency / size), max_concurrency))
    return FanOutPlan(items, size, lanes, max_concurrency, machine)
