"""Tables the bench writes into documents, between a pair of marker comments."""

import re
from pathlib import Path


def write_between(doc: Path, begin: str, end: str, table: str, what: str) -> None:
    """Replaces what stands between ``begin`` and ``end`` (the ``what`` markers) in ``doc``
    with ``table``."""
    text = doc.read_text()
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"{doc} has no {what} markers")
    doc.write_text(pattern.sub(lambda _: f"{begin}\n{table}\n{end}", text))


def between(doc: Path, begin: str, end: str) -> str:
    """The table as it stands between ``begin`` and ``end`` in ``doc``."""
    text = doc.read_text()
    start, stop = text.index(begin) + len(begin), text.index(end)
    return text[start:stop].strip("\n")
