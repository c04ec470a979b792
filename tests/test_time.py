"""Local time <-> UTC conversion, including DST gaps and repeats."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import pytz

from smspolicy._time import (
    as_utc,
    ensure_aware,
    ensure_duration,
    first_instant_at_or_after,
    local_instants,
    to_local,
    zone,
    zone_name,
)
from smspolicy.errors import InvalidInputError, NaiveDatetimeError, UnknownZoneError

NY = zone("America/New_York")


def test_ensure_aware_converts_to_utc() -> None:
    """Aware datetimes come back in UTC; naive ones and non-datetimes raise clear errors."""
    local = dt.datetime(2025, 1, 15, 10, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    assert ensure_aware(local) == dt.datetime(2025, 1, 15, 15, tzinfo=dt.UTC)
    with pytest.raises(NaiveDatetimeError, match="naive"):
        ensure_aware(dt.datetime(2025, 1, 15))
    with pytest.raises(InvalidInputError):
        ensure_aware("2025-01-15")


def test_zone_accepts_names_and_tzinfos() -> None:
    """Zones may be named or given as zoneinfo, pytz or timezone.utc."""
    assert zone_name(zone(zoneinfo.ZoneInfo("Europe/Paris"))) == "Europe/Paris"
    assert zone_name(zone(pytz.timezone("Asia/Tokyo"))) == "Asia/Tokyo"
    assert zone_name(zone(dt.UTC)) == "UTC"
    with pytest.raises(UnknownZoneError):
        zone("Mars/Olympus")
    with pytest.raises(UnknownZoneError):
        zone(dt.timezone(dt.timedelta(hours=3)))


def test_nonexistent_local_time() -> None:
    """02:30 on spring-forward day does not exist; the first instant after it is 03:00 EDT."""
    gap = dt.datetime(2025, 3, 9, 2, 30)
    assert local_instants(NY, gap) == ()
    assert first_instant_at_or_after(NY, gap) == dt.datetime(2025, 3, 9, 7, 0, tzinfo=dt.UTC)


def test_repeated_local_time() -> None:
    """01:30 on fall-back day happens twice, an hour apart; the first pass comes first."""
    repeat = dt.datetime(2025, 11, 2, 1, 30)
    first, second = local_instants(NY, repeat)
    assert first == dt.datetime(2025, 11, 2, 5, 30, tzinfo=dt.UTC)
    assert second == first + dt.timedelta(hours=1)
    assert first_instant_at_or_after(NY, repeat) == first


def test_ordinary_local_time() -> None:
    """An ordinary local time has exactly one instant."""
    assert local_instants(NY, dt.datetime(2025, 7, 1, 8)) == (
        dt.datetime(2025, 7, 1, 12, tzinfo=dt.UTC),
    )


UTC = dt.UTC
MICROSECOND = dt.timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("instant", "accepted"),
    [
        (dt.datetime(1900, 1, 1, tzinfo=UTC), True),
        (dt.datetime(1899, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), False),
        (dt.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), True),
        (dt.datetime(3000, 1, 1, tzinfo=UTC), False),
        # The range is in UTC: 00:30 at +01:00 on 1900-01-01 is 23:30 UTC the day before.
        (dt.datetime(1900, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))), False),
        (dt.datetime(2999, 12, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-1))), False),
    ],
    ids=["first", "before-first", "last", "after-last", "first-at-plus-1h", "last-at-minus-1h"],
)
def test_supported_range_boundaries(instant: dt.datetime, accepted: bool) -> None:
    """ensure_aware accepts exactly 1900-01-01T00:00Z up to (not including) 3000-01-01T00:00Z."""
    if accepted:
        assert ensure_aware(instant) == instant
    else:
        with pytest.raises(InvalidInputError, match="outside the supported range"):
            ensure_aware(instant, "at")


@pytest.mark.parametrize(
    "instant",
    [
        dt.datetime.min.replace(tzinfo=dt.timezone(dt.timedelta(hours=5))),
        dt.datetime.max.replace(tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    ],
    ids=["min-at-plus-5h", "max-at-minus-5h"],
)
def test_instants_past_the_ends_of_datetime(instant: dt.datetime) -> None:
    """An instant whose UTC reading falls outside datetime's range is an InvalidInputError naming
    the argument and the range, not an OverflowError."""
    with pytest.raises(InvalidInputError) as info:
        ensure_aware(instant, "at")
    assert str(info.value) == (
        f"at {instant.isoformat()} is outside the supported range "
        "(from 1900-01-01 up to 3000-01-01, UTC)"
    )
    with pytest.raises(InvalidInputError, match="outside the supported range"):
        as_utc(instant, "at")


def test_as_utc_converts_without_a_range() -> None:
    """as_utc converts any aware instant datetime can hold, in or out of the supported range."""
    late = dt.datetime(3000, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert as_utc(late) == dt.datetime(3000, 1, 1, tzinfo=UTC)
    assert as_utc(dt.datetime(1, 1, 1, tzinfo=UTC)) == dt.datetime(1, 1, 1, tzinfo=UTC)
    with pytest.raises(NaiveDatetimeError):
        as_utc(dt.datetime(2025, 1, 1))
    with pytest.raises(InvalidInputError, match="now must be a datetime, got date"):
        as_utc(dt.date(2025, 1, 1), "now")


class _BrokenZone(dt.tzinfo):
    """A tzinfo whose offset cannot be computed."""

    def utcoffset(self, _when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(hours=30)  # more than a day: datetime refuses it

    def dst(self, _when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)


def test_a_tzinfo_that_fails_is_invalid_input() -> None:
    """A tzinfo whose utcoffset is unusable is an InvalidInputError, not a ValueError."""
    with pytest.raises(InvalidInputError, match="has no usable UTC offset"):
        ensure_aware(dt.datetime(2025, 1, 1, tzinfo=_BrokenZone()), "at")


@pytest.mark.parametrize(
    ("duration", "accepted"),
    [
        (dt.timedelta(days=36_600), True),
        (dt.timedelta(days=36_600, microseconds=1), False),
        (dt.timedelta(microseconds=1), True),
        (dt.timedelta(0), False),
        (dt.timedelta(days=-1), False),
        (dt.timedelta.max, False),
    ],
    ids=["longest", "past-longest", "shortest", "zero", "negative", "timedelta-max"],
)
def test_duration_boundaries(duration: dt.timedelta, accepted: bool) -> None:
    """ensure_duration accepts exactly the positive durations up to 36,600 days."""
    if accepted:
        assert ensure_duration(duration, "hold") == duration
    else:
        with pytest.raises(InvalidInputError, match=r"^hold must be"):
            ensure_duration(duration, "hold")


def test_duration_messages() -> None:
    """Each refusal says what is wrong."""
    with pytest.raises(InvalidInputError, match=r"^hold must be a timedelta, got int$"):
        ensure_duration(5, "hold")
    with pytest.raises(InvalidInputError, match=r"^hold must be positive, got 0:00:00$"):
        ensure_duration(dt.timedelta(0), "hold")
    with pytest.raises(
        InvalidInputError, match=r"^hold must be at most 36600 days, got 36601 days"
    ):
        ensure_duration(dt.timedelta(days=36_601), "hold")


def test_default_names_and_hints_in_messages() -> None:
    """Without a name the messages say "datetime" or "duration", and a naive datetime's message
    shows how to make an aware one."""
    with pytest.raises(NaiveDatetimeError) as naive:
        ensure_aware(dt.datetime(2025, 1, 15))
    assert str(naive.value) == (
        "datetime 2025-01-15T00:00:00 is naive: give an aware datetime "
        "(for example datetime.now(timezone.utc))"
    )
    with pytest.raises(InvalidInputError, match=r"^datetime must be a datetime, got str$"):
        as_utc("2025-01-15")
    with pytest.raises(InvalidInputError, match=r"^duration must be a timedelta, got int$"):
        ensure_duration(5)
    with pytest.raises(InvalidInputError) as early:
        ensure_aware(dt.datetime(1899, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "at")
    assert str(early.value) == (
        "at 1899-12-31T23:59:59.999999+00:00 is outside the supported range "
        "(from 1900-01-01 up to 3000-01-01, UTC)"
    )


def test_conversions_end_in_utc() -> None:
    """Converted instants carry datetime.UTC itself, whatever zone they came in."""
    paris = dt.datetime(2025, 7, 1, 12, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    assert ensure_aware(paris).tzinfo is UTC
    assert as_utc(paris).tzinfo is UTC
    assert as_utc(paris) == dt.datetime(2025, 7, 1, 10, tzinfo=UTC)


def test_zone_by_name_and_its_errors() -> None:
    """A zone name gives that pytz zone; anything else is refused with a clear message."""
    assert zone_name(zone("Asia/Tokyo")) == "Asia/Tokyo"
    with pytest.raises(InvalidInputError) as info:
        zone(5)  # type: ignore[arg-type]
    assert str(info.value) == "a time zone must be an IANA name or tzinfo, got 5"
    fixed = dt.timezone(dt.timedelta(hours=3))
    with pytest.raises(UnknownZoneError) as unnamed:
        zone_name(fixed)
    assert str(unnamed.value) == (
        f"{fixed!r} does not name an IANA zone: use zoneinfo.ZoneInfo or pytz.timezone"
    )


def test_to_local() -> None:
    """to_local reads a UTC instant on the zone's wall clock (15:00 UTC is 10:00 in New York)."""
    local = to_local(dt.datetime(2025, 1, 15, 15, tzinfo=UTC), NY)
    assert local.replace(tzinfo=None) == dt.datetime(2025, 1, 15, 10)
    assert zone_name(local.tzinfo) == "America/New_York"  # type: ignore[arg-type]


def test_day_switch_points_of_a_skipped_date() -> None:
    """Samoa skipped 2011-12-30 (24:00 -10:00 on the 29th became 00:00 +14:00 on the 31st, at
    10:00 UTC): that date's one switch point is the instant the next began, and the dates
    either side keep theirs."""
    from smspolicy._time import day_switch_points

    apia = pytz.timezone("Pacific/Apia")
    jump = dt.datetime(2011, 12, 30, 10, 0, tzinfo=dt.UTC)
    assert day_switch_points(apia, dt.date(2011, 12, 30)) == (jump,)
    assert day_switch_points(apia, dt.date(2011, 12, 31)) == (jump,)
    assert day_switch_points(apia, dt.date(2011, 12, 29)) == (
        dt.datetime(2011, 12, 29, 10, 0, tzinfo=dt.UTC),
    )
