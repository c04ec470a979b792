"""Local time <-> UTC conversion, including DST gaps and repeats."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import pytz

from smspolicy._time import (
    ensure_aware,
    first_instant_at_or_after,
    local_instants,
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
