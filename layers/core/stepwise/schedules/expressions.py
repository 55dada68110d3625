"""EventBridge Scheduler expressions: ``rate(...)`` and six-field ``cron(...)``, parsed, checked
and evaluated in a timezone exactly as the service documents them.

The API validates with it (a 422 names the field); the local stack fires schedules with it.
Cron fields: minutes hours day-of-month month day-of-week year, with ``, - * / ?`` everywhere
they are allowed, ``L`` and ``W`` in day-of-month, ``L`` and ``#`` in day-of-week. Exactly one of
day-of-month and day-of-week is ``?``. Daylight saving: a local time that does not exist is
skipped, one that occurs twice fires once (the first).
"""

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
WEEKDAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_LOOKAHEAD_YEARS = 30  # past this, an expression that matches nothing is treated as ended


class InvalidExpression(ValueError):
    """The expression or timezone is not one EventBridge Scheduler accepts (says why)."""


@dataclass(frozen=True)
class Rate:
    seconds: int

    def next_after(self, anchor: datetime, after: datetime) -> datetime:
        """The first fire strictly after ``after`` of a rate that started at ``anchor``."""
        if after < anchor:
            return anchor
        elapsed = (after - anchor).total_seconds()
        return anchor + timedelta(seconds=(int(elapsed // self.seconds) + 1) * self.seconds)


@dataclass(frozen=True)
class _Field:
    values: frozenset[int]  # plain matches
    any: bool = False  # '*' or '?'


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    years: frozenset[int] | None  # None: every year
    months: frozenset[int]
    days: _Field | None  # day-of-month (None when '?')
    last_day: bool = False  # 'L'
    last_weekday: bool = False  # 'LW'
    nearest_weekday: int | None = None  # 'nW'
    weekdays: _Field | None = None  # day-of-week (None when '?'); 1 = Sunday
    last_of: int | None = None  # 'nL': the last weekday n of the month
    nth: tuple[int, int] | None = None  # 'n#k': the k-th weekday n of the month

    def matches_day(self, day: date) -> bool:
        if self.years is not None and day.year not in self.years:
            return False
        if day.month not in self.months:
            return False
        last = calendar.monthrange(day.year, day.month)[1]
        if self.weekdays is None:  # day-of-month decides
            if self.last_day:
                return day.day == last
            if self.last_weekday:
                return day.day == _nearest_weekday(day.year, day.month, last)
            if self.nearest_weekday is not None:
                return day.day == _nearest_weekday(day.year, day.month, self.nearest_weekday)
            assert self.days is not None
            return self.days.any or day.day in self.days.values
        weekday = (day.isoweekday() % 7) + 1  # Sunday 1 ... Saturday 7
        if self.last_of is not None:
            return weekday == self.last_of and day.day + 7 > last
        if self.nth is not None:
            return weekday == self.nth[0] and (day.day - 1) // 7 + 1 == self.nth[1]
        return self.weekdays.any or weekday in self.weekdays.values

    def next_after(self, after: datetime, zone: ZoneInfo) -> datetime | None:
        """The first fire strictly after ``after`` (UTC), or None if there is none."""
        local = after.astimezone(zone)
        day = local.date()
        end = date(min(local.year + _LOOKAHEAD_YEARS, 2199), 12, 31)
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        while day <= end:
            if self.years is not None and day.year not in self.years:
                if day.year > max(self.years):
                    return None
                day = date(day.year + 1, 1, 1)
                continue
            if day.month not in self.months:
                day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
                continue
            if self.matches_day(day):
                for hour in hours:
                    for minute in minutes:
                        fire = _existing(datetime(day.year, day.month, day.day, hour, minute), zone)
                        if fire is not None and fire > after:
                            return fire
            day += timedelta(days=1)
        return None


Expression = Rate | Cron


def _existing(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a local wall time; None in a spring-forward gap (skipped)."""
    aware = wall.replace(tzinfo=zone, fold=0)
    instant = aware.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


def _nearest_weekday(year: int, month: int, day: int) -> int:
    """The weekday (Mon-Fri) nearest to ``day`` within the same month."""
    last = calendar.monthrange(year, month)[1]
    day = min(day, last)
    weekday = date(year, month, day).weekday()  # Monday 0
    if weekday == 5:  # Saturday: Friday before, or Monday after on the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: Monday after, or Friday before on the last day
        return day + 1 if day < last else day - 2
    return day


def parse(expression: str) -> Expression:
    """A rate or cron expression; InvalidExpression saying what is wrong."""
    text = expression.strip()
    if match := _RATE.match(text):
        value, unit = int(match.group(1)), match.group(2)
        if value < 1:
            raise InvalidExpression("a rate's value must be a positive integer")
        if value > 1 and not unit.endswith("s"):
            raise InvalidExpression(f"a rate of {value} needs a plural unit ({unit}s)")
        return Rate(value * _UNIT_SECONDS[unit.rstrip("s")])
    if match := _CRON.match(text):
        return _parse_cron(match.group(1))
    raise InvalidExpression(
        "expected rate(value unit) or cron(minutes hours day-of-month month day-of-week year)"
    )


def _parse_cron(body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise InvalidExpression(f"cron needs 6 fields, got {len(fields)}")
    minute, hour, dom, month, dow, year = (f.upper() for f in fields)
    if (dom == "?") == (dow == "?"):
        raise InvalidExpression("exactly one of day-of-month and day-of-week must be '?'")
    if "?" in (minute, hour, month, year):
        raise InvalidExpression("'?' is allowed only in day-of-month or day-of-week")
    cron: dict = {
        "minutes": _values(minute, 0, 59, "minutes"),
        "hours": _values(hour, 0, 23, "hours"),
        "months": _values(month, 1, 12, "month", MONTHS),
        "years": None if year == "*" else _values(year, 1970, 2199, "year"),
        "days": None,
    }
    if dow == "?":
        if dom == "L":
            cron["last_day"] = True
        elif dom == "LW":
            cron["last_weekday"] = True
        elif match := re.fullmatch(r"(\d{1,2})W", dom):
            cron["nearest_weekday"] = _bounded(int(match.group(1)), 1, 31, "day-of-month")
        else:
            cron["days"] = _field(dom, 1, 31, "day-of-month")
        return Cron(**cron)
    if dow == "L":
        cron["last_of"] = 7
    elif match := re.fullmatch(r"(\w{1,3})L", dow):
        cron["last_of"] = _one(match.group(1), 1, 7, "day-of-week", WEEKDAYS)
    elif match := re.fullmatch(r"(\w{1,3})#(\d)", dow):
        weekday = _one(match.group(1), 1, 7, "day-of-week", WEEKDAYS)
        cron["nth"] = (weekday, _bounded(int(match.group(2)), 1, 5, "day-of-week '#'"))
    else:
        cron["weekdays"] = _field(dow, 1, 7, "day-of-week", WEEKDAYS)
    if "weekdays" not in cron:
        cron["weekdays"] = _Field(frozenset())
    return Cron(**cron)


def _field(text: str, low: int, high: int, name: str, names: dict | None = None) -> _Field:
    if text == "*":
        return _Field(frozenset(range(low, high + 1)), any=True)
    return _Field(_values(text, low, high, name, names))


def _values(text: str, low: int, high: int, name: str, names: dict | None = None) -> frozenset:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) < 1:
                raise InvalidExpression(f"{name}: bad increment in {text!r}")
            step = int(step_text)
            # EventBridge: '*/N' and 'a/N' are every N from the field's low bound (or a) to its
            # high bound; 'a-b/N' stops at b.
            if part == "*":
                part = f"{low}-{high}"
            elif "-" not in part:
                part = f"{part}-{high}"
        if part == "*":
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _one(first, low, high, name, names), _one(last, low, high, name, names)
            if end < start:
                raise InvalidExpression(f"{name}: range {part!r} runs backwards")
        else:
            start = end = _one(part, low, high, name, names)
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _one(text: str, low: int, high: int, name: str, names: dict | None = None) -> int:
    if names and text in names:
        return names[text]
    if not text.isdigit():
        raise InvalidExpression(f"{name}: {text!r} is not a value")
    return _bounded(int(text), low, high, name)


def _bounded(value: int, low: int, high: int, name: str) -> int:
    if not low <= value <= high:
        raise InvalidExpression(f"{name}: {value} is outside {low}-{high}")
    return value


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: str) -> ZoneInfo:
    """The IANA timezone; InvalidExpression if it is not one."""
    if name not in _zones():
        raise InvalidExpression(f"{name!r} is not an IANA timezone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidExpression(f"{name!r} is not an IANA timezone name") from exc


def next_fire(
    expression: str, timezone: str, after: datetime, anchor: datetime | None = None
) -> datetime | None:
    """When a schedule fires next after ``after``; a rate counts from ``anchor`` (its start)."""
    parsed = parse(expression)
    if isinstance(parsed, Rate):
        return parsed.next_after(anchor or after, after)
    return parsed.next_after(after, zone(timezone))
