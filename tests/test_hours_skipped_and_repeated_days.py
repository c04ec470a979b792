"""Sending-window openings where the clock skips a whole local date or passes a local midnight
twice: the spans of a day and the next opening read off them."""

from __future__ import annotations

import datetime as dt

import pytest
import pytz

from smspolicy import Engine, Message, Policy, Verdict
from smspolicy import rules as R
from smspolicy.rules import _hours
from smspolicy.testing import FrozenClock

DAILY = _hours.Window(((dt.time(8), dt.time(21)),) * 7)
UNTIL_MIDNIGHT = _hours.Window(((dt.time(8), dt.time(0)),) * 7)  # 08:00-00:00 every day
WHOLE_DAYS_BUT_SUNDAY = _hours.Window(((dt.time(0), dt.time(0)),) * 6 + (None,))


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)  # type: ignore[misc]


# Zones that skipped a whole local date: the clock went from the end of the day before to the
# start of the day after (offsets from the IANA database).
SKIPPED = [
    # Samoa, 2011-12-29 24:00 -10:00 became 2011-12-31 00:00 +14:00 (10:00 UTC).
    pytest.param(
        "Pacific/Apia",
        dt.date(2011, 12, 30),
        utc(2011, 12, 30, 8),
        utc(2011, 12, 30, 18),
        id="apia",
    ),
    # Kwajalein, 1993-08-20 24:00 -12:00 became 1993-08-22 00:00 +12:00 (12:00 UTC).
    pytest.param(
        "Pacific/Kwajalein",
        dt.date(1993, 8, 21),
        utc(1993, 8, 21, 10),
        utc(1993, 8, 21, 20),
        id="kwajalein",
    ),
    # Kiritimati, 1994-12-30 24:00 -10:00 became 1995-01-01 00:00 +14:00 (10:00 UTC).
    pytest.param(
        "Pacific/Kiritimati",
        dt.date(1994, 12, 31),
        utc(1994, 12, 31, 8),
        utc(1994, 12, 31, 18),
        id="kiritimati",
    ),
]


@pytest.mark.parametrize(("name", "skipped", "now", "opening"), SKIPPED)
def test_a_skipped_date_has_no_spans(
    name: str, skipped: dt.date, now: dt.datetime, opening: dt.datetime
) -> None:
    """A local date the clock never shows has no openings (it is no error)."""
    assert _hours.spans(DAILY, pytz.timezone(name), skipped) == ()


@pytest.mark.parametrize(("name", "skipped", "now", "opening"), SKIPPED)
def test_next_open_crosses_a_skipped_date(
    name: str, skipped: dt.date, now: dt.datetime, opening: dt.datetime
) -> None:
    """At 22:00 on the day before the skipped date, an 08:00-21:00 window next opens at 08:00
    on the day after it."""
    tz = pytz.timezone(name)
    assert now.astimezone(tz).date() == skipped - dt.timedelta(days=1)
    assert _hours.next_open(DAILY, tz, now) == opening


def test_a_samoan_deferral_over_the_skipped_day() -> None:
    """A message to a Samoa-only recipient at 22:00 on 2011-12-29 is deferred to 08:00 on
    2011-12-31 (18:00 UTC), not an error."""
    rule = R.sending_window("08:00", "21:00", fallback_zones=["Pacific/Apia"])
    at = utc(2011, 12, 30, 8)
    engine = Engine(Policy(rule, name="hours"), clock=FrozenClock(at))
    decision = engine.evaluate(Message("+18005550123", "news", "marketing"))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == utc(2011, 12, 30, 18)


# Clocks that fell back one hour at 00:01 to 23:01 the day before (Newfoundland, Labrador,
# 2010-11-07, a Sunday): Sunday's first minute, then Saturday's 23:01-23:59 again, then Sunday's
# midnight a second time. (zone, Sunday's first instant, the fall, Sunday's second midnight,
# Sunday 08:00, Monday's midnight), all in UTC.
FELL_BACK_OVER_MIDNIGHT = [
    pytest.param(
        "America/St_Johns",  # -02:30 to -03:30
        utc(2010, 11, 7, 2, 30),
        utc(2010, 11, 7, 2, 31),
        utc(2010, 11, 7, 3, 30),
        utc(2010, 11, 7, 11, 30),
        utc(2010, 11, 8, 3, 30),
        id="st-johns",
    ),
    pytest.param(
        "America/Goose_Bay",  # -03:00 to -04:00
        utc(2010, 11, 7, 3),
        utc(2010, 11, 7, 3, 1),
        utc(2010, 11, 7, 4),
        utc(2010, 11, 7, 12),
        utc(2010, 11, 8, 4),
        id="goose-bay",
    ),
]
SUNDAY = dt.date(2010, 11, 7)


@pytest.mark.parametrize(
    ("name", "first", "fall", "midnight", "eight", "monday"), FELL_BACK_OVER_MIDNIGHT
)
def test_spans_end_at_a_midnight_the_clock_reaches_again(
    name: str,
    first: dt.datetime,
    fall: dt.datetime,
    midnight: dt.datetime,
    eight: dt.datetime,
    monday: dt.datetime,
) -> None:
    """With 08:00-00:00 every day, Saturday's repeated 23:01-23:59 is open and closes at
    Sunday's second midnight; Sunday opens again at 08:00. With whole days but Sunday, only
    the repeated Saturday hour is open."""
    tz = pytz.timezone(name)
    assert _hours.day_switch_points(tz, SUNDAY) == (first, fall)
    assert _hours.spans(UNTIL_MIDNIGHT, tz, SUNDAY) == ((fall, midnight), (eight, monday))
    assert _hours.spans(WHOLE_DAYS_BUT_SUNDAY, tz, SUNDAY) == ((fall, midnight),)


@pytest.mark.parametrize(
    ("name", "first", "fall", "midnight", "eight", "monday"), FELL_BACK_OVER_MIDNIGHT
)
def test_next_open_after_a_midnight_the_clock_reaches_again(
    name: str,
    first: dt.datetime,
    fall: dt.datetime,
    midnight: dt.datetime,
    eight: dt.datetime,
    monday: dt.datetime,
) -> None:
    """Fifteen minutes after Sunday's second midnight the window is closed, and it next opens
    at Sunday 08:00 (with whole days but Sunday, on Monday)."""
    tz = pytz.timezone(name)
    now = midnight + dt.timedelta(minutes=15)
    assert not _hours._inside(UNTIL_MIDNIGHT, tz, now)
    assert _hours.next_open(UNTIL_MIDNIGHT, tz, now) == eight
    assert _hours.next_open(UNTIL_MIDNIGHT, tz, midnight) == eight
    assert _hours.next_open(UNTIL_MIDNIGHT, tz, midnight - dt.timedelta(microseconds=1)) == (
        midnight - dt.timedelta(microseconds=1)
    )
    assert _hours.next_open(WHOLE_DAYS_BUT_SUNDAY, tz, now) == monday


@pytest.mark.parametrize(
    ("name", "first", "fall", "midnight", "eight", "monday"), FELL_BACK_OVER_MIDNIGHT
)
def test_spans_where_midnight_comes_twice_against_every_second(
    name: str,
    first: dt.datetime,
    fall: dt.datetime,
    midnight: dt.datetime,
    eight: dt.datetime,
    monday: dt.datetime,
) -> None:
    """Every second of Sunday's instants is in Sunday's spans exactly when its wall-clock
    reading is inside the window."""
    tz = pytz.timezone(name)
    found = _hours.spans(UNTIL_MIDNIGHT, tz, SUNDAY)
    wrong = []
    instant = first
    while instant < monday:
        held = any(opened <= instant < closed for opened, closed in found)
        if held != _hours._inside(UNTIL_MIDNIGHT, tz, instant):
            wrong.append(instant)
        instant += dt.timedelta(seconds=1)
    assert wrong == []


def test_a_newfoundland_deferral_after_the_second_midnight() -> None:
    """A message to a Newfoundland-only recipient at 00:15 NST on Sunday 2010-11-07 (after the
    clock fell back over midnight) under an 08:00-00:00 window is deferred to 08:00 NST, not to
    the instant it was sent."""
    rule = R.sending_window("08:00", "00:00", fallback_zones=["America/St_Johns"])
    at = utc(2010, 11, 7, 3, 45)
    engine = Engine(Policy(rule, name="hours"), clock=FrozenClock(at))
    decision = engine.evaluate(Message("+18005550123", "news", "marketing"))
    assert decision.verdict is Verdict.DEFER
    assert decision.until == utc(2010, 11, 7, 11, 30)
