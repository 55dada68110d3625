"""A for_each node's progress as the API shows it: the items of its finished chunks."""

import pytest

from stepwise.runs.records import NodeRecord
from stepwise.runs.views import _items_done


@pytest.mark.parametrize(
    ("done", "expected"),
    [
        (frozenset(), 0),
        (frozenset({0}), 5),
        (frozenset({2}), 2),  # the last chunk holds what is left: items 10 and 11
        (frozenset({0, 2}), 7),
        (frozenset({0, 1, 2}), 12),
    ],
)
def test_items_done_counts_the_items_of_finished_chunks(done, expected):
    node = NodeRecord(ref="each", status="running", item_count=12, chunk_size=5, chunks_done=done)
    assert _items_done(node) == expected


def test_a_node_without_items_has_no_progress():
    assert _items_done(NodeRecord(ref="a", status="running")) is None
    assert _items_done(NodeRecord(ref="a", status="running", item_count=3)) is None
