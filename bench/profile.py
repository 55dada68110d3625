"""Where the local stack's time goes: cProfile over every thread of a workload.

cProfile sees only the thread that enables it, and the local stack works in many (moto's
executions, the queue pollers, uvicorn, the bench's own clients). While a ``ThreadProfiler`` is
on, every thread started gets a profiler of its own, and the stats of all of them are merged at
the end. Times are wall-clock per thread, so they add up to more than the wall time; blocking
calls (sleeps, lock and event waits, sockets) are counted as waiting.
"""

import cProfile
import pstats
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# (area, what a function's file or name contains), first match wins.
WAITING = (
    "time.sleep",
    "acquire' of '_thread",
    "method 'wait'",
    "select.",
    "'poll' of",
    "'recv",
    "'accept' of",
    "'control' of",
    "_socket.getaddrinfo",
    "'sendall' of",
)
AREAS = (
    ("moto Step Functions (ASL parser and interpreter)", ("moto/stepfunctions", "/antlr4/")),
    ("moto DynamoDB", ("moto/dynamodb",)),
    ("moto, other services and core", ("/moto/", "/responses/", "/werkzeug/")),
    ("botocore and boto3 (client side)", ("/botocore/", "/boto3/", "/urllib3/", "/s3transfer/")),
    ("stepwise engine", ("stepwise/engine/",)),
    (
        "stepwise, other domains (API, runs, actions, infra)",
        ("layers/core/stepwise/", "functions/"),
    ),
    ("local stack (pollers, threads, stepwise_local)", ("stepwise_local/", "bench/")),
    ("JSON", ("/json/", "_json", "orjson")),
    ("copying (copy.deepcopy)", ("/copy.py",)),
    (
        "web serving (uvicorn, starlette, fastapi, pydantic, mangum, httpx)",
        ("/uvicorn/", "/starlette/", "/fastapi/", "/pydantic", "/mangum/", "/httpx/", "/h11/"),
    ),
    ("threads and asyncio plumbing", ("threading.py", "/concurrent/", "/asyncio/", "queue.py")),
)
WAIT_AREA = "sleeping and waiting"
# The local stack serialises DynamoDB requests (stepwise_local/atomicity.py): the time a thread
# spends in that wrapper itself is time queued for the lock.
LOCK_AREA = "queued for the local DynamoDB lock"
LOCK_FUNCTION = ("stepwise_local/atomicity.py", "_atomic_call_action")
# Short system calls that release the GIL: their wall time is mostly getting the GIL back.
SYSCALL_AREA = "short system calls that release the GIL (os.urandom for request ids, stat)"
SYSCALLS = ("posix.urandom", "posix.stat", "posix.listdir")
OTHER_AREA = "other"
PLUMBING = ("threading.py", "/concurrent/futures/", "bench/profile.py", "cProfile", "/asyncio/")


def area_of(filename: str, function: str) -> str:
    """The area a function belongs to, from its file (or, for a builtin, its name)."""
    if filename == "~" and any(mark in function for mark in WAITING):
        return WAIT_AREA
    if filename == "~" and any(mark in function for mark in SYSCALLS):
        return SYSCALL_AREA
    if filename.endswith(LOCK_FUNCTION[0]) and function == LOCK_FUNCTION[1]:
        return LOCK_AREA
    where = f"{filename}:{function}"
    for area, marks in AREAS:
        if any(mark in where for mark in marks):
            return area
    return OTHER_AREA


class ThreadProfiler:
    """Profiles the entering thread and every thread started while it is on."""

    def __init__(self):
        self._finished: list[cProfile.Profile] = []
        self._running: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._main = cProfile.Profile()
        self._original_run = threading.Thread.run
        self.unfinished = 0  # threads still alive at the end (not in the stats)

    def __enter__(self) -> "ThreadProfiler":
        profiler = self
        original = self._original_run

        def profiled_run(thread: threading.Thread) -> None:
            own = cProfile.Profile()
            with profiler._lock:
                profiler._running.add(thread)
            own.enable()
            try:
                original(thread)
            finally:
                own.disable()
                with profiler._lock:
                    profiler._running.discard(thread)
                    profiler._finished.append(own)

        threading.Thread.run = profiled_run  # type: ignore[method-assign]
        self._main.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        self._main.disable()
        threading.Thread.run = self._original_run  # type: ignore[method-assign]
        with self._lock:
            self.unfinished = sum(1 for t in self._running if t.is_alive())

    def stats(self) -> pstats.Stats:
        merged = pstats.Stats(self._main)
        with self._lock:
            for own in self._finished:
                merged.add(own)
        return merged


def summary(stats: pstats.Stats, wall_seconds: float, top: int = 15) -> dict[str, Any]:
    """Shares by area (of all profiled time, and of the time not spent waiting), and the top
    functions by cumulative and by own time (waits and thread plumbing left out)."""
    by_area: Counter[str] = Counter()
    rows = []
    for (filename, line, function), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        area = area_of(filename, function)
        by_area[area] += own
        rows.append((filename, line, function, calls, own, cumulative, area))
    total = sum(by_area.values()) or 1.0
    waiting = (WAIT_AREA, LOCK_AREA, SYSCALL_AREA)
    busy = (total - sum(by_area[a] for a in waiting)) or 1.0
    useful = [r for r in rows if r[6] != WAIT_AREA and not any(p in r[0] for p in PLUMBING)]

    def listed(key: int) -> list[dict[str, Any]]:
        chosen = sorted(useful, key=lambda r: r[key], reverse=True)[:top]
        return [
            {
                "function": _name(r[0], r[1], r[2]),
                "calls": r[3],
                "own_s": round(r[4], 2),
                "cumulative_s": round(r[5], 2),
                "area": r[6],
            }
            for r in chosen
        ]

    return {
        "wall_seconds": round(wall_seconds, 2),
        "profiled_thread_seconds": round(total, 1),
        "share_percent": {a: round(100 * s / total, 1) for a, s in by_area.most_common()},
        "busy_share_percent": {
            a: round(100 * s / busy, 1) for a, s in by_area.most_common() if a not in waiting
        },
        "top_cumulative": listed(5),
        "top_own": listed(4),
    }


def profile(workload: Any) -> tuple[Any, dict[str, Any]]:
    """Runs ``workload()`` under a ThreadProfiler; its answer and the summary."""
    with ThreadProfiler() as profiler:
        started = time.perf_counter()
        answer = workload()
        wall = time.perf_counter() - started
    result = summary(profiler.stats(), wall)
    result["threads_unfinished"] = profiler.unfinished
    return answer, result


def _name(filename: str, line: int, function: str) -> str:
    if filename == "~":
        return function
    for anchor in ("site-packages/", f"{ROOT}/layers/core/", f"{ROOT}/", "/python3.11/"):
        if anchor in filename:
            filename = filename.split(anchor, 1)[1]
            break
    return f"{filename}:{line}({function})"
