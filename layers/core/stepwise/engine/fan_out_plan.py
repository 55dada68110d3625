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
"""

from dataclasses import dataclass
from math import ceil

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


@dataclass(frozen=True)
class FanOutPlan:
    """``items`` split into chunks of ``chunk_size`` indices, run by ``lanes`` lanes that share
    ``max_concurrency``: chunk ``c`` runs in lane ``c % lanes``, after chunk ``c - lanes``."""

    items: int
    chunk_size: int
    lanes: int
    max_concurrency: int

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
    size = min(chunk_size(max_attempts, delivers), max(items, 1))
    chunks = ceil(items / size)
    lanes = max(1, min(chunks, ceil(max_concurrency / size), max_concurrency))
    return FanOutPlan(items, size, lanes, max_concurrency)
