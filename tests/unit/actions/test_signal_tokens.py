"""Signal URL tokens: bound to one attempt, tamper-evident, never interchangeable with cursors."""

import pytest

from stepwise.access.cursors import CursorCodec
from stepwise.actions.webhooks.signal_tokens import SignalTarget, SignalTokens
from stepwise.core.errors import InvalidCursor, Unauthorized

TARGET = SignalTarget("acme", "run_01abc", "call", 3)


def test_a_token_reads_back_as_its_attempt():
    tokens = SignalTokens(b"k" * 32)
    token = tokens.issue(TARGET)
    assert tokens.read(token) == TARGET
    assert TARGET.record_id == "run_01abc.call"


def test_any_changed_character_is_refused():
    tokens = SignalTokens(b"k" * 32)
    token = tokens.issue(TARGET)
    for position in range(len(token)):
        if token[position] == ".":
            continue
        changed = "B" if token[position] != "B" else "C"
        with pytest.raises(Unauthorized):
            tokens.read(token[:position] + changed + token[position + 1 :])


def test_another_secret_or_a_cursor_is_not_a_token():
    token = SignalTokens(b"k" * 32).issue(TARGET)
    with pytest.raises(Unauthorized):
        SignalTokens(b"other" * 8).read(token)
    cursor = CursorCodec(b"k" * 32).encode("runs:acme", {"o": "acme", "r": "x", "n": "y", "a": 1})
    with pytest.raises(Unauthorized):
        SignalTokens(b"k" * 32).read(cursor)
    with pytest.raises(InvalidCursor):
        CursorCodec(b"k" * 32).decode("runs:acme", token)


@pytest.mark.parametrize("garbage", ["", ".", "abc", "a.b", "!!!.???"])
def test_garbage_is_unauthorized_not_a_crash(garbage):
    with pytest.raises(Unauthorized):
        SignalTokens(b"k" * 32).read(garbage)


def test_an_item_token_names_its_item_and_a_node_token_is_what_it_always_was():
    tokens = SignalTokens(b"k" * 32)
    item = SignalTarget("acme", "run_01abc", "call", 3, 7)
    assert tokens.read(tokens.issue(item)) == item
    assert item.record_id == "run_01abc.call[7]"
    # A node's token is byte for byte the one issued before items had tokens, so a delivery in
    # flight across the upgrade still calls back: the codec with the old fields gives the same.
    old = CursorCodec(b"k" * 32).encode(
        "signal", {"o": "acme", "r": "run_01abc", "n": "call", "a": 3}
    )
    assert tokens.issue(TARGET) == old
    assert tokens.read(old) == TARGET and TARGET.index is None
    assert tokens.issue(item) != old
