"""The API's answer shapes: one resource in an envelope, or a page of a list."""

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    data: T
    errors: list[dict[str, str]] | None = None


class Page(BaseModel, Generic[T]):
    data: list[T]
    errors: list[dict[str, str]] | None = None
    next_page: str | None = Field(None, description="Cursor of the next (older) page.")
    current_page: str | None = Field(None, description="Cursor that repeats this page.")
    previous_page: str | None = Field(
        None, description="Cursor of the previous (newer) page, where there is one."
    )
    current_page_backwards: str | None = Field(
        None, description="Cursor that repeats this page from its other end, going newer."
    )
    total: int | None = Field(
        None, description="How many runs the filter matches, where a counter keeps it."
    )
