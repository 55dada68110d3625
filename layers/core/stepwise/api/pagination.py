"""Cursor paging shared by every list: an opaque, signed position scoped to one list."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query

from stepwise.access.cursors import CursorCodec
from stepwise.api.dependencies import cursor_codec
from stepwise.api.envelopes import Page

# The parameters every list takes: the signed cursor, and the codec that reads it.
CursorParam = Annotated[str | None, Query(max_length=1024, description="A page's cursor.")]
CodecDep = Annotated[CursorCodec, Depends(cursor_codec)]


def cursor_page(
    codec: CursorCodec,
    scope: str,
    cursor: str | None,
    fetch: Callable[[Any], tuple[list[Any], Any]],
) -> Page:
    """``fetch(position)`` returns a page of items and the next position (None at the end)."""
    position = codec.decode(scope, cursor)["at"] if cursor else None
    items, following = fetch(position)
    next_page = codec.encode(scope, {"at": following}) if following is not None else None
    return Page(data=items, next_page=next_page, current_page=cursor)
