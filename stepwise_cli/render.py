"""Text for people: tables, statuses with a symbol and a colour on a terminal (none when the
output is not a terminal, or ``NO_COLOR`` is set), and JSON for scripts."""

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

RESET = "\x1b[0m"
# status -> (symbol, SGR colour)
STATUS_STYLE = {
    "succeeded": ("✔", "32"),
    "failed": ("✘", "31"),
    "timed_out": ("⏱", "31"),
    "cancelled": ("⊘", "35"),
    "skipped": ("↷", "2"),
    "running": ("▶", "33"),
    "scheduled": ("◷", "36"),
    "queued": ("◷", "36"),
    "paused": ("⏸", "34"),
    "waiting": ("⧗", "34"),
    "pending": ("·", "2"),
}


@dataclass(frozen=True)
class Style:
    """Symbols and colours only on a terminal; colours also off with ``NO_COLOR`` (no-color.org)
    or ``TERM=dumb``."""

    symbols: bool = False
    colour: bool = False

    @classmethod
    def for_stream(cls, stream: TextIO, env: Mapping[str, str]) -> "Style":
        tty = _isatty(stream)
        plain = bool(env.get("NO_COLOR")) or env.get("TERM") == "dumb"
        return cls(symbols=tty and not plain, colour=tty and not plain)

    def status(self, status: str | None) -> str:
        text = status or "-"
        symbol, sgr = STATUS_STYLE.get(text, ("?", "0"))
        if self.symbols:
            text = f"{symbol} {text}"
        if self.colour:
            text = f"\x1b[{sgr}m{text}{RESET}"
        return text

    def dim(self, text: str) -> str:
        return f"\x1b[2m{text}{RESET}" if self.colour else text

    def bold(self, text: str) -> str:
        return f"\x1b[1m{text}{RESET}" if self.colour else text


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def width(text: str) -> int:
    """Columns the text takes on a terminal, escape sequences left out."""
    visible = _strip_sgr(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in visible)


def _strip_sgr(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\x1b":
            end = text.find("m", i)
            i = len(text) if end == -1 else end + 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> list[str]:
    """Left-aligned columns two spaces apart; the last column is not padded."""
    grid = [list(headers), *[list(r) for r in rows]]
    widths = [max(width(row[c]) for row in grid) for c in range(len(headers))]
    lines = []
    for row in grid:
        cells = [cell + " " * (widths[c] - width(cell)) for c, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return lines


def when(value: str | None) -> str:
    """An API time as ``YYYY-MM-DD HH:MM:SS`` (UTC, as the API gives it)."""
    if not value:
        return "-"
    return value.replace("T", " ")[:19]


def duration(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "-"
    try:
        seconds = (
            datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(start.replace("Z", "+00:00"))
        ).total_seconds()
    except ValueError:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def compact(value: Any, limit: int = 200) -> str:
    """JSON on one line, cut at ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_json(value: Any, out: TextIO) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False), file=out)
