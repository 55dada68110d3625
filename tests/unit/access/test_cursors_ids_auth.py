"""Cursors are opaque and tamper-evident; ids and keys have the documented shapes."""

import pytest

from stepwise.access.auth import hash_api_key, key_from_headers, new_api_key
from stepwise.access.cursors import CursorCodec
from stepwise.core.errors import InvalidCursor
from stepwise.core.ids import ID_PATTERN, new_id


def test_a_cursor_round_trips_within_its_scope():
    codec = CursorCodec(b"secret")
    cursor = codec.encode("runs:acme", {"before": "run_01"})
    assert codec.decode("runs:acme", cursor) == {"before": "run_01"}


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),
        lambda c: ("e" if c[0] != "e" else "f") + c[1:],
        lambda c: c.split(".")[0],
        lambda c: "garbage",
        lambda c: "",
    ],
)
def test_a_tampered_cursor_is_refused(mutate):
    codec = CursorCodec(b"secret")
    cursor = codec.encode("runs:acme", {"before": "run_01"})
    with pytest.raises(InvalidCursor):
        codec.decode("runs:acme", mutate(cursor))


def test_a_cursor_from_another_org_or_secret_is_refused():
    cursor = CursorCodec(b"secret").encode("runs:acme", {"before": "run_01"})
    with pytest.raises(InvalidCursor):
        CursorCodec(b"secret").decode("runs:other", cursor)
    with pytest.raises(InvalidCursor):
        CursorCodec(b"other").decode("runs:acme", cursor)


def test_ids_are_prefixed_lowercase_and_time_ordered():
    ids = [new_id("run") for _ in range(50)]
    assert all(ID_PATTERN.match(i) and i.startswith("run_") for i in ids)
    assert ids == sorted(ids)


def test_api_keys_come_from_either_header_and_are_hashed():
    key = new_api_key()
    assert key.startswith("swk_") and len(key) > 40
    assert key_from_headers(f"Bearer {key}", None) == key
    assert key_from_headers(None, key) == key
    assert key_from_headers("Basic abc", None) is None
    assert key_from_headers("Bearer ", "  ") is None
    assert hash_api_key(key) != key and len(hash_api_key(key)) == 64


@pytest.mark.parametrize("cursor", ["abc.é", "é.abc", "abc.\u2603\u2603", "\u00e9"])
@pytest.mark.attack
def test_a_cursor_with_non_ascii_characters_is_invalid_not_a_crash(cursor):
    with pytest.raises(InvalidCursor):
        CursorCodec(b"k" * 32).decode("runs:acme", cursor)
