"""The bench's profiler: every thread's time is seen, and sorted into areas."""

import threading
import time

from bench import profile


def _spin(seconds: float) -> int:
    end, count = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        count += 1
    return count


def test_functions_go_to_their_area():
    site = "/x/.venv/lib/python3.11/site-packages"
    assert profile.area_of("~", "<built-in method time.sleep>") == profile.WAIT_AREA
    assert profile.area_of("~", "<method 'acquire' of '_thread.lock' objects>") == (
        profile.WAIT_AREA
    )
    assert profile.area_of(f"{site}/antlr4/Lexer.py", "nextToken").startswith("moto Step")
    assert profile.area_of(f"{site}/moto/stepfunctions/parser/x.py", "f").startswith("moto Step")
    assert profile.area_of(f"{site}/moto/dynamodb/models/table.py", "put") == "moto DynamoDB"
    assert profile.area_of("/r/layers/core/stepwise/engine/advance.py", "f") == "stepwise engine"
    assert profile.area_of("/r/stepwise_local/queues.py", "_run").startswith("local stack")
    assert profile.area_of("/usr/lib/python3.11/json/decoder.py", "decode") == "JSON"
    assert profile.area_of("/somewhere/else.py", "f") == profile.OTHER_AREA
    lock = profile.area_of("/r/stepwise_local/atomicity.py", "_atomic_call_action")
    assert lock == profile.LOCK_AREA
    assert profile.area_of("~", "<built-in method posix.urandom>") == profile.SYSCALL_AREA


def test_threads_started_while_profiling_are_profiled_and_merged():
    done = []
    worker = None

    def work():
        with profile.ThreadProfiler() as profiler:
            nonlocal worker
            worker = threading.Thread(target=lambda: done.append(_spin(0.05)))
            worker.start()
            worker.join()
        return profiler

    profiler = work()
    assert done and profiler.unfinished == 0
    summary = profile.summary(profiler.stats(), wall_seconds=0.1)
    spun = [row for row in summary["top_own"] if "_spin" in row["function"]]
    assert spun and spun[0]["own_s"] > 0  # seen although it ran in another thread
    assert abs(sum(summary["share_percent"].values()) - 100) < 0.5
    assert threading.Thread.run is not None and "profiled_run" not in repr(threading.Thread.run)


def test_profile_answers_the_workload_and_its_summary():
    answer, summary = profile.profile(lambda: _spin(0.02) > 0)
    assert answer is True
    assert summary["wall_seconds"] >= 0.02
    assert {"share_percent", "busy_share_percent", "top_cumulative", "top_own"} <= set(summary)
