"""metav1.Time and metav1.MicroTime: RFC 3339 in, canonical UTC out; the one home of time text.

Every package formats and reads timestamps here (no pydantic, so the node agent, the proxy and kctl
import it without the schemas): ``format_time``/``format_micro_time`` write what kube-apiserver stores,
``format_rfc3339_nano`` what Go's RFC3339Nano prints, ``parse_time`` reads any of them leniently (a
reader of stored objects treats an unreadable time as absent, it does not fail).

Why: Go's decoder parses with ``time.Parse(time.RFC3339, s)`` and the
encoder writes ``t.UTC().Format(...)``, so kube-apiserver stores
``2024-05-01T10:00:00Z`` whatever offset or fraction the client sent (Time
drops the fraction, MicroTime keeps six digits). A bad value fails the whole
request with Go's ``parsing time ...`` text, which we imitate.

MicroTime is looser than Go here on purpose: Go demands exactly the
``.000000`` layout for MicroTime, we accept any RFC 3339 value and print six
digits, so Python clients that send ``isoformat()`` output keep working.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, timezone

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"

_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z", re.ASCII)
_SHAPE = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:(Z)|([+-])(\d\d):(\d\d))\Z", re.ASCII
)
# layout elements in order: (layout text, literal prefix, digits, range checked while parsing)
_ELEMENTS: tuple[tuple[str, str, int, tuple[str, int, int] | None], ...] = (
    ("2006", "", 4, None),
    ("01", "-", 2, ("month", 1, 12)),
    ("02", "-", 2, None),  # Go checks the day against the month at the end
    ("15", "T", 2, ("hour", 0, 23)),
    ("04", ":", 2, ("minute", 0, 59)),
    ("05", ":", 2, ("second", 0, 59)),
)


def _digits(s: str) -> bool:
    return bool(s) and all(c in "0123456789" for c in s)


class TimeError(ValueError):
    """time.Parse failed; ``str(err)`` is Go's error text."""


def _err(value: str, layout: str, value_elem: str, layout_elem: str) -> TimeError:
    return TimeError(f'parsing time "{value}" as "{layout}": cannot parse "{value_elem}" as "{layout_elem}"')


def _explain(value: str, layout: str) -> TimeError:
    """Walk the layout like Go's time.parse to name the element that failed."""
    rest = value
    for elem, prefix, width, bounds in _ELEMENTS:
        if prefix:
            if not rest.startswith(prefix):
                return _err(value, layout, rest, prefix)
            rest = rest[len(prefix):]
        chunk = rest[:width]
        if len(chunk) < width or not _digits(chunk):
            return _err(value, layout, rest, elem)
        rest = rest[width:]
        if bounds is not None and not bounds[1] <= int(chunk) <= bounds[2]:
            return TimeError(f'parsing time "{value}": {bounds[0]} out of range')
    if rest[:1] == ".":
        digits = rest[1:]
        n = len(digits) - len(digits.lstrip("0123456789"))
        rest = digits[n:]
    if rest[:1] == "Z":
        rest = rest[1:]
    elif len(rest) < 6 or rest[0] not in "+-" or rest[3] != ":" or not _digits(rest[1:3] + rest[4:6]):
        return _err(value, layout, rest, "Z07:00")
    else:
        rest = rest[6:]
    if rest:
        return TimeError(f'parsing time "{value}": extra text: "{rest}"')
    return TimeError(f'parsing time "{value}": day out of range')


def _parse(value: str, layout: str) -> datetime:
    m = _SHAPE.match(value)
    if m is None:
        raise _explain(value, layout)
    year, month, day, hour, minute, second, frac, zulu, sign, oh, om = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz = UTC
    if not zulu:
        offset = timedelta(hours=int(oh), minutes=int(om))
        tz = timezone(-offset if sign == "-" else offset)
    try:
        t = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)
    except ValueError:
        raise _explain(value, layout) from None
    return t.astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def normalize_time(value: str) -> str:
    """Canonical metav1.Time text: UTC, whole seconds, ``Z``."""
    if (
        _CANONICAL.match(value)
        and "01" <= value[5:7] <= "12"
        and "01" <= value[8:10] <= "28"
        and value[11:13] <= "23"
        and value[14:16] <= "59"
        and value[17:19] <= "59"
    ):
        return value  # already canonical: skip the datetime round trip
    return _parse(value, RFC3339).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=4096)
def normalize_micro_time(value: str) -> str:
    """Canonical metav1.MicroTime text: UTC, six fractional digits, ``Z``."""
    return _parse(value, RFC3339_MICRO).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_time(t: datetime | None = None) -> str:
    """metav1.Time text of ``t`` (default now): second precision, UTC, ``Z``."""
    return (t or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(t: datetime | None = None) -> str:
    """metav1.MicroTime text of ``t`` (default now): ``2006-01-02T15:04:05.000000Z``."""
    return (t or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_rfc3339_nano(t: datetime) -> str:
    """Go's time.RFC3339Nano in UTC: fraction without trailing zeros, none when whole."""
    t = t.astimezone(UTC)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        base += "." + f"{t.microsecond:06d}".rstrip("0")
    return base + "Z"


def format_nano_time(t: datetime | None = None) -> str:
    """Nine fractional digits, as CRI log lines carry (Python keeps microseconds, so the last three are 0)."""
    t = (t or datetime.now(UTC)).astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z"


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp with up to nanoseconds (kept to microseconds), or None when it does not read.

    Lenient on purpose, unlike ``normalize_time``: readers of stored objects and log lines treat a
    missing or unreadable time as absent. A value without an offset is taken as UTC.
    """
    if not isinstance(value, str):
        return None
    s = value.strip()
    if not s:
        return None
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    head, dot, rest = s.partition(".")
    if dot:
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        s = head + "." + (digits + "000000")[:6] + rest[i:]
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)([a-zµμ]*)")


def parse_go_duration(text: str) -> float:
    """time.ParseDuration in seconds (``1h30m``, ``90s``, ``500ms``); ValueError with Go's message."""
    orig, s, sign = text, text, 1.0
    if s[:1] in "+-" and s:
        sign, s = (-1.0 if s[0] == "-" else 1.0), s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f'time: invalid duration "{orig}"')
    total = 0.0
    while s:
        m = _DURATION_PART.match(s)
        assert m is not None
        num, unit = m.group(1), m.group(2)
        if num in ("", "."):
            raise ValueError(f'time: invalid duration "{orig}"')
        if not unit:
            raise ValueError(f'time: missing unit in duration "{orig}"')
        if unit not in _DURATION_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{orig}"')
        total += float(num) * _DURATION_UNITS[unit]
        s = s[m.end():]
    return sign * total
