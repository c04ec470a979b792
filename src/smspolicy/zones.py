"""Time-zone helpers for code and tests that work with recipients' local time.

Zones are IANA names (``"America/New_York"``); ``zone`` turns a name, or any ``tzinfo`` that
names one (pytz or zoneinfo), into the tzinfo smspolicy computes with, and ``local_time``
reads an aware instant on a zone's wall clock.
"""

from __future__ import annotations

import datetime as dt

from ._time import Zone, ensure_aware, to_local, zone, zone_name

__all__ = ["Zone", "local_time", "zone", "zone_name"]


def local_time(instant: dt.datetime, name: str | dt.tzinfo) -> dt.datetime:
    """The aware ``instant`` on the wall clock of the zone ``name`` (an IANA name or tzinfo);
    a naive ``instant`` raises :class:`smspolicy.errors.NaiveDatetimeError`."""
    return to_local(ensure_aware(instant, "instant"), zone(name))
