"""The engine's node start pace (pure, on a fake clock): a first burst of ``rate`` starts, then
``rate`` a second, however long the list of ready nodes."""

import pytest

from stepwise.engine.start_pace import StartPace


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def started_at(pace: StartPace, time: FakeTime, count: int) -> list[float]:
    times = []
    for _ in range(count):
        pace.take()
        times.append(time.now)
    return times


def test_a_step_with_500_ready_nodes_starts_a_burst_then_rate_a_second():
    time = FakeTime()
    pace = StartPace(50, clock=time.clock, sleep=time.sleep)
    times = started_at(pace, time, 500)
    assert times[:50] == [0.0] * 50
    for k in range(50, 500):
        assert times[k] == pytest.approx((k - 49) / 50)
    # In no one-second window after the burst do more than `rate` starts happen.
    for k in range(50, 450):
        assert times[k + 50] - times[k] >= 1.0 - 1e-9
    assert times[-1] == pytest.approx(9.0)  # 450 after the burst, 50 a second


def test_idle_time_refills_at_most_one_burst():
    time = FakeTime()
    pace = StartPace(10, clock=time.clock, sleep=time.sleep)
    started_at(pace, time, 10)
    time.now += 3600
    times = started_at(pace, time, 11)
    assert times[:10] == [3600.0] * 10
    assert times[10] == pytest.approx(3600.1)


def test_a_rate_must_be_positive():
    with pytest.raises(ValueError):
        StartPace(0)
