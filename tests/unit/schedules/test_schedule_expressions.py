"""EventBridge Scheduler expressions: what is refused, and when a schedule fires next."""

from datetime import UTC, datetime

import pytest

from stepwise.schedules.expressions import InvalidExpression, next_fire, parse, zone


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)",
        "rate(5 minute)",
        "rate(1 week)",
        "rate(-1 minutes)",
        "cron(0 12 * * * *)",  # neither day field is '?'
        "cron(0 12 ? * ? *)",  # both are
        "cron(0 12 * *)",  # four fields
        "cron(60 12 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 12 32 * ? *)",
        "cron(0 12 ? * 8 *)",
        "cron(0 12 ? * MON#6 *)",
        "cron(0 12 ? FOO * *)",
        "cron(0 12 5-1 * ? *)",
        "cron(0/0 12 * * ? *)",
        "cron(? 12 * * ? *)",
        "cron(0 12 * * ? 1969)",
        "every minute",
        "",
    ],
)
def test_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(InvalidExpression):
        parse(expression)


@pytest.mark.parametrize("name", ["Mars/Olympus", "utc+1", "", "EST5EDT/x"])
def test_unknown_timezones_are_refused(name: str) -> None:
    with pytest.raises(InvalidExpression):
        zone(name)


def test_rate_fires_from_its_start_then_every_period() -> None:
    start = utc(2026, 1, 1, 10, 0, 30)
    assert next_fire("rate(1 minute)", "UTC", start.replace(second=0), start) == start
    assert next_fire("rate(1 minute)", "UTC", start, start) == utc(2026, 1, 1, 10, 1, 30)
    assert next_fire("rate(2 hours)", "UTC", utc(2026, 1, 1, 13), start) == utc(
        2026, 1, 1, 14, 0, 30
    )


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0/15 * * * ? *)", utc(2026, 3, 2, 10, 7), utc(2026, 3, 2, 10, 15)),
        # '*/N' is every N from the field's low bound, not the low bound alone.
        ("cron(*/15 * * * ? *)", utc(2026, 3, 2, 10, 7), utc(2026, 3, 2, 10, 15)),
        ("cron(0 */6 * * ? *)", utc(2026, 3, 2, 10, 7), utc(2026, 3, 2, 12)),
        ("cron(0 0 */10 * ? *)", utc(2026, 3, 2, 10, 7), utc(2026, 3, 11)),
        ("cron(0 0 1 */5 ? *)", utc(2026, 3, 2, 10, 7), utc(2026, 6, 1)),  # Jan, Jun, Nov
        ("cron(0 10 * * ? *)", utc(2026, 3, 2, 10, 0), utc(2026, 3, 3, 10, 0)),
        # Monday to Friday: from Friday evening, the next is Monday.
        ("cron(30 8 ? * MON-FRI *)", utc(2026, 3, 6, 9), utc(2026, 3, 9, 8, 30)),
        # Lists and names.
        ("cron(0 8 ? JAN,JUL SUN *)", utc(2026, 3, 1), utc(2026, 7, 5, 8)),
        # The last day of the month (February of a leap year).
        ("cron(0 0 L * ? *)", utc(2028, 2, 3), utc(2028, 2, 29)),
        # The weekday nearest the 1st: 2026-08-01 is a Saturday, so Monday the 3rd.
        ("cron(0 9 1W * ? *)", utc(2026, 7, 15), utc(2026, 8, 3, 9)),
        # Nearest to the 15th: 2026-11-15 is a Sunday, so Monday the 16th.
        ("cron(0 9 15W * ? *)", utc(2026, 11, 1), utc(2026, 11, 16, 9)),
        # The last Friday of the month.
        ("cron(0 17 ? * 6L *)", utc(2026, 11, 1), utc(2026, 11, 27, 17)),
        # The second Tuesday.
        ("cron(0 12 ? * TUE#2 *)", utc(2026, 11, 1), utc(2026, 11, 10, 12)),
        # A year range that has ended fires no more.
        ("cron(0 12 * * ? 2020-2021)", utc(2026, 1, 1), None),
        ("cron(0 12 1 1 ? 2030)", utc(2026, 1, 1), utc(2030, 1, 1, 12)),
    ],
)
def test_cron_next_fire_in_utc(expression: str, after: datetime, expected: datetime | None) -> None:
    assert next_fire(expression, "UTC", after) == expected


def test_cron_in_a_timezone_fires_at_local_time() -> None:
    # 09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer.
    assert next_fire("cron(0 9 * * ? *)", "America/New_York", utc(2026, 1, 5)) == utc(
        2026, 1, 5, 14
    )
    assert next_fire("cron(0 9 * * ? *)", "America/New_York", utc(2026, 7, 5)) == utc(
        2026, 7, 5, 13
    )


def test_a_local_time_skipped_by_daylight_saving_does_not_fire() -> None:
    # 2026-03-08 02:30 does not exist in New York: the next fire is the 9th.
    after = utc(2026, 3, 8, 5)
    assert next_fire("cron(30 2 * * ? *)", "America/New_York", after) == utc(2026, 3, 9, 6, 30)


def test_a_local_time_repeated_by_daylight_saving_fires_once() -> None:
    # 2026-11-01 01:30 happens twice in New York (EDT then EST): only the first fires.
    first = next_fire("cron(30 1 * * ? *)", "America/New_York", utc(2026, 11, 1, 4))
    assert first == utc(2026, 11, 1, 5, 30)
    assert next_fire("cron(30 1 * * ? *)", "America/New_York", first) == utc(2026, 11, 2, 6, 30)


def test_a_schedules_view_says_when_it_fires_next():
    from stepwise.schedules.service import Schedules

    item = {
        "id": "sch_1",
        "org_id": "acme",
        "name": "n",
        "expression": "rate(1 minute)",
        "timezone": "UTC",
        "workflow_id": "wf_1",
        "enabled": True,
        "overlap": "allow",
        "created_at": "2026-11-24T10:00:30+00:00",
        "updated_at": "2026-11-24T10:05:00+00:00",  # a PATCH does not move a rate's start
    }
    view = Schedules.view(item, now=utc(2026, 11, 24, 10, 6))
    assert view.next_fire_at == utc(2026, 11, 24, 10, 6, 30)
    assert (
        Schedules.view({**item, "enabled": False}, now=utc(2026, 11, 24, 10, 6)).next_fire_at
        is None
    )
    ended = {**item, "expression": "cron(0 12 * * ? 2020)"}
    assert Schedules.view(ended, now=utc(2026, 11, 24, 10, 6)).next_fire_at is None
