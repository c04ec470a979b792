"""The one place where local wall-clock times and UTC instants are converted.

Everything else in smspolicy computes in UTC. Zones are pytz zones; any ``tzinfo`` that names an
IANA zone (``zoneinfo.ZoneInfo``, pytz, ``datetime.timezone.utc``) is accepted at the edge.
Local times that do not exist (spring forward) or exist twice (fall back) are handled explicitly
by :func:`local_instants` and :func:`first_instant_at_or_after`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytz

from ._memo import lru
from .errors import InvalidInputError, NaiveDatetimeError, UnknownZoneError

UTC = dt.UTC

Zone = dt.tzinfo


MIN_INSTANT = dt.datetime(1900, 1, 1, tzinfo=UTC)
"""The earliest instant the API accepts."""

MAX_INSTANT = dt.datetime(3000, 1, 1, tzinfo=UTC)
"""The first instant past the range the API accepts: every window, cap and expiry computed from
an instant in range, with durations up to :data:`MAX_DURATION`, stays inside ``datetime``'s
own range."""

MAX_DURATION = dt.timedelta(days=36_600)
"""The longest duration the API accepts (about 100 years)."""


def as_utc(value: object, name: str = "datetime") -> dt.datetime:
    """Return ``value`` as an aware datetime in UTC, or raise a clear error; no range check.

    For instants the library computes itself from checked ones (a deferral's ``until``, a
    re-evaluation's ``now``), which may lie a little past :data:`MAX_INSTANT`.
    """
    if not isinstance(value, dt.datetime):
        raise InvalidInputError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is UTC:  # already what is asked for
        return value
    try:
        offset = value.utcoffset()
    except (ValueError, OverflowError) as error:  # a tzinfo that fails at this instant
        raise InvalidInputError(f"{name} {value!r} has no usable UTC offset: {error}") from None
    if offset is None:
        raise NaiveDatetimeError(
            f"{name} {value.isoformat()} is naive: give an aware datetime "
            "(for example datetime.now(timezone.utc))"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. year 1 at +05:00 is before datetime.min in UTC
        raise _out_of_range(name, value) from None


def _out_of_range(name: str, value: dt.datetime) -> InvalidInputError:
    return InvalidInputError(
        f"{name} {value.isoformat()} is outside the supported range "
        f"(from {MIN_INSTANT.date()} up to {MAX_INSTANT.date()}, UTC)"
    )


def ensure_aware(value: object, name: str = "datetime") -> dt.datetime:
    """Return ``value`` as an aware datetime in UTC, or raise a clear error.

    Every instant given to the API passes here. Raises
    :class:`~smspolicy.errors.NaiveDatetimeError` for a naive datetime and
    :class:`~smspolicy.errors.InvalidInputError` for anything that is not a datetime or lies
    outside [:data:`MIN_INSTANT`, :data:`MAX_INSTANT`).
    """
    instant = as_utc(value, name)
    if not MIN_INSTANT <= instant < MAX_INSTANT:
        raise _out_of_range(name, instant)
    return instant


def ensure_duration(value: object, name: str = "duration") -> dt.timedelta:
    """Return ``value`` if it is a positive timedelta of at most :data:`MAX_DURATION`, else raise
    a clear error."""
    if not isinstance(value, dt.timedelta):
        raise InvalidInputError(f"{name} must be a timedelta, got {type(value).__name__}")
    if value <= dt.timedelta(0):
        raise InvalidInputError(f"{name} must be positive, got {value}")
    if value > MAX_DURATION:
        raise InvalidInputError(f"{name} must be at most {MAX_DURATION.days} days, got {value}")
    return value


@lru(1024)
def _zone_by_name(name: str) -> Zone:
    try:
        return pytz.timezone(name)
    except pytz.UnknownTimeZoneError:
        raise UnknownZoneError(f"unknown time zone {name!r}: use an IANA name") from None


def zone(value: str | dt.tzinfo) -> Zone:
    """Return the pytz zone for an IANA name or for a tzinfo that names one."""
    if isinstance(value, str):
        return _zone_by_name(value)
    if isinstance(value, dt.tzinfo):
        return _zone_by_name(zone_name(value))
    raise InvalidInputError(f"a time zone must be an IANA name or tzinfo, got {value!r}")


def zone_name(value: dt.tzinfo) -> str:
    """Return the IANA name of a tzinfo (pytz, zoneinfo or ``timezone.utc``)."""
    if value is UTC or value is pytz.utc:
        return "UTC"
    name: Any = getattr(value, "zone", None) or getattr(value, "key", None)
    if isinstance(name, str):
        return name
    raise UnknownZoneError(
        f"{value!r} does not name an IANA zone: use zoneinfo.ZoneInfo or pytz.timezone"
    )


def to_local(instant: dt.datetime, tz: Zone) -> dt.datetime:
    """Return the aware local datetime for a UTC instant (pytz-correct, no ``localize``)."""
    return instant.astimezone(tz)


@lru(65536)
def local_instants(tz: Zone, local: dt.datetime) -> tuple[dt.datetime, ...]:
    """Return the UTC instants whose wall-clock reading in ``tz`` is the naive ``local``.

    Empty for a nonexistent local time (spring forward), two instants in order for a repeated
    one (fall back), one otherwise.
    """
    if local.tzinfo is not None:
        raise InvalidInputError("local_instants takes a naive wall-clock reading")
    localize = getattr(tz, "localize", None)
    if localize is None:  # a fixed-offset tzinfo
        return (local.replace(tzinfo=tz).astimezone(UTC),)
    try:
        return (localize(local, is_dst=None).astimezone(UTC),)
    except pytz.NonExistentTimeError:
        return ()
    except pytz.AmbiguousTimeError:
        first = localize(local, is_dst=True).astimezone(UTC)
        second = localize(local, is_dst=False).astimezone(UTC)
        return tuple(sorted((first, second)))


def first_instant_at_or_after(tz: Zone, local: dt.datetime) -> dt.datetime:
    """Return the earliest UTC instant whose wall-clock reading in ``tz`` is at or after ``local``.

    For a repeated time that is its first pass; for a nonexistent time it is the transition
    instant that ends the gap (the first existing instant after it).
    """
    instants = local_instants(tz, local)
    if instants:
        return instants[0]
    return _gap_end(tz, local)


@lru(4096)
def _gap_end(tz: Zone, local: dt.datetime) -> dt.datetime:
    localize = tz.localize  # type: ignore[attr-defined]
    low: dt.datetime = localize(local, is_dst=True).astimezone(UTC)
    high: dt.datetime = localize(local, is_dst=False).astimezone(UTC)
    low, high = min(low, high), max(low, high)
    # The offset changes exactly once between low and high; find that second.
    low_offset = low.astimezone(tz).utcoffset()
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(tz).utcoffset() == low_offset:
            low = middle
        else:
            high = middle
    return high


@lru(65536)
def day_switch_points(tz: Zone, day: dt.date) -> tuple[dt.datetime, ...]:
    """UTC instants on local date ``day`` at which the wall clock jumps: the day's first
    instant (local midnight, or the end of a gap) and any DST transition inside the day.

    Cached per (zone, local date), so the hot path never calls ``localize``.
    """
    start = first_instant_at_or_after(tz, dt.datetime.combine(day, dt.time()))
    end = first_instant_at_or_after(tz, dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))
    if end <= start:  # a date the clock skips (Samoa, 2011-12-30): its first instant only
        return (start,)
    points = [start]
    low, high = start, end
    # At most two transitions a day in practice; find each by bisection on the offset.
    while (
        low.astimezone(tz).utcoffset()
        != (high - dt.timedelta(seconds=1)).astimezone(tz).utcoffset()
    ):
        offset = low.astimezone(tz).utcoffset()
        lo, hi = low, high - dt.timedelta(seconds=1)
        while hi - lo > dt.timedelta(seconds=1):
            middle = (lo + (hi - lo) / 2).replace(microsecond=0)
            if middle.astimezone(tz).utcoffset() == offset:
                lo = middle
            else:
                hi = middle
        points.append(hi)
        low = hi
    return tuple(points)


@lru(65536)
def wall_instants(tz: Zone, day: dt.date, wall: dt.time) -> tuple[dt.datetime, ...]:
    """The UTC instants at which the wall clock of ``tz`` reads ``wall`` on ``day``; for a
    nonexistent reading, the first existing instant after it. Cached per (zone, date, time)."""
    local = dt.datetime.combine(day, wall)
    return local_instants(tz, local) or (_gap_end(tz, local),)
