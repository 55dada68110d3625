"""Cron fire times agree with pyawscron, an AWS-cron implementation this project did not write.

A few hundred random valid EventBridge expressions (fixed seed) with ``*/N``, ``a/N``, ``a-b/N``,
ranges, lists, names, ``L``, ``W`` and ``#``: the next fire times from fixed UTC instants must be
the ones pyawscron computes. Generated only where pyawscron follows EventBridge's documentation
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based); see
``_day_of_month`` and ``_day_of_week`` for what is left out and why.
"""

import random
from datetime import UTC, datetime

import pytest
from pyawscron import AWSCron

from stepwise.schedules.expressions import next_fire

SEED = 20261213
EXPRESSIONS = 400
FIRES = 6
STARTS = [
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 2, 27, 23, 59, 30, tzinfo=UTC),
    datetime(2027, 12, 31, 22, 10, tzinfo=UTC),
    datetime(2028, 2, 28, 13, 7, tzinfo=UTC),
]
MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def _numeric(
    rng: random.Random, low: int, high: int, names: list[str] | None = None, steps: bool = True
) -> str:
    """One field of numbers: ``*``, a value, a range, a list, or an increment of each kind.
    pyawscron reads an increment only as the whole field, so increments are never in a list."""

    def value(v: int) -> str:
        return names[v - low] if names and rng.random() < 0.5 else str(v)

    a, b = sorted(rng.sample(range(low, high + 1), 2))
    step = rng.randint(1, max(1, (high - low) // 2))
    plain = [
        "*",
        value(a),
        f"{value(a)}-{value(b)}",
        ",".join(value(v) for v in sorted(rng.sample(range(low, high + 1), 3))),
    ]
    steps_of = [f"*/{step}", f"{a}/{step}", f"{a}-{b}/{step}"] if steps else []
    return rng.choice([*plain, *steps_of])


def _day_of_month(rng: random.Random) -> str:
    """Days up to 28 only: pyawscron builds a date of day 29-31 in a month without it and
    fails (ValueError), and for ``nW`` past a month's end the docs say nothing to compare with.
    ``LW`` is left out: pyawscron cannot parse it."""
    kind = rng.random()
    if kind < 0.1:
        return "L"
    if kind < 0.25:
        return f"{rng.randint(1, 28)}W"
    return _numeric(rng, 1, 28)


def _day_of_week(rng: random.Random) -> str:
    """``L`` alone is left out: pyawscron reads it as weekday 0 and never fires, where the docs
    make it the last day of the week. ``#5`` is left out: a month without a fifth one sends
    pyawscron past its search limit. No ``/``: the docs list ``, - * ? L #`` for day-of-week."""
    kind = rng.random()
    if kind < 0.15:
        return f"{rng.choice([str(rng.randint(1, 7)), rng.choice(DAY_NAMES)])}L"
    if kind < 0.3:
        return f"{rng.choice([str(rng.randint(1, 7)), rng.choice(DAY_NAMES)])}#{rng.randint(1, 4)}"
    return _numeric(rng, 1, 7, DAY_NAMES, steps=False)


def expressions() -> list[str]:
    rng = random.Random(SEED)
    made = []
    for _ in range(EXPRESSIONS):
        minute, hour = _numeric(rng, 0, 59), _numeric(rng, 0, 23)
        month = _numeric(rng, 1, 12, MONTH_NAMES)
        if rng.random() < 0.5:
            dom, dow = _day_of_month(rng), "?"
        else:
            dom, dow = "?", _day_of_week(rng)
        year = "*" if rng.random() < 0.8 else _numeric(rng, 2026, 2032)
        made.append(f"{minute} {hour} {dom} {month} {dow} {year}")
    return made


def ours(body: str, start: datetime) -> list[datetime | None]:
    fires, after = [], start
    for _ in range(FIRES):
        after = next_fire(f"cron({body})", "UTC", after)
        fires.append(after)
        if after is None:
            break
    return fires


def theirs(body: str, start: datetime) -> list[datetime | None] | None:
    """pyawscron's next fires (None after the last); None if it cannot answer: it builds the
    date of a day-of-month past the month's end (``*/6`` reaches the 31st) and fails with
    ValueError, where the docs simply skip months without that day."""
    cron, fires, after = AWSCron(body), [], start
    try:
        for _ in range(FIRES):
            after = cron.occurrence(after).next()
            fires.append(after)
            if after is None:
                break
    except ValueError as exc:
        if "day is out of range" not in str(exc):
            raise
        return None
    return fires


def compared() -> list[tuple[str, datetime]]:
    """Every (expression, start) pyawscron answers."""
    return [(body, s) for body in expressions() for s in STARTS if theirs(body, s) is not None]


def test_the_comparison_covers_every_kind_of_field_and_most_cases():
    made = " ".join(expressions())
    for token in ("*/", "-", ",", "L ", "W ", "#", "JAN", "MON", "/"):
        assert token in made, token
    assert len(compared()) >= 0.9 * EXPRESSIONS * len(STARTS)


@pytest.mark.parametrize("body", expressions())
def test_next_fires_agree_with_pyawscron(body: str) -> None:
    for start in STARTS:
        expected = theirs(body, start)
        if expected is not None:
            assert ours(body, start) == expected, (body, start)
