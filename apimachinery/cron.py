"""Cron schedules as the CronJob API reads them: standard 5-field cron, descriptors, next run times.

Why our own: kube-apiserver validates ``spec.schedule`` with robfig/cron's ParseStandard and the
cronjob controller computes run times with it; users compare our 422 messages with a real cluster's, so
the grammar and the error texts are that parser's: minute hour day-of-month month day-of-week, each
``*``/``?``, ``N``, ``N-M``, ``*/S``, ``N/S``, ``N-M/S`` or a comma list of those, month and weekday
names (``jan``, ``mon``, case-insensitive), the descriptors ``@yearly`` (``@annually``), ``@monthly``,
``@weekly``, ``@daily`` (``@midnight``), ``@hourly`` and ``@every <duration>``, and an optional
``TZ=<zone>``/``CRON_TZ=<zone>`` prefix (the API refuses it; the timeZone field names the zone).
Day-of-month and day-of-week: when either is ``*`` both must match, otherwise either may (cron's rule).

Times are computed in a zone (zoneinfo) on wall-clock minutes: a wall time that does not exist (the
hour skipped when daylight saving time starts) is skipped; one that exists twice runs at its first.

Pure: no I/O but the tz database read by zoneinfo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apimachinery.timestamps import parse_go_duration

_MONTHS = {n: i + 1 for i, n in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                            "nov", "dec"))}
_DAYS = {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (min, max, names) per field: minute, hour, day of month, month, day of week
_BOUNDS: tuple[tuple[int, int, dict[str, int] | None], ...] = (
    (0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 6, _DAYS),
)
_GO_INT_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = (1 << 63) - 1
# The longest a search looks ahead for the next run: cron repeats within 4 years (Feb 29), plus slack.
_HORIZON_DAYS = 366 * 5


class CronError(ValueError):
    """A schedule that does not parse; the message is robfig/cron's."""


def _go_fields(fields: list[str]) -> str:
    return "[" + " ".join(fields) + "]"


def _must_parse_int(expr: str) -> int:
    """mustParseInt: strconv.Atoi, then no negatives."""
    if not _GO_INT_RE.fullmatch(expr):
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax')
    num = int(expr)
    if num > _INT64_MAX or num < -_INT64_MAX - 1:
        raise CronError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": value out of range')
    if num < 0:
        raise CronError(f"negative number ({num}) not allowed: {expr}")
    return num


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return _must_parse_int(expr)


def _range(expr: str, lo: int, hi: int, names: dict[str, int] | None) -> tuple[set[int], bool]:
    """getRange: the values of one comma-separated part, and whether it is a star (``*`` or ``*/1``)."""
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    single = len(low_high) == 1
    star = False
    if low_high[0] in ("*", "?"):
        start, end, star = lo, hi, True
    else:
        start = _int_or_name(low_high[0], names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _must_parse_int(range_and_step[1])
        if single:
            end = hi  # "N/step" means "N-max/step"
        if step > 1:
            star = False
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < lo:
        raise CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _field(text: str, index: int) -> tuple[frozenset[int], bool]:
    lo, hi, names = _BOUNDS[index]
    values: set[int] = set()
    star = False
    for part in [p for p in text.split(",") if p]:
        got, is_star = _range(part, lo, hi, names)
        values |= got
        star = star or is_star
    return frozenset(values), star


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: the allowed values per field, or a constant delay (``@every``)."""

    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    days_star: bool = False
    weekdays_star: bool = False
    every: float = 0.0  # seconds, for @every
    zone: str = ""  # from a TZ=/CRON_TZ= prefix

    def _day_matches(self, d: date) -> bool:
        dom = d.day in self.days
        dow = (d.isoweekday() % 7) in self.weekdays
        if self.days_star or self.weekdays_star:
            return dom and dow
        return dom or dow

    def next_after(self, t: datetime, tz: tzinfo) -> datetime | None:
        """The first run strictly after ``t`` (aware), in ``tz``; None when none within five years."""
        if self.every:
            step = max(1, int(self.every))  # robfig rounds the delay to whole seconds, at least one
            base = t.replace(microsecond=0)
            return base + timedelta(seconds=step)
        local = t.astimezone(tz)
        start = local.replace(second=0, microsecond=0, tzinfo=None) + timedelta(minutes=1)
        day = start.date()
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        for _ in range(_HORIZON_DAYS):
            if day.month in self.months and self._day_matches(day):
                for h in hours:
                    for m in minutes:
                        wall = datetime(day.year, day.month, day.day, h, m)
                        if wall < start:
                            continue
                        aware = _resolve(wall, tz)
                        if aware is not None and aware > t:
                            return aware
            day += timedelta(days=1)
        return None

    def times_between(self, earliest: datetime, now: datetime, tz: tzinfo, *, limit: int = 0) -> list[datetime]:
        """Every run in (earliest, now], oldest first; at most ``limit`` (0: no limit) + 1 are returned."""
        out: list[datetime] = []
        t = earliest
        while True:
            nxt = self.next_after(t, tz)
            if nxt is None or nxt > now:
                return out
            out.append(nxt)
            if limit and len(out) > limit:
                return out
            t = nxt


def _resolve(wall: datetime, tz: tzinfo) -> datetime | None:
    """The aware time of a wall-clock time in ``tz``; None when the wall time does not exist there."""
    aware = wall.replace(tzinfo=tz, fold=0)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return None
    return aware


def _all(index: int) -> frozenset[int]:
    lo, hi, _names = _BOUNDS[index]
    return frozenset(range(lo, hi + 1))


def _descriptor(spec: str, zone: str) -> Schedule:
    """parseDescriptor: the @-names, and ``@every <duration>``."""
    fixed = {
        "@yearly": ({0}, {0}, {1}, {1}),
        "@annually": ({0}, {0}, {1}, {1}),
        "@monthly": ({0}, {0}, {1}, None),
        "@weekly": ({0}, {0}, None, None),
        "@daily": ({0}, {0}, None, None),
        "@midnight": ({0}, {0}, None, None),
        "@hourly": ({0}, None, None, None),
    }
    if spec in fixed:
        mins, hours, days, months = fixed[spec]
        weekly = spec == "@weekly"
        return Schedule(
            minutes=frozenset(mins), hours=frozenset(hours) if hours is not None else _all(1),
            days=frozenset(days) if days is not None else _all(2),
            months=frozenset(months) if months is not None else _all(3),
            weekdays=frozenset({0}) if weekly else _all(4),
            days_star=days is None, weekdays_star=not weekly, zone=zone,
        )
    every = "@every "
    if spec.startswith(every):
        try:
            delay = parse_go_duration(spec[len(every):])
        except ValueError as e:
            raise CronError(f"failed to parse duration {spec}: {e}") from None
        return Schedule(every=delay if delay > 0 else 1.0, zone=zone)
    raise CronError(f"unrecognized descriptor: {spec}")


def parse(spec: str) -> Schedule:
    """ParseStandard: a Schedule, or CronError with robfig/cron's message."""
    if not spec:
        raise CronError("empty spec string")
    zone = ""
    if spec.startswith(("TZ=", "CRON_TZ=")):
        i, eq = spec.find(" "), spec.find("=")
        name = spec[eq + 1:i] if i >= 0 else spec[eq + 1:]
        if load_zone(name) is None:
            raise CronError(f"provided bad location {name}: unknown time zone {name}")
        zone = name
        spec = spec[i:].strip() if i >= 0 else ""
    if spec.startswith("@"):
        return _descriptor(spec, zone)
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {_go_fields(fields)}")
    parsed = [_field(f, i) for i, f in enumerate(fields)]
    return Schedule(minutes=parsed[0][0], hours=parsed[1][0], days=parsed[2][0], months=parsed[3][0],
                    weekdays=parsed[4][0], days_star=parsed[2][1], weekdays_star=parsed[4][1], zone=zone)


def load_zone(name: str) -> tzinfo | None:
    """time.LoadLocation: "" and "UTC" are UTC; an IANA name from the tz database; None when unknown."""
    if name in ("", "UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


__all__ = ["CronError", "Schedule", "load_zone", "parse"]
