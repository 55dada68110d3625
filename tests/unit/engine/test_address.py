"""A node step's address is read from its event in one place; a missing field is named."""

import pytest

from stepwise.engine.address import NodeAddress, event_field

ITEM_EVENT = {
    "step": "item_attempt",
    "org_id": "acme",
    "run_id": "run_1",
    "node_ref": "a",
    "index": 4,
    "attempt": 2,
}


def test_an_item_event_gives_the_full_address():
    assert NodeAddress.of_item(ITEM_EVENT) == NodeAddress("acme", "run_1", "a", 2, 4)


def test_an_attempt_event_has_no_index_and_a_node_event_is_attempt_one():
    assert NodeAddress.of_attempt(ITEM_EVENT).index is None
    assert NodeAddress.of_node(ITEM_EVENT) == NodeAddress("acme", "run_1", "a", 1, None)


@pytest.mark.parametrize("field", ["org_id", "run_id", "node_ref", "attempt", "index"])
def test_a_missing_field_is_named_with_the_step(field):
    event = {k: v for k, v in ITEM_EVENT.items() if k != field}
    with pytest.raises(ValueError, match=f"^engine step 'item_attempt' has no '{field}' field$"):
        NodeAddress.of_item(event)


def test_a_node_event_needs_no_attempt_but_an_attempt_event_does():
    event = {"step": "collect_items", "org_id": "acme", "run_id": "run_1", "node_ref": "a"}
    assert NodeAddress.of_node(event).attempt == 1
    with pytest.raises(ValueError, match="'collect_items' has no 'attempt' field"):
        NodeAddress.of_attempt(event)


def test_where_names_the_item_when_there_is_one():
    assert NodeAddress("acme", "run_1", "a", 2).where == "a"
    assert NodeAddress("acme", "run_1", "a", 2, 0).where == "a[0]"


def test_a_present_field_is_returned_even_when_empty():
    assert event_field({"step": "x", "cause": ""}, "cause") == ""
    with pytest.raises(ValueError, match=r"^engine step None has no 'cause' field$"):
        event_field({}, "cause")
