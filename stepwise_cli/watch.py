"""Following a run as it goes: its nodes redrawn in place on a terminal (a line per change
when the output is a file or a pipe), and its log lines as they are written."""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from stepwise_cli import graph
from stepwise_cli.client import Client
from stepwise_cli.client import segment as seg
from stepwise_cli.render import Style

SETTLED = frozenset({"succeeded", "failed", "cancelled", "timed_out"})
CLEAR_LINE = "\x1b[2K"


def cursor_up(lines: int) -> str:
    return f"\x1b[{lines}F" if lines else ""


class Progress:
    """Draws a run's nodes: in place when ``live`` (a terminal), else one line per change."""

    def __init__(self, out: TextIO, style: Style, live: bool):
        self.out = out
        self.style = style
        self.live = live
        self.drawn = 0  # lines drawn last time (live)
        self.seen: dict[str, str] = {}  # ref -> status printed (plain)
        self.run_status: str | None = None

    def update(self, run: dict[str, Any]) -> None:
        if self.live:
            self._redraw(run)
        else:
            self._append(run)
        self.out.flush()

    def _redraw(self, run: dict[str, Any]) -> None:
        lines = [
            f"{run['id']}  {self.style.status(run['status'])}",
            *graph.draw(run.get("nodes") or [], self.style),
        ]
        self.out.write(cursor_up(self.drawn))
        for line in lines:
            self.out.write(f"{CLEAR_LINE}{line}\n")
        for _ in range(self.drawn - len(lines)):  # a shorter drawing: blank what is left
            self.out.write(f"{CLEAR_LINE}\n")
        self.drawn = max(self.drawn, len(lines))

    def _append(self, run: dict[str, Any]) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        if run["status"] != self.run_status:
            self.run_status = run["status"]
            self.out.write(f"{stamp}  run {run['id']} {self.style.status(run['status'])}\n")
        for node in run.get("nodes") or []:
            status = node.get("status")
            if self.seen.get(node["ref"]) != status:
                self.seen[node["ref"]] = status
                notes = graph.node_notes(node)
                tail = f"  [{notes}]" if notes else ""
                self.out.write(f"{stamp}  {node['ref']} {self.style.status(status)}{tail}\n")


def wait_for_run(
    client: Client,
    run_id: str,
    on_change: Callable[[dict[str, Any]], None] | None = None,
    interval: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Polls the run until it settles; ``on_change`` sees every state that differs."""
    last = None
    while True:
        run = client.call("GET", f"/runs/{seg(run_id)}")["data"]
        state = (
            run["status"],
            [(n["ref"], n.get("status"), n.get("attempt")) for n in run["nodes"]],
        )
        if state != last and on_change is not None:
            on_change(run)
        last = state
        if run["status"] in SETTLED:
            return run
        sleep(interval)


def follow_logs(
    client: Client,
    run_id: str,
    emit: Callable[[dict[str, Any]], None],
    follow: bool,
    interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Every log line of the run, oldest first. With ``follow``, goes on until the run has
    settled and every line written before it settled has been shown."""
    cursor: str | None = None
    shown: set[str] = set()
    while True:
        settled = follow and client.call("GET", f"/runs/{seg(run_id)}")["data"]["status"] in SETTLED
        while True:  # read to the end of the log as it is now
            page = client.call(
                "GET", f"/runs/{seg(run_id)}/logs", query=[("limit", 1000), ("cursor", cursor)]
            )
            for line in page["data"]:
                if line["id"] not in shown:
                    shown.add(line["id"])
                    emit(line)
            if not page.get("next_page"):
                break  # the last page: read it again next time, from its own cursor
            cursor = page["next_page"]
        if not follow or settled:
            return
        sleep(interval)
